package print

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

func sink(t *testing.T, opts map[string]string, subtask, p int) *Sink {
	t.Helper()
	o := map[string]string{"connector": "print"}
	for k, v := range opts {
		o[k] = v
	}
	f, err := Connector{}.NewSink(&connectors.Table{Name: "out", Options: o, RowtimeCol: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !f.AcceptsUpdates() {
		t.Fatal("print accepts updates")
	}
	s, err := f.Create(subtask, p)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Sink)
}

func TestPrint(t *testing.T) {
	var out bytes.Buffer
	old := Output
	Output = &out
	defer func() { Output = old }()

	b := &types.Batch{}
	b.Append(types.Row{types.BigIntValue(1001), types.TimestampValue(1767225600000), types.StringValue("foo")}, types.Insert)
	b.Append(types.Row{types.BigIntValue(7), {}, types.DecimalValue(1250, 2)}, types.UpdateBefore)
	b.Append(types.Row{types.BoolValue(true), types.DoubleValue(0.5), types.IntValue(-3)}, types.Delete)

	cases := []struct {
		opts    map[string]string
		subtask int
		p       int
		prefix  string
	}{
		{nil, 0, 1, ""},
		{map[string]string{"print-identifier": "counts"}, 0, 1, "counts> "},
		{nil, 1, 4, "2> "},
		{map[string]string{"print-identifier": "x"}, 3, 4, "x:4> "},
	}
	for _, c := range cases {
		out.Reset()
		s := sink(t, c.opts, c.subtask, c.p)
		if err := s.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(); err != nil {
			t.Fatal(err)
		}
		want := c.prefix + "+I[1001, 2026-01-01 00:00:00.000, foo]\n" +
			c.prefix + "-U[7, NULL, 12.50]\n" +
			c.prefix + "-D[true, 0.5, -3]\n"
		if out.String() != want {
			t.Errorf("got\n%s\nwant\n%s", out.String(), want)
		}
	}

	// parallel subtasks never interleave within a line
	out.Reset()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := sink(t, nil, i, 4)
			for k := 0; k < 100; k++ {
				s.Write(b)
			}
		}(i)
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4*100*3 {
		t.Errorf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, "]") || strings.Count(l, ">") != 1 {
			t.Fatalf("mangled line %q", l)
		}
	}

	if _, err := (Connector{}).NewSource(&connectors.Table{Name: "out"}); err == nil ||
		err.Error() != "table out: connector 'print' is a sink only; it cannot be read" {
		t.Errorf("got %v", err)
	}
	if _, err := (Connector{}).NewSink(&connectors.Table{Name: "out", Options: map[string]string{"connector": "print", "path": "x"}}); err == nil {
		t.Error("unknown option must fail")
	}
}
