package blackhole

import (
	"sync"
	"testing"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

func TestBlackhole(t *testing.T) {
	c, err := connectors.Lookup("BLACKHOLE")
	if err != nil {
		t.Fatal(err)
	}
	tbl := &connectors.Table{Name: "sink", Options: map[string]string{"connector": "blackhole"}, RowtimeCol: -1}
	f, err := c.NewSink(tbl)
	if err != nil {
		t.Fatal(err)
	}
	if !f.AcceptsUpdates() || f.MaxParallelism() != 0 {
		t.Fatal("blackhole takes updates at any parallelism")
	}
	before := TotalRows()
	b := &types.Batch{}
	b.Append(types.Row{types.BigIntValue(1)}, types.Insert)
	b.Append(types.Row{types.BigIntValue(1)}, types.UpdateBefore)
	b.Append(types.Row{types.BigIntValue(2)}, types.UpdateAfter)
	var wg sync.WaitGroup
	sinks := make([]*Sink, 4)
	for i := range sinks {
		s, err := f.Create(i, 4)
		if err != nil {
			t.Fatal(err)
		}
		sinks[i] = s.(*Sink)
		wg.Add(1)
		go func(s *Sink) {
			defer wg.Done()
			for k := 0; k < 1000; k++ {
				if err := s.Write(b); err != nil {
					t.Error(err)
				}
			}
			if err := s.Finish(); err != nil {
				t.Error(err)
			}
		}(sinks[i])
	}
	wg.Wait()
	if got := f.(*SinkFactory).Rows(); got != 12000 {
		t.Errorf("factory rows %d", got)
	}
	if got := sinks[2].Rows(); got != 3000 {
		t.Errorf("sink rows %d", got)
	}
	if got := TotalRows() - before; got != 12000 {
		t.Errorf("total rows %d", got)
	}
	if _, err := c.NewSource(tbl); err == nil || err.Error() != "table sink: connector 'blackhole' is a sink only; it cannot be read" {
		t.Errorf("got %v", err)
	}
	tbl.Options["x"] = "1"
	if _, err := c.NewSink(tbl); err == nil {
		t.Error("unknown option must fail")
	}
}
