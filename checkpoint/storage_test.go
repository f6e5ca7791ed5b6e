package checkpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var taskA, taskB = TaskID{"agg", 0}, TaskID{"src", 0}

// commit writes checkpoint id with one state file per task and commits it.
func commit(t *testing.T, s *DirStorage, id uint64, kind Kind, parents ...uint64) Checkpoint {
	t.Helper()
	trigger := epoch.Add(time.Duration(id) * time.Second)
	loc, err := s.Create(id, kind, trigger)
	if err != nil {
		t.Fatal(err)
	}
	md := Metadata{
		Version: MetadataVersion, ID: id, Kind: kind, Full: len(parents) == 0, Parents: parents,
		TriggerTime: trigger, CompleteTime: trigger.Add(time.Second),
	}
	for _, task := range []TaskID{taskA, taskB} {
		h, err := s.WriteFile(loc, task.Vertex+"-"+string(rune('0'+task.Subtask))+".state",
			strings.NewReader(strings.Repeat("x", int(id)*10)))
		if err != nil {
			t.Fatal(err)
		}
		tm := TaskMetadata{Task: task, SyncDur: time.Millisecond, AsyncDur: 2 * time.Millisecond, Bytes: h.Size, Handles: []StateHandle{h}}
		if task == taskB {
			tm.SourcePositions = []SourcePosition{{Source: "orders", Partition: 1, Offset: int64(id) * 100}}
		}
		md.Tasks = append(md.Tasks, tm)
		md.BytesIncremental += h.Size
	}
	md.BytesFull = md.BytesIncremental
	if err := s.Commit(loc, md); err != nil {
		t.Fatal(err)
	}
	return Checkpoint{Location: loc, Metadata: md}
}

func newStorage(t *testing.T) *DirStorage {
	t.Helper()
	s, err := NewDirStorage(filepath.Join(t.TempDir(), "ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func listing(t *testing.T, s *DirStorage) string {
	t.Helper()
	es, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, e := range es {
		rel, _ := filepath.Rel(s.Root(), e.Dir)
		if !e.Complete {
			rel += "(incomplete)"
		}
		parts = append(parts, filepath.ToSlash(rel))
	}
	return strings.Join(parts, " ")
}

func TestStorageCommitOpen(t *testing.T) {
	s := newStorage(t)
	want := commit(t, s, 1, KindCheckpoint)
	got, err := s.Open(want.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// times come back from JSON without a monotonic reading; compare as JSON
	wj, _ := json.Marshal(want.Metadata)
	gj, _ := json.Marshal(got.Metadata)
	if string(wj) != string(gj) || got.Location != want.Location {
		t.Fatalf("got %s\nwant %s", gj, wj)
	}
	// the atomic write leaves no temp file behind
	des, _ := os.ReadDir(want.Dir)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if strings.Join(names, " ") != "_metadata agg-0.state src-0.state" {
		t.Fatalf("files %v", names)
	}
	// the metadata is readable JSON with the documented fields
	raw, _ := os.ReadFile(filepath.Join(want.Dir, MetadataFile))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "kind", "full", "trigger_time", "complete_time", "bytes_full", "bytes_incremental", "tasks"} {
		if _, ok := m[k]; !ok {
			t.Errorf("_metadata lacks %q: %s", k, raw)
		}
	}
	if m["kind"] != "checkpoint" || !strings.Contains(string(raw), `"source_positions"`) || !strings.Contains(string(raw), `"task": "agg/0"`) {
		t.Errorf("_metadata: %s", raw)
	}
}

func TestStorageCommitChecks(t *testing.T) {
	s := newStorage(t)
	loc, err := s.Create(1, KindCheckpoint, epoch)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.WriteFile(loc, "a.state", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	h.Size = 4
	md := Metadata{ID: 1, Kind: KindCheckpoint, Full: true, Tasks: []TaskMetadata{{Task: taskA, Handles: []StateHandle{h, {Path: "gone", Size: 1}}}}}
	var ce *CorruptError
	if err := s.Commit(loc, md); !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(loc.Dir, MetadataFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed Commit wrote _metadata")
	}
	for _, bad := range []string{"", "../x", "sub/x", "_metadata", ".hidden"} {
		if _, err := s.WriteFile(loc, bad, strings.NewReader("")); err == nil {
			t.Errorf("WriteFile accepted %q", bad)
		}
	}
	if err := s.Commit(loc, Metadata{ID: 2, Kind: KindCheckpoint, Full: true}); err == nil {
		t.Error("Commit accepted the metadata of another id")
	}
	sp, _ := s.Create(3, KindSavepoint, epoch)
	if err := s.Commit(sp, Metadata{ID: 3, Kind: KindSavepoint, Parents: []uint64{1}}); err == nil {
		t.Error("Commit accepted an incremental savepoint")
	}
}

func TestStorageCleanupIncomplete(t *testing.T) {
	s := newStorage(t)
	commit(t, s, 1, KindCheckpoint)
	for _, id := range []uint64{2, 3} {
		loc, err := s.Create(id, KindCheckpoint, epoch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.WriteFile(loc, "half.state", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got := listing(t, s); got != "chk-1 chk-2(incomplete) chk-3(incomplete)" {
		t.Fatal(got)
	}
	// an incomplete checkpoint is never Latest
	if cp, w, err := s.Latest(); err != nil || w != nil || cp.ID != 1 {
		t.Fatalf("Latest: %d %v %v", cp.ID, w, err)
	}
	removed, err := s.CleanupIncomplete(3) // 3 is still being written
	if err != nil || !reflect.DeepEqual(removed, []uint64{2}) {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if got := listing(t, s); got != "chk-1 chk-3(incomplete)" {
		t.Fatal(got)
	}
	if err := s.Discard(Location{Kind: KindCheckpoint, ID: 1, Dir: filepath.Join(s.Root(), "chk-1")}); err == nil {
		t.Fatal("Discard removed a complete checkpoint")
	}
}

func TestStorageRetain(t *testing.T) {
	s := newStorage(t)
	commit(t, s, 1, KindCheckpoint)
	commit(t, s, 2, KindCheckpoint, 1)
	commit(t, s, 3, KindSavepoint)
	commit(t, s, 4, KindCheckpoint, 2, 1)
	// 4 depends on 2 and 1: nothing can go
	if del, err := s.Retain(1); err != nil || len(del) != 0 {
		t.Fatalf("Retain: %v %v", del, err)
	}
	commit(t, s, 5, KindCheckpoint)
	commit(t, s, 6, KindCheckpoint, 5)
	commit(t, s, 7, KindSavepoint)
	if got := listing(t, s); got != "chk-1 chk-2 chk-4 chk-5 chk-6 savepoints/sp-3-20260101T000003Z savepoints/sp-7-20260101T000007Z" {
		t.Fatal(got)
	}
	// Explicit Delete refuses a parent of a complete checkpoint.
	if err := s.Delete(Location{Kind: KindCheckpoint, ID: 5, Dir: filepath.Join(s.Root(), "chk-5")}); err == nil ||
		!strings.Contains(err.Error(), "checkpoint 6 depends on it") {
		t.Fatalf("Delete: %v", err)
	}
	// newest 2 = 6 and 5 (5 also as 6's parent); savepoints stay
	if del, err := s.Retain(2); err != nil || !reflect.DeepEqual(del, []uint64{1, 2, 4}) {
		t.Fatalf("Retain: %v %v", del, err)
	}
	if got := listing(t, s); got != "chk-5 chk-6 savepoints/sp-3-20260101T000003Z savepoints/sp-7-20260101T000007Z" {
		t.Fatal(got)
	}
	// only the newest: 6 needs 5
	if del, err := s.Retain(1); err != nil || len(del) != 0 {
		t.Fatalf("Retain: %v %v", del, err)
	}
	// a corrupt newer checkpoint is kept but not counted
	commit(t, s, 8, KindCheckpoint)
	commit(t, s, 9, KindCheckpoint)
	os.WriteFile(filepath.Join(s.Root(), "chk-9", MetadataFile), []byte("{"), 0o644)
	if del, err := s.Retain(1); err != nil || !reflect.DeepEqual(del, []uint64{5, 6}) {
		t.Fatalf("Retain: %v %v", del, err)
	}
	if got := listing(t, s); got != "chk-8 chk-9 savepoints/sp-3-20260101T000003Z savepoints/sp-7-20260101T000007Z" {
		t.Fatal(got)
	}
	// ids in use by pending checkpoints are kept
	commit(t, s, 10, KindCheckpoint)
	if del, err := s.Retain(1, 8); err != nil || !reflect.DeepEqual(del, []uint64{9}) {
		t.Fatalf("Retain: %v %v", del, err)
	}
	// an explicit Delete removes a savepoint
	if err := s.Delete(Location{Kind: KindSavepoint, ID: 3, Dir: filepath.Join(s.Root(), SavepointsDir, "sp-3-20260101T000003Z")}); err != nil {
		t.Fatal(err)
	}
}

func TestStorageLatestFallback(t *testing.T) {
	s := newStorage(t)
	if _, _, err := s.Latest(); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("empty Latest: %v", err)
	}
	commit(t, s, 1, KindCheckpoint)
	commit(t, s, 2, KindCheckpoint)
	commit(t, s, 3, KindCheckpoint, 2)
	commit(t, s, 4, KindSavepoint) // savepoints are not Latest
	cp, w, err := s.Latest()
	if err != nil || w != nil || cp.ID != 3 {
		t.Fatalf("Latest: %d %v %v", cp.ID, w, err)
	}

	// truncate a file of 2: 3 (which needs 2) and 2 are unusable
	if err := os.Truncate(filepath.Join(s.Root(), "chk-2", "agg-0.state"), 5); err != nil {
		t.Fatal(err)
	}
	cp, w, err = s.Latest()
	if err != nil || cp.ID != 1 {
		t.Fatalf("Latest: %d %v %v", cp.ID, w, err)
	}
	wantWarn := "checkpoint: fell back to checkpoint 1: " +
		"checkpoint " + filepath.Join(s.Root(), "chk-3") + " is unusable: parent chk-2: agg-0.state (task agg/0): 5 bytes, metadata says 20. " +
		"checkpoint " + filepath.Join(s.Root(), "chk-2") + " is unusable: agg-0.state (task agg/0): 5 bytes, metadata says 20."
	if w == nil || w.Error() != wantWarn {
		t.Fatalf("warning:\n%v\nwant:\n%s", w, wantWarn)
	}
	var fw *FallbackWarning
	if !errors.As(w, &fw) || fw.Used != 1 || len(fw.Skipped) != 2 {
		t.Fatalf("warning %#v", w)
	}

	// a missing file and corrupt metadata are named too; with nothing
	// usable left, Latest fails and lists everything
	os.Remove(filepath.Join(s.Root(), "chk-1", "src-0.state"))
	os.WriteFile(filepath.Join(s.Root(), "chk-2", MetadataFile), []byte(`{"id": 2, "kind": "chec`), 0o644)
	_, _, err = s.Latest()
	if !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("Latest: %v", err)
	}
	for _, want := range []string{
		"chk-1 is unusable: src-0.state (task src/0): file missing",
		"chk-2 is unusable: _metadata is corrupt: unexpected EOF",
		"chk-3 is unusable: parent chk-2: _metadata is corrupt",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestSavepointIsMovable(t *testing.T) {
	s := newStorage(t)
	sp := commit(t, s, 7, KindSavepoint)
	raw, _ := os.ReadFile(filepath.Join(sp.Dir, MetadataFile))
	if strings.Contains(string(raw), s.Root()) || strings.Contains(string(raw), string(filepath.Separator)+"tmp") {
		t.Fatalf("metadata holds an absolute path: %s", raw)
	}
	// copy it elsewhere, remove the original, open the copy
	dst := filepath.Join(t.TempDir(), "moved", "my-savepoint")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(sp.Dir)
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(sp.Dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(s.Root()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 7 || got.Kind != KindSavepoint || !got.Metadata.Full || got.Dir != dst ||
		got.Metadata.Tasks[1].SourcePositions[0].Offset != 700 {
		t.Fatalf("opened %+v", got)
	}
}

func TestStorageNotWritable(t *testing.T) {
	// a root that is a regular file: clear error, whoever runs the test
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	_, err := NewDirStorage(file)
	var se *StorageError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), file) {
		t.Fatalf("NewDirStorage on a file: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(dir, 0o755)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	_, err = NewDirStorage(dir)
	if os.Geteuid() == 0 {
		t.Logf("running as root: permissions are not enforced, skipping the chmod 0500 assertion (got %v)", err)
		return
	}
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "not writable") || !strings.Contains(err.Error(), dir) ||
		!errors.Is(err, os.ErrPermission) {
		t.Fatalf("NewDirStorage on a read-only directory: %v", err)
	}
}

func TestStorageSurvivesCancellation(t *testing.T) {
	// Retained checkpoints are externalized: opening storage again (a new
	// process after a cancelled job) finds them; nothing deletes them.
	s := newStorage(t)
	commit(t, s, 1, KindCheckpoint)
	commit(t, s, 2, KindCheckpoint, 1)
	s2, err := NewDirStorage(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	cp, w, err := s2.Latest()
	if err != nil || w != nil || cp.ID != 2 || !reflect.DeepEqual(cp.Metadata.Parents, []uint64{1}) {
		t.Fatalf("Latest: %+v %v %v", cp, w, err)
	}
}
