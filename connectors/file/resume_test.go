package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirsql/weir/connectors/internal/sourcetest"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// resumeFiles writes files that exercise the line reader: a BOM, CRLF,
// empty lines, records that do not decode, a line longer than the read
// buffer, a last line without a newline, an empty file, and a file whose
// last lines are all bad.
func resumeFiles(t *testing.T) (dir string, sizes map[string]int64) {
	dir = t.TempDir()
	long := strings.Repeat("x", readBufferSize+12345)
	files := map[string]string{
		"a.json": "\xEF\xBB\xBF{\"id\":1}\r\n{\"id\":2}\r\n\r\n{\"id\":\"bad\"}\n{\"id\":3}\n{\"id\":4}\n\n{\"id\":5}\n{\"id\":6}\n{\"id\":7}",
		"b.json": "{\"id\":10,\"name\":\"" + long + "\"}\n{\"id\":11}\n{\"id\":12,\"name\":\"" + long + "\"}\n{\"id\":13}\n{\"id\":14}\n",
		"c.json": "",
		"d.json": "{\"id\":20}\n{\"id\":21}\n{\"id\":22}\n{\"id\":23}\nnot json\n\n{\"id\":\"x\"}\n",
		"e.json": "\n\n{\"id\":30}\n{\"id\":31}\n{\"id\":32}\n{\"id\":33}\n{\"id\":34}\n{\"id\":35}\n{\"id\":36}\n",
	}
	sizes = map[string]int64{}
	for name, content := range files {
		p := filepath.Join(dir, name)
		write(t, p, content)
		sizes[p] = int64(len(content))
	}
	return dir, sizes
}

// perFile splits what a parallelism-1 run delivered up to a snapshot into
// rows per file (files are read one after the other).
func perFileCounts(files []string, full *sourcetest.Output, upto int) map[string]int {
	counts := map[string]int{}
	for _, f := range files {
		n := min(upto, len(full.Rows[f]))
		counts[f] = n
		upto -= n
	}
	return counts
}

// Resuming from any recorded position, at the same or another parallelism,
// yields for every file exactly the rows the uninterrupted run yielded
// after it, and a finished run's positions are the files' sizes.
func TestSourceResumeEqualsUninterrupted(t *testing.T) {
	dir, sizes := resumeFiles(t)
	f := newSource(t, map[string]string{"path": dir, "format": "json", "on-error": "skip", "batch-size": "2"})
	src, _ := f.Create(0, 1)
	if got := src.(exec.Resumable).SplitNames(); !slices.Equal(got, f.Files()) {
		t.Fatalf("split names %v, want the files %v", got, f.Files())
	}
	full, err := sourcetest.Run(src, nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.All) != 23 || len(full.Snapshots) < 12 {
		t.Fatalf("%d rows, %d snapshots", len(full.All), len(full.Snapshots))
	}
	for _, file := range f.Files() {
		if want := sizes[file]; want > 0 && full.Pos[file] != want || !full.Done[file] {
			t.Errorf("%s: final position %d, size %d, done %v", file, full.Pos[file], sizes[file], full.Done[file])
		}
	}
	// the bad lines at the end of d.json moved its position with SetPosition
	d := filepath.Join(dir, "d.json")
	last := full.Snapshots[len(full.Snapshots)-1]
	if last.Pos[d] != sizes[d] {
		t.Errorf("d.json ends at %d, size %d", last.Pos[d], sizes[d])
	}
	for k, snap := range append([]sourcetest.Snapshot{{Pos: map[string]int64{}}}, full.Snapshots...) {
		counts := perFileCounts(f.Files(), full, snap.Rows)
		for _, p := range []int{1, 2, 3} {
			got := map[string][]string{}
			for i := 0; i < p; i++ {
				src, _ := f.Create(i, p)
				out, err := sourcetest.Run(src, snap.Pos, 0, false)
				if err != nil {
					t.Fatalf("snapshot %d, subtask %d of %d: %v", k, i, p, err)
				}
				for _, file := range src.(*Source).Files() {
					if !out.Done[file] {
						t.Fatalf("snapshot %d: %s not done", k, file)
					}
					got[file] = strings.Split(rowsText(out.Rows[file]), "\n")
				}
			}
			for _, file := range f.Files() {
				want := strings.Split(rowsText(full.Rows[file][counts[file]:]), "\n")
				if !slices.Equal(got[file], want) {
					t.Fatalf("snapshot %d (%v) at parallelism %d: %s gave %d rows, want %d:\n%.200q\nwant\n%.200q",
						k, snap.Pos, p, filepath.Base(file), len(got[file])-1, len(want)-1, got[file], want)
				}
			}
		}
	}
}

// Line numbers in errors count the lines before the resume position, and a
// CSV file's header is not skipped again after it.
func TestSourceResumeLineNumbers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	content := "{\"id\":1}\n\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n{\"id\":5}\n\n{\"id\":\"bad\"}\n"
	write(t, path, content)
	f := newSource(t, map[string]string{"path": path, "format": "json", "batch-size": "2"})
	pos := map[string]int64{path: int64(strings.Index(content, "{\"id\":4}"))} // line 6
	src, _ := f.Create(0, 1)
	out, err := sourcetest.Run(src, pos, 0, false)
	if want := "file " + path + ` line 8: column id: cannot decode "bad" as BIGINT`; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if got := rowsText(out.All); got != "[4, NULL, NULL, NULL]\n[5, NULL, NULL, NULL]\n" {
		t.Errorf("emitted %q", got)
	}

	csvPath := filepath.Join(dir, "x.csv")
	csv := "id,name,price,ts\n1,a,1,2026-01-01\n2,b,2,2026-01-01\n3,c,3,2026-01-01\n3,c\n"
	write(t, csvPath, csv)
	f = newSource(t, map[string]string{"path": csvPath, "format": "csv", "csv.header": "true", "batch-size": "1"})
	src, _ = f.Create(0, 1)
	out, err = sourcetest.Run(src, map[string]int64{csvPath: int64(strings.Index(csv, "2,b"))}, 0, false)
	if want := "file " + csvPath + " line 5: expected 4 fields, got 2"; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if got := rowsText(out.All); !strings.HasPrefix(got, "[2, 'b', 2.00") || strings.Count(got, "\n") != 2 {
		t.Errorf("rows after the resume position: %q", got)
	}
	// a header-only prefix: resuming right after the header still decodes the next line
	src, _ = f.Create(0, 1)
	out, _ = sourcetest.Run(src, map[string]int64{csvPath: int64(strings.Index(csv, "1,a"))}, 0, false)
	if got := rowsText(out.All); !strings.HasPrefix(got, "[1, 'a', 1.00") || strings.Count(got, "\n") != 3 {
		t.Errorf("rows after the header: %q", got)
	}
}

// A file at its end emits nothing and is done; the others are read.
func TestSourceResumeAtEnd(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	write(t, a, "{\"id\":1}\n{\"id\":2}") // no newline at the end
	write(t, b, "{\"id\":3}\n")
	f := newSource(t, map[string]string{"path": dir, "format": "json"})
	src, _ := f.Create(0, 1)
	out, err := sourcetest.Run(src, map[string]int64{a: 17}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rows[a]) != 0 || !out.Done[a] || !out.Done[b] || rowsText(out.All) != "[3, NULL, NULL, NULL]\n" {
		t.Errorf("rows %q done %v", rowsText(out.All), out.Done)
	}
	// the finished file keeps its position for the next checkpoint
	if out.Pos[a] != 17 || out.Pos[b] != 9 {
		t.Errorf("positions %v", out.Pos)
	}
}

func TestSourceResumeErrors(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	write(t, a, "{\"id\":1}\n{\"id\":2}\n") // 18 bytes
	f := newSource(t, map[string]string{"path": dir, "format": "json"})
	for _, tc := range []struct {
		pos  map[string]int64
		want string
	}{
		{map[string]int64{a: 5120}, "file source: checkpoint offset 5120 is beyond the end of " + a + " (18 bytes); the file changed since the checkpoint"},
		{map[string]int64{a: 4}, "file source: checkpoint offset 4 of " + a + " (18 bytes) is not at the start of a line; the file changed since the checkpoint"},
		{map[string]int64{a: -1}, "file source: checkpoint offset -1 of " + a + " is negative"},
		{map[string]int64{a: 9, filepath.Join(dir, "gone.jsonl"): 7}, "file source: the checkpoint read " + filepath.Join(dir, "gone.jsonl") + " up to byte 7, but path '" + dir + "' no longer lists it"},
	} {
		src, _ := f.Create(0, 1)
		if err := src.(exec.Resumable).Resume(tc.pos); err == nil || err.Error() != tc.want {
			t.Errorf("%v:\n got  %v\n want %s", tc.pos, err, tc.want)
		}
	}
	// a subtask that does not read the file still checks the names, not the offsets
	// (the owner does); a file that shrinks after Resume fails in Run
	src, _ := f.Create(0, 1)
	if err := src.(exec.Resumable).Resume(map[string]int64{a: 18}); err != nil {
		t.Fatal(err)
	}
	write(t, a, "{\"id\":1}\n")
	_, err := sourcetest.Run(src, nil, 0, false)
	if want := "file source: checkpoint offset 18 is beyond the end of " + a + " (9 bytes); the file changed since the checkpoint"; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	write(t, a, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n")
	src, _ = f.Create(0, 1)
	if err := src.(exec.Resumable).Resume(map[string]int64{a: 9}); err != nil {
		t.Fatal(err)
	}
	write(t, a, "{\"id\":12}\n{\"id\":3}\n")
	if _, err := sourcetest.Run(src, nil, 0, false); err == nil || !strings.Contains(err.Error(), "checkpoint offset 9 of "+a+" is not at the start of a line") {
		t.Errorf("got %v", err)
	}
}

// ---------------------------------------------------------------- sink

func ckptSink(t *testing.T, path string, opts map[string]string) *Sink {
	t.Helper()
	o := map[string]string{"path": path, "format": "json"}
	for k, v := range opts {
		o[k] = v
	}
	sf, err := Connector{}.NewSink(table(o))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sf.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Sink)
}

func start(t *testing.T, s *Sink, mode exec.DeliveryMode, handles ...[]byte) {
	t.Helper()
	var rec []exec.SinkHandle
	for _, h := range handles {
		rec = append(rec, exec.SinkHandle{Subtask: 0, Data: h})
	}
	if err := s.StartCheckpointing(mode, rec); err != nil {
		t.Fatal(err)
	}
}

// rowsFrom writes rows with ids from..from+n-1.
func writeIDs(t *testing.T, s *Sink, from, n int) {
	t.Helper()
	rows := sampleRows(from + n)[from:]
	if err := s.Write(&types.Batch{Rows: rows}); err != nil {
		t.Fatal(err)
	}
}

func preCommit(t *testing.T, s *Sink, id uint64) []byte {
	t.Helper()
	h, err := s.PreCommit(id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ids returns the ids of a JSON-lines file, "missing" if there is none.
func ids(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "missing"
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		id, _, ok := strings.Cut(strings.TrimPrefix(line, `{"id":`), ",")
		if !ok {
			id = "?" + line
		}
		out = append(out, id)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		out = append(out, "(partial)")
	}
	return strings.Join(out, " ")
}

// entries lists the directory's file names.
func entries(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// Exactly-once: nothing is visible before Commit; Commit appends what was
// pre-committed for checkpoints up to its id (an aborted checkpoint's rows
// with the next one), only once; rows after a barrier wait for the next;
// Finish commits the rest. One file, no leftovers.
func TestSinkExactlyOnceCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	write(t, path, "old\n")
	os.Chmod(path, 0o600)
	write(t, filepath.Join(dir, ".out.json.pending-0-7"), "stale\n")
	write(t, filepath.Join(dir, ".out.json.tmp-123"), "stale\n")
	s := ckptSink(t, path, nil)
	start(t, s, exec.DeliveryExactlyOnce)
	if got := entries(t, dir); got != "out.json" {
		t.Fatalf("after a fresh start: %s", got)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("a fresh start must empty the file and keep its mode: %v %v", fi.Size(), fi.Mode())
	}
	writeIDs(t, s, 0, 2)
	preCommit(t, s, 1)
	writeIDs(t, s, 2, 1)
	if got := ids(t, path); got != "" {
		t.Fatalf("visible before Commit: %s", got)
	}
	if got := entries(t, dir); got != ".out.json.pending-0-8 .out.json.pending-0-9 out.json" {
		t.Fatalf("pending files: %s", got)
	}
	if err := s.Commit(1); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, path); got != "0 1" {
		t.Fatalf("after Commit(1): %s", got)
	}
	preCommit(t, s, 2) // its Commit never comes: checkpoint 2 aborted
	preCommit(t, s, 3) // nothing written since 2
	writeIDs(t, s, 3, 2)
	h4 := preCommit(t, s, 4)
	var h sinkHandle
	if err := json.Unmarshal(h4, &h); err != nil {
		t.Fatal(err)
	}
	committed, _ := os.ReadFile(path)
	p9, _ := os.ReadFile(filepath.Join(dir, ".out.json.pending-0-9"))
	p10, _ := os.ReadFile(filepath.Join(dir, ".out.json.pending-0-10"))
	if h.Path != path || h.Base != int64(len(committed)) || len(h.Pending) != 2 ||
		h.Pending[0] != (pendingFile{File: ".out.json.pending-0-9", Length: int64(len(p9))}) ||
		h.Pending[1] != (pendingFile{File: ".out.json.pending-0-10", Length: int64(len(p10))}) ||
		strings.Count(string(p9), "\n") != 1 || strings.Count(string(p10), "\n") != 2 {
		t.Fatalf("handle %s", h4)
	}
	writeIDs(t, s, 5, 1)
	for range 2 { // idempotent
		if err := s.Commit(4); err != nil {
			t.Fatal(err)
		}
		if got := ids(t, path); got != "0 1 2 3 4" {
			t.Fatalf("after Commit(4): %s", got)
		}
	}
	if err := s.Commit(2); err != nil { // late and covered already
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, path); got != "0 1 2 3 4 5" {
		t.Fatalf("after Finish: %s", got)
	}
	if got := entries(t, dir); got != "out.json" {
		t.Fatalf("left behind: %s", got)
	}
	if err := s.Commit(9); err != nil {
		t.Errorf("Commit after Finish: %v", err)
	}
}

// A savepoint (checkpoint 2) is pre-committed before checkpoint 1's
// Commit: Commit(1) appends only the rows before barrier 1. After a crash,
// the restore from checkpoint 1 leaves exactly those rows and removes the
// pending file of checkpoint 2, which the checkpoint does not name; the
// replayed rows then appear once.
func TestSinkPreCommitWhilePending(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	s := ckptSink(t, path, nil)
	start(t, s, exec.DeliveryExactlyOnce)
	writeIDs(t, s, 0, 2)
	h1 := preCommit(t, s, 1)
	writeIDs(t, s, 2, 3) // after barrier 1
	preCommit(t, s, 2)   // the savepoint, while 1 is pending
	if err := s.Commit(1); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, path); got != "0 1" {
		t.Fatalf("after Commit(1): %s, want only the rows before barrier 1", got)
	}
	writeIDs(t, s, 5, 1)
	if err := s.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); got != ".out.json.pending-0-1 .out.json.pending-0-2 out.json" {
		t.Fatalf("before the crash: %s", got)
	}
	// crash: checkpoint 2 never completes; restore from 1
	s = ckptSink(t, path, nil)
	start(t, s, exec.DeliveryExactlyOnce, h1)
	if got := ids(t, path); got != "0 1" {
		t.Fatalf("restored from checkpoint 1: %s", got)
	}
	if got := entries(t, dir); got != "out.json" {
		t.Fatalf("left behind after the restore: %s", got)
	}
	writeIDs(t, s, 2, 4) // the source replays what followed barrier 1
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, path); got != "0 1 2 3 4 5" {
		t.Fatalf("after the restored run: %s", got)
	}
}

// checkpointed runs a sink to a handle: rows 0-1 committed with checkpoint
// 1, rows 2-3 pre-committed with checkpoint 2 (not committed), rows 4-5
// written after it. The instance is then dropped, as in a crash.
func checkpointed(t *testing.T, path string) (h2 []byte, pending2 string) {
	s := ckptSink(t, path, nil)
	start(t, s, exec.DeliveryExactlyOnce)
	writeIDs(t, s, 0, 2)
	preCommit(t, s, 1)
	if err := s.Commit(1); err != nil {
		t.Fatal(err)
	}
	writeIDs(t, s, 2, 2)
	h2 = preCommit(t, s, 2)
	writeIDs(t, s, 4, 2)
	if err := s.w.Flush(); err != nil { // rows 4-5 reached their pending file
		t.Fatal(err)
	}
	return h2, filepath.Join(filepath.Dir(path), s.pending[0].File)
}

// A new instance restored with a handle makes the file exactly what the
// checkpoint committed, whatever the crash left: the pending file not yet
// appended, appended but not removed, half appended, appended and removed
// (with later data after it), and it removes every other pending file.
func TestSinkRecovery(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, path, pending string, h2 []byte)
	}{
		{"pre-committed", func(t *testing.T, path, pending string, h2 []byte) {}},
		{"appended, not removed", func(t *testing.T, path, pending string, h2 []byte) {
			data, _ := os.ReadFile(pending)
			appendFile(t, path, string(data))
		}},
		{"half appended", func(t *testing.T, path, pending string, h2 []byte) {
			data, _ := os.ReadFile(pending)
			appendFile(t, path, string(data[:len(data)/2]))
		}},
		{"committed, then more", func(t *testing.T, path, pending string, h2 []byte) {
			data, _ := os.ReadFile(pending)
			appendFile(t, path, string(data)+`{"id":99}`+"\n")
			os.Remove(pending)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.json")
			h2, pending := checkpointed(t, path)
			tc.crash(t, path, pending, h2)
			s := ckptSink(t, path, nil)
			start(t, s, exec.DeliveryExactlyOnce, h2)
			if got := ids(t, path); got != "0 1 2 3" {
				t.Fatalf("restored: %s", got)
			}
			if got := entries(t, dir); got != "out.json" {
				t.Fatalf("left behind: %s", got)
			}
			// the restored run goes on; recovery is idempotent
			writeIDs(t, s, 4, 1)
			preCommit(t, s, 3)
			s2 := ckptSink(t, path, nil)
			start(t, s2, exec.DeliveryExactlyOnce, h2)
			start2 := ids(t, path)
			writeIDs(t, s2, 10, 1)
			if err := s2.Finish(); err != nil {
				t.Fatal(err)
			}
			if got := ids(t, path); start2 != "0 1 2 3" || got != "0 1 2 3 10" {
				t.Fatalf("second restore: %s, then %s", start2, got)
			}
		})
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// A handle naming two pending files (checkpoint 1's commit had not come
// when 2 was taken) restores both, also when the first was committed and
// removed before the crash.
func TestSinkRecoveryTwoPending(t *testing.T) {
	for _, commitFirst := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.json")
		s := ckptSink(t, path, nil)
		start(t, s, exec.DeliveryExactlyOnce)
		writeIDs(t, s, 0, 1)
		preCommit(t, s, 1)
		writeIDs(t, s, 1, 2)
		h2 := preCommit(t, s, 2)
		if commitFirst {
			if err := s.Commit(1); err != nil {
				t.Fatal(err)
			}
		}
		s = ckptSink(t, path, nil)
		start(t, s, exec.DeliveryExactlyOnce, h2)
		if got := ids(t, path); got != "0 1 2" {
			t.Errorf("commit first %v: %s", commitFirst, got)
		}
		if got := entries(t, dir); got != "out.json" {
			t.Errorf("left behind: %s", got)
		}
	}
}

// Restoring fails, saying what is missing, when the file or a pending file
// no longer holds what the checkpoint recorded.
func TestSinkRecoveryErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	h2, pending := checkpointed(t, path)
	data, _ := os.ReadFile(path)
	base := len(data)
	pdata, _ := os.ReadFile(pending)
	for _, tc := range []struct {
		name   string
		damage func()
		want   string
	}{
		{"file shorter than base", func() { os.Truncate(path, 3) },
			fmt.Sprintf("file sink %s: cannot restore: the file has 3 bytes, fewer than the %d committed at the checkpoint; it changed since", path, base)},
		{"file gone", func() { os.Remove(path) },
			fmt.Sprintf("file sink %s: cannot restore: the file is gone, but the checkpoint recorded %d committed bytes", path, base)},
		{"pending gone, not appended", func() { os.Remove(pending) },
			fmt.Sprintf("file sink %s: cannot restore: pending file %s of the checkpoint is gone, but the file has %d bytes, fewer than the %d it had once that was appended; it changed since",
				path, filepath.Base(pending), base, base+len(pdata))},
		{"pending truncated", func() { os.Truncate(pending, 5) },
			fmt.Sprintf("file sink %s: cannot restore: pending file %s has 5 bytes, but the checkpoint recorded %d", path, filepath.Base(pending), len(pdata))},
	} {
		write(t, path, string(data))
		write(t, pending, string(pdata))
		tc.damage()
		s := ckptSink(t, path, nil)
		err := s.StartCheckpointing(exec.DeliveryExactlyOnce, []exec.SinkHandle{{Data: h2}})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got  %v\n want %s", tc.name, err, tc.want)
		}
		s.Abort()
	}
	other := ckptSink(t, filepath.Join(dir, "other.json"), nil)
	if err := other.StartCheckpointing(exec.DeliveryExactlyOnce, []exec.SinkHandle{{Data: h2}}); err == nil ||
		err.Error() != "file sink "+filepath.Join(dir, "other.json")+": cannot restore: the checkpoint's handle is for file "+path {
		t.Errorf("got %v", err)
	}
	if err := other.StartCheckpointing(exec.DeliveryExactlyOnce, []exec.SinkHandle{{Data: []byte("{")}}); err == nil ||
		!strings.Contains(err.Error(), "cannot restore: bad checkpoint handle") {
		t.Errorf("got %v", err)
	}
	s := ckptSink(t, filepath.Join(dir, "x.json"), nil)
	writeIDs(t, s, 0, 1)
	if err := s.StartCheckpointing(exec.DeliveryExactlyOnce, nil); err == nil {
		t.Error("StartCheckpointing after Write must fail")
	}
	s.Abort()
	s = ckptSink(t, filepath.Join(dir, "x.json"), nil)
	start(t, s, exec.DeliveryExactlyOnce)
	if err := s.StartCheckpointing(exec.DeliveryExactlyOnce, nil); err == nil {
		t.Error("StartCheckpointing twice must fail")
	}
	s.Abort()
}

// Abort keeps what was committed, removes the rows since the last barrier,
// and keeps pre-committed pending files for a restore from their
// checkpoint (whose commit may not have come yet).
func TestSinkAbortWithCheckpoints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	s := ckptSink(t, path, nil)
	start(t, s, exec.DeliveryExactlyOnce)
	writeIDs(t, s, 0, 1)
	preCommit(t, s, 1)
	s.Commit(1)
	writeIDs(t, s, 1, 1)
	h2 := preCommit(t, s, 2)
	writeIDs(t, s, 2, 1)
	s.Abort()
	s.Abort()
	if got := ids(t, path); got != "0" {
		t.Errorf("after Abort: %s", got)
	}
	if got := entries(t, dir); got != ".out.json.pending-0-1 out.json" {
		t.Errorf("after Abort: %s", got)
	}
	if err := s.Write(&types.Batch{Rows: sampleRows(1)}); err == nil {
		t.Error("Write after Abort must fail")
	}
	s = ckptSink(t, path, nil)
	start(t, s, exec.DeliveryExactlyOnce, h2)
	if got := ids(t, path); got != "0 1" {
		t.Errorf("restored after Abort: %s", got)
	}
}

// At-least-once: rows go straight to the file; PreCommit syncs and records
// its length; a restore cuts what came after the checkpoint (rows that will
// be produced again), so nothing is lost and nothing repeats.
func TestSinkAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	opts := map[string]string{"format": "csv", "csv.header": "true"}
	s := ckptSink(t, path, opts)
	start(t, s, exec.DeliveryAtLeastOnce)
	writeIDs(t, s, 0, 2)
	h1 := preCommit(t, s, 1)
	if err := s.Commit(1); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if lines := strings.Split(string(data), "\n"); len(lines) != 4 || lines[0] != "id,name,price,ts" || !strings.HasPrefix(lines[2], "1,") {
		t.Fatalf("after PreCommit: %q", data)
	}
	writeIDs(t, s, 2, 2)
	s.w.Flush() // reached the file, then the job failed
	s2 := ckptSink(t, path, opts)
	start(t, s2, exec.DeliveryAtLeastOnce, h1)
	if got, _ := os.ReadFile(path); string(got) != string(data) {
		t.Fatalf("restored: %q, want %q", got, data)
	}
	writeIDs(t, s2, 2, 3)
	if err := s2.Finish(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if lines := strings.Split(string(got), "\n"); len(lines) != 7 || strings.Count(string(got), "id,name") != 1 || !strings.HasPrefix(lines[5], "4,") {
		t.Errorf("after Finish: %q", got)
	}
	if got := entries(t, dir); got != "out.csv" {
		t.Errorf("left behind: %s", got)
	}
	// an exactly-once handle restores in at-least-once mode too, and back
	h, _ := checkpointed(t, filepath.Join(dir, "eo.json"))
	s3 := ckptSink(t, filepath.Join(dir, "eo.json"), nil)
	start(t, s3, exec.DeliveryAtLeastOnce, h)
	writeIDs(t, s3, 7, 1)
	h3 := preCommit(t, s3, 3)
	s4 := ckptSink(t, filepath.Join(dir, "eo.json"), nil)
	start(t, s4, exec.DeliveryExactlyOnce, h3)
	if err := s4.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, filepath.Join(dir, "eo.json")); got != "0 1 2 3 7" {
		t.Errorf("mixed modes: %s", got)
	}
}

// With a CSV header, a checkpointing sink writes it once at a fresh start
// and never again on a restore.
func TestSinkCheckpointHeader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	opts := map[string]string{"format": "csv", "csv.header": "true"}
	s := ckptSink(t, path, opts)
	start(t, s, exec.DeliveryExactlyOnce)
	if got, _ := os.ReadFile(path); string(got) != "id,name,price,ts\n" {
		t.Fatalf("fresh start: %q", got)
	}
	writeIDs(t, s, 0, 1)
	h := preCommit(t, s, 1)
	s = ckptSink(t, path, opts)
	start(t, s, exec.DeliveryExactlyOnce, h)
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); strings.Count(string(got), "id,name") != 1 || strings.Count(string(got), "\n") != 2 {
		t.Errorf("after restore: %q", got)
	}
}
