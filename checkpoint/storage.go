package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MetadataFile is the name of the file whose presence makes a checkpoint
// directory complete.
const MetadataFile = "_metadata"

// SavepointsDir is the subdirectory of the storage root holding savepoints.
const SavepointsDir = "savepoints"

// Location is one checkpoint or savepoint directory.
type Location struct {
	Kind Kind
	ID   uint64
	Dir  string // the directory, as the storage or the caller named it
}

// Checkpoint is a complete checkpoint or savepoint: where it is and what its
// _metadata says.
type Checkpoint struct {
	Location
	Metadata Metadata
	// Parents is the chain an incremental checkpoint depends on, nearest
	// first (Metadata.Parents, read and checked by Open).
	Parents []Checkpoint
}

// Entry is one directory found by List.
type Entry struct {
	Location
	Complete bool // has _metadata (its content is not checked)
}

// Storage is where checkpoints and savepoints live. A checkpoint is written
// as: Create, WriteFile for each state file (possibly from several
// goroutines: the async phases of many subtasks), then Commit, which makes it
// complete; Discard removes an aborted one. All methods may be called from
// any goroutine; calls for different checkpoints do not interfere, calls for
// the same checkpoint must be ordered by the caller (every WriteFile returns
// before Commit). Errors from the file system are wrapped in *StorageError.
//
// Nothing in Storage deletes anything on its own or on close: completed
// checkpoints survive a cancelled job (retained/externalized) until Retain
// or Delete, and savepoints are only deleted by an explicit Delete.
type Storage interface {
	// Create makes the directory of checkpoint id (kind decides between
	// chk-<id> and savepoints/sp-<id>-<trigger time>).
	Create(id uint64, kind Kind, trigger time.Time) (Location, error)
	// WriteFile writes one state file (a plain name: no separators, not
	// starting with '_' or '.') into loc from r, fsyncs it and returns its
	// handle for the ack.
	WriteFile(loc Location, name string, r io.Reader) (StateHandle, error)
	// Commit checks that every handle in md names a file of loc with the
	// recorded size, then writes md as _metadata atomically (temp file,
	// fsync, rename, fsync of the directory). After Commit returns nil the
	// checkpoint is complete and durable.
	Commit(loc Location, md Metadata) error
	// Discard removes an incomplete checkpoint (aborted). It refuses a
	// complete one.
	Discard(loc Location) error
	// List returns every checkpoint and savepoint directory, checkpoints
	// then savepoints, each by ascending id.
	List() ([]Entry, error)
	// Latest returns the newest complete checkpoint (not savepoint) that
	// passes Open's checks, including its parent chain. If newer ones fail
	// them, it falls back and returns a non-nil *FallbackWarning saying
	// exactly what is wrong with each. err is non-nil (wrapping
	// ErrNoCheckpoint) if none is usable.
	Latest() (cp Checkpoint, warning error, err error)
	// Open reads and checks the checkpoint or savepoint in dir — which may
	// be anywhere, e.g. a savepoint moved to another directory: _metadata
	// parses, every referenced file exists with its recorded size, and an
	// incremental checkpoint's parents (sibling chk-<id> directories) do
	// too. A failed check returns a *CorruptError listing every problem.
	Open(dir string) (Checkpoint, error)
	// Retain keeps the newest n complete checkpoints (n >= 1) and every
	// checkpoint their parent chains need, and deletes the older complete
	// checkpoints. Savepoints and incomplete checkpoints are not touched.
	// A checkpoint whose _metadata cannot be read is kept if it is newer
	// than the n-th kept one (Latest may need to fall back past it) and
	// deleted otherwise. inUse lists further checkpoints to keep
	// (Complete.InUse: parents of pending incremental checkpoints). It
	// returns the deleted ids.
	Retain(n int, inUse ...uint64) (deleted []uint64, err error)
	// Delete removes a complete checkpoint or a savepoint. It refuses a
	// checkpoint that another complete checkpoint lists as a parent.
	Delete(loc Location) error
	// CleanupIncomplete removes checkpoint directories without _metadata,
	// except those of inFlight ids (being written right now). Call it at
	// start-up, before the coordinator runs, or with the pending ids.
	CleanupIncomplete(inFlight ...uint64) (removed []uint64, err error)
}

// JobFiles is implemented by a Storage that also keeps small files about
// the job itself, next to its checkpoints and outliving every one of them
// (DirStorage: in its root, with a leading '_'). A run writes them before
// it starts, so that they also speak for runs that never completed a
// checkpoint.
type JobFiles interface {
	// ReadJobFile returns the file's content, or nil and no error if it
	// does not exist.
	ReadJobFile(name string) ([]byte, error)
	// WriteJobFile replaces the file atomically (temp file, fsync, rename,
	// fsync of the directory).
	WriteJobFile(name string, data []byte) error
}

// ReadJobFile implements JobFiles.
func (s *DirStorage) ReadJobFile(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.root, "_"+name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &StorageError{Op: "read", Path: filepath.Join(s.root, "_"+name), Err: err}
	}
	return b, nil
}

// WriteJobFile implements JobFiles.
func (s *DirStorage) WriteJobFile(name string, data []byte) error {
	return writeAtomic(s.root, "_"+name, data)
}

// ErrNoCheckpoint is wrapped by Latest when no complete, usable checkpoint
// exists.
var ErrNoCheckpoint = errors.New("checkpoint: no usable checkpoint")

// StorageError is a file-system failure of checkpoint storage: the
// environment is to blame (disk full, permissions, ...).
type StorageError struct {
	Op   string
	Path string
	Err  error
}

func (e *StorageError) Error() string {
	return fmt.Sprintf("checkpoint storage: %s %s: %v", e.Op, e.Path, e.Err)
}

func (e *StorageError) Unwrap() error { return e.Err }

// CorruptError says what is wrong with one checkpoint directory. Problems
// are sorted.
type CorruptError struct {
	Dir      string
	Problems []string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint %s is unusable: %s", e.Dir, strings.Join(e.Problems, "; "))
}

// FallbackWarning is returned by Latest when it skipped newer complete
// checkpoints.
type FallbackWarning struct {
	Used    uint64
	Skipped []*CorruptError // newest first
}

func (w *FallbackWarning) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checkpoint: fell back to checkpoint %d:", w.Used)
	for _, s := range w.Skipped {
		b.WriteString(" " + s.Error() + ".")
	}
	return b.String()
}

// DirStorage is Storage on a directory of a local or mounted shared file
// system:
//
//	ROOT/chk-<id>/<state files> + _metadata
//	ROOT/savepoints/sp-<id>-<trigger time UTC, 20060102T150405Z>/<state files> + _metadata
//
// Metadata holds only paths relative to its own directory.
type DirStorage struct {
	root string
}

var _ Storage = (*DirStorage)(nil)

// NewDirStorage opens (creating if needed) checkpoint storage at root and
// checks that it is writable; if not, the error says so and names the path.
func NewDirStorage(root string) (*DirStorage, error) {
	if err := os.MkdirAll(filepath.Join(root, SavepointsDir), 0o755); err != nil {
		return nil, &StorageError{Op: "create directory", Path: root, Err: err}
	}
	for _, d := range []string{root, filepath.Join(root, SavepointsDir)} {
		f, err := os.CreateTemp(d, ".probe-*")
		if err != nil {
			return nil, &StorageError{Op: "directory is not writable:", Path: d, Err: err}
		}
		f.Close()
		os.Remove(f.Name())
	}
	return &DirStorage{root: root}, nil
}

// Root returns the storage directory.
func (s *DirStorage) Root() string { return s.root }

const spTimeLayout = "20060102T150405Z"

func (s *DirStorage) dirFor(id uint64, kind Kind, trigger time.Time) string {
	if kind == KindSavepoint {
		return filepath.Join(s.root, SavepointsDir, fmt.Sprintf("sp-%d-%s", id, trigger.UTC().Format(spTimeLayout)))
	}
	return filepath.Join(s.root, "chk-"+strconv.FormatUint(id, 10))
}

// Create implements Storage.
func (s *DirStorage) Create(id uint64, kind Kind, trigger time.Time) (Location, error) {
	loc := Location{Kind: kind, ID: id, Dir: s.dirFor(id, kind, trigger)}
	if err := os.Mkdir(loc.Dir, 0o755); err != nil {
		return Location{}, &StorageError{Op: "create", Path: loc.Dir, Err: err}
	}
	if err := syncDir(filepath.Dir(loc.Dir)); err != nil {
		return Location{}, err
	}
	return loc, nil
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name[0] == '_' || name[0] == '.' || !filepath.IsLocal(name) {
		return fmt.Errorf("checkpoint: bad state file name %q (a plain name, not starting with '_' or '.')", name)
	}
	return nil
}

// WriteFile implements Storage.
func (s *DirStorage) WriteFile(loc Location, name string, r io.Reader) (StateHandle, error) {
	if err := checkName(name); err != nil {
		return StateHandle{}, err
	}
	p := filepath.Join(loc.Dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return StateHandle{}, &StorageError{Op: "create", Path: p, Err: err}
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return StateHandle{}, &StorageError{Op: "write", Path: p, Err: err}
	}
	return StateHandle{Path: name, Size: n}, nil
}

// Commit implements Storage.
func (s *DirStorage) Commit(loc Location, md Metadata) error {
	if md.ID != loc.ID || md.Kind != loc.Kind {
		return fmt.Errorf("checkpoint: metadata of %s %d committed to %s %d", md.Kind, md.ID, loc.Kind, loc.ID)
	}
	if md.Kind == KindSavepoint && (!md.Full || len(md.Parents) > 0) {
		return fmt.Errorf("checkpoint: savepoint %d must be full and have no parents", md.ID)
	}
	if md.Version == 0 {
		md.Version = MetadataVersion
	}
	if probs := checkFiles(loc.Dir, &md); len(probs) > 0 {
		return &CorruptError{Dir: loc.Dir, Problems: probs}
	}
	data, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return err
	}
	if err := syncDir(loc.Dir); err != nil { // the state files' entries
		return err
	}
	return writeAtomic(loc.Dir, MetadataFile, append(data, '\n'))
}

// writeAtomic writes dir/name via a temp file: write, fsync, rename, fsync dir.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return &StorageError{Op: "create", Path: dir, Err: err}
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return &StorageError{Op: "write", Path: filepath.Join(dir, name), Err: err}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return &StorageError{Op: "sync", Path: dir, Err: err}
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return &StorageError{Op: "sync", Path: dir, Err: err}
	}
	return nil
}

// checkFiles returns what is wrong with the files md references in dir.
func checkFiles(dir string, md *Metadata) []string {
	var probs []string
	for _, t := range md.Tasks {
		for _, h := range t.Handles {
			if err := checkName(h.Path); err != nil {
				probs = append(probs, fmt.Sprintf("task %s: %v", t.Task, err))
				continue
			}
			fi, err := os.Stat(filepath.Join(dir, h.Path))
			switch {
			case errors.Is(err, os.ErrNotExist):
				probs = append(probs, fmt.Sprintf("%s (task %s): file missing", h.Path, t.Task))
			case err != nil:
				probs = append(probs, fmt.Sprintf("%s (task %s): %v", h.Path, t.Task, err))
			case fi.Size() != h.Size:
				probs = append(probs, fmt.Sprintf("%s (task %s): %d bytes, metadata says %d", h.Path, t.Task, fi.Size(), h.Size))
			}
		}
	}
	sort.Strings(probs)
	return probs
}

// Discard implements Storage.
func (s *DirStorage) Discard(loc Location) error {
	if _, err := os.Stat(filepath.Join(loc.Dir, MetadataFile)); err == nil {
		return fmt.Errorf("checkpoint: %s is complete; Discard only removes incomplete checkpoints", loc.Dir)
	}
	return removeAll(loc.Dir)
}

func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return &StorageError{Op: "remove", Path: dir, Err: err}
	}
	return nil
}

// parseDirName recognises chk-<id> and sp-<id>-<time>.
func parseDirName(name string) (uint64, Kind, bool) {
	if rest, ok := strings.CutPrefix(name, "chk-"); ok {
		id, err := strconv.ParseUint(rest, 10, 64)
		return id, KindCheckpoint, err == nil && id > 0
	}
	if rest, ok := strings.CutPrefix(name, "sp-"); ok {
		num, _, _ := strings.Cut(rest, "-")
		id, err := strconv.ParseUint(num, 10, 64)
		return id, KindSavepoint, err == nil && id > 0
	}
	return 0, 0, false
}

// List implements Storage.
func (s *DirStorage) List() ([]Entry, error) {
	var out []Entry
	for _, d := range []string{s.root, filepath.Join(s.root, SavepointsDir)} {
		des, err := os.ReadDir(d)
		if err != nil {
			return nil, &StorageError{Op: "list", Path: d, Err: err}
		}
		var part []Entry
		for _, de := range des {
			id, kind, ok := parseDirName(de.Name())
			if !ok || !de.IsDir() || (kind == KindSavepoint) != (d != s.root) {
				continue
			}
			e := Entry{Location: Location{Kind: kind, ID: id, Dir: filepath.Join(d, de.Name())}}
			_, err := os.Stat(filepath.Join(e.Dir, MetadataFile))
			e.Complete = err == nil
			part = append(part, e)
		}
		slices.SortFunc(part, func(a, b Entry) int {
			if a.ID != b.ID {
				if a.ID < b.ID {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Dir, b.Dir)
		})
		out = append(out, part...)
	}
	return out, nil
}

// readMetadata reads dir/_metadata and checks it against the directory name.
func readMetadata(dir string) (Metadata, []string) {
	var md Metadata
	data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return md, []string{MetadataFile + " missing (incomplete checkpoint)"}
		}
		return md, []string{MetadataFile + ": " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&md); err != nil {
		return md, []string{MetadataFile + " is corrupt: " + err.Error()}
	}
	var probs []string
	if md.Version != MetadataVersion {
		probs = append(probs, fmt.Sprintf("%s: unsupported version %d", MetadataFile, md.Version))
	}
	if id, kind, ok := parseDirName(filepath.Base(dir)); ok && (id != md.ID || kind != md.Kind) {
		probs = append(probs, fmt.Sprintf("%s describes %s %d, not %s %d", MetadataFile, md.Kind, md.ID, kind, id))
	}
	if !md.Full && len(md.Parents) == 0 {
		probs = append(probs, "incremental checkpoint without parents")
	}
	return md, probs
}

// Open implements Storage.
func (s *DirStorage) Open(dir string) (Checkpoint, error) {
	md, probs := readMetadata(dir)
	var parents []Checkpoint
	if len(probs) == 0 {
		probs = checkFiles(dir, &md)
		for _, p := range md.Parents {
			pdir := filepath.Join(filepath.Dir(dir), "chk-"+strconv.FormatUint(p, 10))
			pmd, pp := readMetadata(pdir)
			if len(pp) == 0 {
				pp = checkFiles(pdir, &pmd)
			}
			parents = append(parents, Checkpoint{Location: Location{Kind: pmd.Kind, ID: p, Dir: pdir}, Metadata: pmd})
			for _, x := range pp {
				probs = append(probs, fmt.Sprintf("parent chk-%d: %s", p, x))
			}
		}
	}
	if len(probs) > 0 {
		return Checkpoint{}, &CorruptError{Dir: dir, Problems: probs}
	}
	return Checkpoint{Location: Location{Kind: md.Kind, ID: md.ID, Dir: dir}, Metadata: md, Parents: parents}, nil
}

// Latest implements Storage.
func (s *DirStorage) Latest() (Checkpoint, error, error) {
	es, err := s.List()
	if err != nil {
		return Checkpoint{}, nil, err
	}
	var w FallbackWarning
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.Kind != KindCheckpoint || !e.Complete {
			continue
		}
		cp, err := s.Open(e.Dir)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				return Checkpoint{}, nil, err
			}
			w.Skipped = append(w.Skipped, ce)
			continue
		}
		if len(w.Skipped) == 0 {
			return cp, nil, nil
		}
		w.Used = cp.ID
		return cp, &w, nil
	}
	if len(w.Skipped) > 0 {
		return Checkpoint{}, nil, fmt.Errorf("%w in %s: %w", ErrNoCheckpoint, s.root, errors.Join(corruptErrs(w.Skipped)...))
	}
	return Checkpoint{}, nil, fmt.Errorf("%w in %s", ErrNoCheckpoint, s.root)
}

func corruptErrs(cs []*CorruptError) []error {
	out := make([]error, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

// Retain implements Storage.
func (s *DirStorage) Retain(n int, inUse ...uint64) ([]uint64, error) {
	if n < 1 {
		return nil, fmt.Errorf("checkpoint: must retain at least 1 checkpoint, not %d", n)
	}
	es, err := s.List()
	if err != nil {
		return nil, err
	}
	keep := map[uint64]bool{}
	for _, id := range inUse {
		keep[id] = true
	}
	kept := 0
	var del []Entry
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.Kind != KindCheckpoint || !e.Complete {
			continue
		}
		if kept >= n {
			del = append(del, e) // unless a kept one needs it (below)
			continue
		}
		md, probs := readMetadata(e.Dir)
		keep[e.ID] = true
		if len(probs) > 0 {
			continue // unreadable: kept, not counted
		}
		kept++
		for _, p := range md.Parents {
			keep[p] = true
		}
	}
	var deleted []uint64
	for _, e := range del {
		if keep[e.ID] {
			continue
		}
		if err := removeAll(e.Dir); err != nil {
			return deleted, err
		}
		deleted = append(deleted, e.ID)
	}
	slices.Sort(deleted)
	return deleted, nil
}

// Delete implements Storage.
func (s *DirStorage) Delete(loc Location) error {
	if loc.Kind == KindCheckpoint {
		es, err := s.List()
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.Kind != KindCheckpoint || !e.Complete || e.ID == loc.ID {
				continue
			}
			md, probs := readMetadata(e.Dir)
			if len(probs) == 0 && slices.Contains(md.Parents, loc.ID) {
				return fmt.Errorf("checkpoint: cannot delete checkpoint %d: checkpoint %d depends on it", loc.ID, e.ID)
			}
		}
	}
	return removeAll(loc.Dir)
}

// CleanupIncomplete implements Storage.
func (s *DirStorage) CleanupIncomplete(inFlight ...uint64) ([]uint64, error) {
	es, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []uint64
	for _, e := range es {
		if e.Complete || slices.Contains(inFlight, e.ID) {
			continue
		}
		if err := removeAll(e.Dir); err != nil {
			return removed, err
		}
		removed = append(removed, e.ID)
	}
	return removed, nil
}
