package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// collector is a SourceOutput that keeps everything it is given.
type collector struct {
	rows   map[int][]types.Row // by split
	sizes  []int
	done   []int
	cancel context.CancelFunc // called after the first batch if set
}

func (c *collector) Emit(split int, b *types.Batch) error {
	if c.rows == nil {
		c.rows = map[int][]types.Row{}
	}
	for _, d := range c.done {
		if d == split {
			return fmt.Errorf("emit on split %d after SplitDone", split)
		}
	}
	c.rows[split] = append(c.rows[split], b.Rows...)
	c.sizes = append(c.sizes, b.Len())
	if c.cancel != nil {
		c.cancel()
	}
	return nil
}

func (c *collector) SplitDone(split int) { c.done = append(c.done, split) }

func (c *collector) all() []types.Row {
	var out []types.Row
	for s := 0; s < len(c.rows)+len(c.done); s++ {
		out = append(out, c.rows[s]...)
	}
	return out
}

func schema() types.Schema {
	return types.Schema{Cols: []types.Column{
		{Name: "id", Type: types.TBigInt},
		{Name: "name", Type: types.TVarchar},
		{Name: "price", Type: types.TDecimal(10, 2)},
		{Name: "ts", Type: types.TTimestamp},
	}}
}

func table(opts map[string]string) *connectors.Table {
	o := map[string]string{"connector": "file"}
	for k, v := range opts {
		o[k] = v
	}
	return &connectors.Table{Name: "t", Schema: schema(), Options: o, RowtimeCol: -1}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newSource(t *testing.T, opts map[string]string) *SourceFactory {
	t.Helper()
	f, err := Connector{}.NewSource(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	return f.(*SourceFactory)
}

// runSource runs subtask i of p and returns what it emitted.
func runSource(t *testing.T, f *SourceFactory, i, p int) (*collector, *Source, error) {
	t.Helper()
	src, err := f.Create(i, p)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	err = src.Run(context.Background(), c)
	return c, src.(*Source), err
}

func rowsText(rows []types.Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintln(&b, r)
	}
	return b.String()
}

func sampleRows(n int) []types.Row {
	rows := make([]types.Row, n)
	for i := range rows {
		name := types.StringValue(fmt.Sprintf("name \"%d\", ok", i))
		if i%7 == 3 {
			name = types.Value{}
		}
		rows[i] = types.Row{types.BigIntValue(int64(i)), name, types.DecimalValue(int64(i*101-500), 2), types.TimestampValue(1767225600000 + int64(i)*37)}
	}
	return rows
}

func writeWithSink(t *testing.T, opts map[string]string, rows []types.Row) {
	t.Helper()
	sf, err := Connector{}.NewSink(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	if sf.AcceptsUpdates() || sf.MaxParallelism() != 1 {
		t.Fatal("file sink must be append-only with parallelism 1")
	}
	s, err := sf.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for len(rows) > 0 { // in batches of 100
		n := min(100, len(rows))
		if err := s.Write(&types.Batch{Rows: rows[:n]}); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
	}{
		{"json", map[string]string{"format": "json"}},
		{"csv", map[string]string{"format": "csv"}},
		{"csv-header-tab", map[string]string{"format": "csv", "csv.header": "true", "csv.delimiter": `\t`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out."+tc.opts["format"])
			tc.opts["path"] = path
			rows := sampleRows(2500)
			writeWithSink(t, tc.opts, rows)
			f := newSource(t, tc.opts)
			if f.MaxParallelism() != 1 || !f.Bounded() {
				t.Fatal("one bounded file")
			}
			c, src, err := runSource(t, f, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rowsText(c.all()), rowsText(rows); got != want {
				t.Fatalf("round trip differs:\n%.300s\nwant\n%.300s", got, want)
			}
			if fmt.Sprint(c.sizes) != "[1024 1024 452]" || fmt.Sprint(c.done) != "[0]" || src.Splits() != 1 {
				t.Errorf("batches %v, done %v", c.sizes, c.done)
			}
			data, _ := os.ReadFile(path)
			if tc.opts["csv.header"] == "true" && !strings.HasPrefix(string(data), "id\tname\tprice\tts\n") {
				t.Errorf("no header: %.40q", data)
			}
			if tc.name == "json" && !strings.HasPrefix(string(data), `{"id":0,"name":"name \"0\", ok","price":-5.00,"ts":"2026-01-01 00:00:00.000"}`+"\n") {
				t.Errorf("json file: %.100q", data)
			}
		})
	}
}

func TestSubtasksAndLines(t *testing.T) {
	dir := t.TempDir()
	// five files: CRLF, a last line without newline, empty lines, a BOM
	write(t, filepath.Join(dir, "a.json"), "\xEF\xBB\xBF{\"id\":1}\r\n{\"id\":2}\r\n")
	write(t, filepath.Join(dir, "b.json"), "{\"id\":3}\n\n\n{\"id\":4}")
	write(t, filepath.Join(dir, "c.json"), "")
	write(t, filepath.Join(dir, "d.json"), "{\"id\":5}\n\r\n")
	write(t, filepath.Join(dir, "e.json"), "{\"id\":6}")
	write(t, filepath.Join(dir, ".hidden"), "garbage")
	write(t, filepath.Join(dir, "_SUCCESS"), "")
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	f := newSource(t, map[string]string{"path": dir, "format": "json", "batch-size": "1"})
	if got := len(f.Files()); got != 5 || f.MaxParallelism() != 5 {
		t.Fatalf("files %v", f.Files())
	}
	var ids [2][]string
	for i := 0; i < 2; i++ {
		c, src, err := runSource(t, f, i, 2)
		if err != nil {
			t.Fatal(err)
		}
		for s := 0; s < src.Splits(); s++ {
			for _, r := range c.rows[s] {
				ids[i] = append(ids[i], fmt.Sprintf("%s:%v", filepath.Base(src.Files()[s]), r[0]))
			}
		}
		if len(c.done) != src.Splits() {
			t.Errorf("subtask %d: SplitDone %v for %d splits", i, c.done, src.Splits())
		}
	}
	// round robin over the sorted files: a, c, e to subtask 0; b, d to 1
	if got := fmt.Sprint(ids); got != "[[a.json:1 a.json:2 e.json:6] [b.json:3 b.json:4 d.json:5]]" {
		t.Errorf("got %s", got)
	}
	// glob
	f = newSource(t, map[string]string{"path": filepath.Join(dir, "[ab].json"), "format": "json"})
	if got := len(f.Files()); got != 2 {
		t.Errorf("glob files %v", f.Files())
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.json")
	write(t, path, "{\"id\":1}\n\n{\"id\":\"x\"}\n{\"id\":2,}\n{\"id\":3}\n")
	_, _, err := runSource(t, newSource(t, map[string]string{"path": path, "format": "json"}), 0, 1)
	if want := "file " + path + ` line 3: column id: cannot decode "x" as BIGINT`; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	f := newSource(t, map[string]string{"path": path, "format": "json", "on-error": "skip"})
	c, src, err := runSource(t, f, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.all()) != 2 || src.Skipped() != 2 || f.Skipped() != 2 {
		t.Errorf("rows %v skipped %d/%d", c.all(), src.Skipped(), f.Skipped())
	}

	csvPath := filepath.Join(dir, "bad.csv")
	write(t, csvPath, "id,name,price,ts\n1,a,1.5,2026-01-01\n2,b\n")
	_, _, err = runSource(t, newSource(t, map[string]string{"path": csvPath, "format": "csv", "csv.header": "true"}), 0, 1)
	if want := "file " + csvPath + " line 3: expected 4 fields, got 2"; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}

	missing := filepath.Join(dir, "nope")
	bad := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"path": missing, "format": "json"}, "table t: path '" + missing + "' does not exist"},
		{map[string]string{"path": filepath.Join(dir, "*.xml"), "format": "json"}, "table t: path '" + filepath.Join(dir, "*.xml") + "' matches no files"},
		{map[string]string{"format": "json"}, "table t: connector 'file' needs option 'path'"},
		{map[string]string{"path": path}, "table t: connector 'file' needs option 'format' (csv or json)"},
		{map[string]string{"path": path, "format": "xml"}, "table t: unknown format 'xml' (valid: csv, json)"},
		{map[string]string{"path": path, "format": "json", "on-error": "ignore"}, "table t: option 'on-error' must be 'fail' or 'skip', got 'ignore'"},
		{map[string]string{"path": path, "format": "json", "batch-size": "0"}, "table t: option 'batch-size' must be an integer in [1, 1048576], got '0'"},
		{map[string]string{"path": path, "format": "json", "csv.delimiter": ";"}, "table t: unknown option 'csv.delimiter' for connector 'file' (valid: batch-size, csv.header, format, include-op, json.path.id, json.path.name, json.path.price, json.path.ts, on-error, path)"},
	}
	for _, b := range bad {
		if _, err := (Connector{}).NewSource(table(b.opts)); err == nil || err.Error() != b.want {
			t.Errorf("%v:\n got  %v\n want %s", b.opts, err, b.want)
		}
	}
	if _, err := (Connector{}).NewSink(table(map[string]string{"path": filepath.Join(missing, "x.json"), "format": "json"})); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Errorf("sink in a missing directory: %v", err)
	}
	if _, err := (Connector{}).NewSink(table(map[string]string{"path": dir, "format": "json"})); err == nil ||
		!strings.Contains(err.Error(), "is a directory") {
		t.Errorf("sink on a directory: %v", err)
	}
}

func TestCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.json")
	write(t, path, strings.Repeat("{\"id\":1}\n", 5000))
	f := newSource(t, map[string]string{"path": path, "format": "json"})
	src, _ := f.Create(0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{cancel: cancel}
	if err := src.Run(ctx, c); !errors.Is(err, context.Canceled) || len(c.sizes) != 1 {
		t.Errorf("got %v after %d batches", err, len(c.sizes))
	}
}

func TestSinkAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	write(t, path, "old\n")
	sf, err := Connector{}.NewSink(table(map[string]string{"path": path, "format": "json"}))
	if err != nil {
		t.Fatal(err)
	}
	// Abort keeps the old file and leaves no temporary file
	s, _ := sf.Create(0, 1)
	if err := s.Write(&types.Batch{Rows: sampleRows(10)}); err != nil {
		t.Fatal(err)
	}
	if tmp := s.(*Sink).TempPath(); filepath.Dir(tmp) != dir || !strings.HasPrefix(filepath.Base(tmp), ".out.json.tmp-") {
		t.Errorf("temp file %s", tmp)
	}
	s.Abort()
	s.Abort()
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("old file changed: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if err := s.Finish(); err == nil {
		t.Error("Finish after Abort must fail")
	}
	// nothing visible before Finish; Finish replaces
	s, _ = sf.Create(0, 1)
	if err := s.Write(&types.Batch{Rows: sampleRows(3)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("visible before Finish: %q", got)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); strings.Count(string(got), "\n") != 3 || !strings.HasPrefix(string(got), `{"id":0,`) {
		t.Errorf("after Finish: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	// Abort with no previous file leaves nothing
	p2 := filepath.Join(dir, "new.csv")
	sf2, _ := Connector{}.NewSink(table(map[string]string{"path": p2, "format": "csv"}))
	s, _ = sf2.Create(0, 1)
	s.Write(&types.Batch{Rows: sampleRows(3)})
	s.Abort()
	if _, err := os.Stat(p2); !os.IsNotExist(err) {
		t.Errorf("aborted sink left %s: %v", p2, err)
	}
	// updates are refused
	s, _ = sf.Create(0, 1)
	b := &types.Batch{}
	b.Append(sampleRows(1)[0], types.Delete)
	if err := s.Write(b); err == nil || err.Error() != "file sink "+path+": got a -D row, but the file connector is append-only" {
		t.Errorf("got %v", err)
	}
	s.Abort()
	if _, err := sf.Create(0, 2); err == nil {
		t.Error("parallelism 2 must fail")
	}
}

var _ exec.SourceOutput = (*collector)(nil)

// AddSplit and SplitIdle complete exec.SourceOutput; these sources have a
// fixed set of splits and never go idle.
func (*collector) AddSplit() int       { panic("unexpected AddSplit") }
func (*collector) SplitIdle(split int) {}

// Skipped records are reported through exec.StatusAware at the end of Run,
// and a NULL in the WATERMARK column is a record error with file and line.
func TestSkipStatusAndNullRowtime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ts.json")
	write(t, path, "{\"id\":1,\"ts\":\"2026-01-01 00:00:01\"}\n{\"id\":2}\n{\"id\":\"x\",\"ts\":\"2026-01-01 00:00:02\"}\n")
	tab := table(map[string]string{"path": path, "format": "json"})
	tab.RowtimeCol = tab.Schema.Index("ts")
	f, err := Connector{}.NewSource(tab)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = runSource(t, f.(*SourceFactory), 0, 1)
	if want := "file " + path + " line 2: column ts: NULL in the event-time column (WATERMARK FOR ts)"; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}

	tab.Options["on-error"] = "skip"
	f, err = Connector{}.NewSource(tab)
	if err != nil {
		t.Fatal(err)
	}
	src, err := f.(*SourceFactory).Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var status []string
	src.(exec.StatusAware).SetStatusFunc(func(s string) { status = append(status, s) })
	c := &collector{}
	if err := src.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	want := "skipped 2 record(s) that did not decode (on-error = 'skip'), the first: file " + path + " line 2: column ts: NULL in the event-time column (WATERMARK FOR ts)"
	if len(c.all()) != 1 || len(status) != 1 || status[0] != want {
		t.Errorf("rows %v status %q\nwant %q", c.all(), status, want)
	}
}
