package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/format"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Name is the connector name used in 'connector' = 'file'.
const Name = "file"

// DefaultBatchSize is the number of rows per emitted batch.
const DefaultBatchSize = 1024

const readBufferSize = 1 << 20

func init() { connectors.Register(Connector{}) }

// Connector is the file connector.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return Name }

// settings are the options common to source and sink, validated.
type settings struct {
	table   string
	path    string
	format  string
	header  bool
	options map[string]string
	schema  types.Schema
}

func parseSettings(t *connectors.Table) (*settings, error) {
	fmtName := strings.ToLower(t.Option("format", ""))
	allowed := []string{"path", "format", "csv.header", "on-error", "batch-size"}
	allowed = append(allowed, format.OptionKeys(fmtName, &t.Schema)...)
	if err := t.CheckOptions(allowed...); err != nil {
		return nil, err
	}
	s := &settings{table: t.Name, path: t.Option("path", ""), format: fmtName, options: t.Options, schema: t.Schema}
	if s.path == "" {
		return nil, fmt.Errorf("table %s: connector 'file' needs option 'path'", t.Name)
	}
	if fmtName == "" {
		return nil, fmt.Errorf("table %s: connector 'file' needs option 'format' (%s)", t.Name, strings.Join(format.Formats(), " or "))
	}
	switch v := strings.ToLower(t.Option("csv.header", "false")); v {
	case "true":
		s.header = true
	case "false":
	default:
		return nil, fmt.Errorf("table %s: option 'csv.header' must be 'true' or 'false', got '%s'", t.Name, v)
	}
	if s.header && fmtName != format.CSV {
		return nil, fmt.Errorf("table %s: option 'csv.header' needs 'format' = 'csv'", t.Name)
	}
	// build a codec once so that bad format options fail now
	if _, _, err := format.New(fmtName, &s.schema, t.Options); err != nil {
		return nil, fmt.Errorf("table %s: %v", t.Name, err)
	}
	return s, nil
}

// ---------------------------------------------------------------- source

// NewSource implements connectors.Connector. The files are listed here, at
// planning time.
func (Connector) NewSource(t *connectors.Table) (connectors.SourceFactory, error) {
	s, err := parseSettings(t)
	if err != nil {
		return nil, err
	}
	f := &SourceFactory{settings: s, batchSize: DefaultBatchSize, rowtime: t.RowtimeCol}
	switch v := strings.ToLower(t.Option("on-error", "fail")); v {
	case "fail":
	case "skip":
		f.skip = true
	default:
		return nil, fmt.Errorf("table %s: option 'on-error' must be 'fail' or 'skip', got '%s'", t.Name, v)
	}
	if v, ok := t.Options["batch-size"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1<<20 {
			return nil, fmt.Errorf("table %s: option 'batch-size' must be an integer in [1, 1048576], got '%s'", t.Name, v)
		}
		f.batchSize = n
	}
	if f.files, err = listFiles(s.path); err != nil {
		return nil, fmt.Errorf("table %s: %v", t.Name, err)
	}
	return f, nil
}

// listFiles resolves a path option: an existing file, the regular files of
// a directory (names starting with '.' or '_' are skipped, as hidden or
// temporary), or a glob pattern. The result is sorted.
func listFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("path '%s': %v", path, err)
		}
		if !strings.ContainsAny(path, "*?[") {
			return nil, fmt.Errorf("path '%s' does not exist", path)
		}
		matches, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("path '%s': bad pattern: %v", path, err)
		}
		var files []string
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				files = append(files, m)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("path '%s' matches no files", path)
		}
		sort.Strings(files)
		return files, nil
	}
	if fi.Mode().IsRegular() {
		return []string{path}, nil
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("path '%s' is not a regular file or a directory", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("path '%s': %v", path, err)
	}
	var files []string
	for _, e := range entries { // sorted by name
		if strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		p := filepath.Join(path, e.Name())
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	return files, nil
}

// SourceFactory reads a table's files. Each file is one split.
type SourceFactory struct {
	*settings
	files     []string
	skip      bool
	batchSize int
	rowtime   int          // the WATERMARK column, or -1
	skipped   atomic.Int64 // over all subtasks
}

// Bounded implements connectors.SourceFactory: files end.
func (f *SourceFactory) Bounded() bool { return true }

// MaxParallelism is the number of files (at least 1).
func (f *SourceFactory) MaxParallelism() int { return max(1, len(f.files)) }

// Files returns the files found at planning time, sorted.
func (f *SourceFactory) Files() []string { return f.files }

// Skipped returns the number of records skipped (on-error = 'skip') by all
// subtasks so far.
func (f *SourceFactory) Skipped() int64 { return f.skipped.Load() }

// Create makes subtask i of n; it reads files j with j mod n == i.
func (f *SourceFactory) Create(subtask, parallelism int) (exec.Source, error) {
	if parallelism < 1 || subtask < 0 || subtask >= parallelism {
		return nil, fmt.Errorf("file source: bad subtask %d of %d", subtask, parallelism)
	}
	dec, _, err := format.New(f.format, &f.schema, f.options)
	if err != nil {
		return nil, fmt.Errorf("table %s: %v", f.table, err)
	}
	s := &Source{factory: f, dec: dec, width: f.schema.Len()}
	for j := subtask; j < len(f.files); j += parallelism {
		s.files = append(s.files, f.files[j])
	}
	return s, nil
}

// Source is one subtask of a file source.
type Source struct {
	factory   *SourceFactory
	files     []string
	start     []int64 // per split: the byte offset to start at (Resume)
	dec       format.Decoder
	width     int
	skipped   atomic.Int64
	firstSkip error
	status    func(string) // exec.StatusAware; nil when not set
}

// SetStatusFunc implements exec.StatusAware: at the end of Run, a subtask
// that skipped records reports how many (e.g. "weir: Source#1: skipped 2
// records that did not decode (on-error = 'skip'), the first: file ...").
func (s *Source) SetStatusFunc(set func(status string)) { s.status = set }

// errNullRowtime is returned for a record whose WATERMARK column is NULL:
// it has no event time, so it cannot be placed in a window or watermark.
type errNullRowtime struct{ col string }

func (e errNullRowtime) Error() string {
	return fmt.Sprintf("column %s: NULL in the event-time column (WATERMARK FOR %s)", e.col, e.col)
}

// Splits is the number of files this subtask reads.
func (s *Source) Splits() int { return len(s.files) }

// Files returns this subtask's files; split i is Files()[i].
func (s *Source) Files() []string { return s.files }

// Skipped returns the number of records this subtask skipped.
func (s *Source) Skipped() int64 { return s.skipped.Load() }

var _ exec.Resumable = (*Source)(nil)

// SplitNames implements exec.Resumable: a split is named by its file's
// path as listed at planning time.
func (s *Source) SplitNames() []string { return append([]string(nil), s.files...) }

// Resume implements exec.Resumable: each of this subtask's files that pos
// names is read from that byte offset, the start of the next unread line.
// pos holds the positions of all the source's files (a restore may be at
// another parallelism); a file of the source that pos does not name is read
// from the start, and a name that is no longer one of the source's files is
// an error (the checkpoint read a file that is gone). An offset beyond the
// file's end, or not at the start of a line, means the file changed since
// the checkpoint: an error naming the file, the offset and the size.
func (s *Source) Resume(pos map[string]int64) error {
	known := make(map[string]bool, len(s.factory.files))
	for _, f := range s.factory.files {
		known[f] = true
	}
	var names []string
	for name := range pos {
		if !known[name] {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		return fmt.Errorf("file source: the checkpoint read %s up to byte %d, but path '%s' no longer lists it",
			names[0], pos[names[0]], s.factory.path)
	}
	start := make([]int64, len(s.files))
	for i, path := range s.files {
		off, ok := pos[path]
		if !ok || off == 0 {
			continue
		}
		if err := checkOffset(path, off); err != nil {
			return err
		}
		start[i] = off
	}
	s.start = start
	return nil
}

// checkOffset checks that off is a line start of path, or its end.
func checkOffset(path string, off int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("file source: cannot resume %s at byte %d: %v", path, off, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("file source: cannot resume %s at byte %d: %v", path, off, err)
	}
	size := fi.Size()
	switch {
	case off < 0:
		return fmt.Errorf("file source: checkpoint offset %d of %s is negative", off, path)
	case off > size:
		return fmt.Errorf("file source: checkpoint offset %d is beyond the end of %s (%d bytes); the file changed since the checkpoint", off, path, size)
	case off == size:
		return nil // at the end (the last line need not end in a newline)
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off-1); err != nil {
		return fmt.Errorf("file source: cannot resume %s at byte %d: %v", path, off, err)
	}
	if b[0] != '\n' {
		return fmt.Errorf("file source: checkpoint offset %d of %s (%d bytes) is not at the start of a line; the file changed since the checkpoint", off, path, size)
	}
	return nil
}

// Run reads the files in order, emitting batches tagged with the split.
func (s *Source) Run(ctx context.Context, out exec.SourceOutput) error {
	err := s.run(ctx, out)
	if n := s.skipped.Load(); n > 0 && s.status != nil {
		s.status(fmt.Sprintf("skipped %d record(s) that did not decode (on-error = 'skip'), the first: %v", n, s.firstSkip))
	}
	return err
}

func (s *Source) run(ctx context.Context, out exec.SourceOutput) error {
	// record restored positions at once: a file finished at the checkpoint
	// emits nothing, and must keep its position in the next one
	for split, from := range s.start {
		if from > 0 {
			exec.SetPosition(out, split, from)
		}
	}
	var r *bufio.Reader
	for split, path := range s.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		var from int64
		if s.start != nil {
			from = s.start[split]
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("file %s: %v", path, err)
		}
		if from > 0 {
			if fi, err := f.Stat(); err == nil && fi.Size() == from {
				// finished at the checkpoint: nothing to read
				f.Close()
				out.SplitDone(split)
				continue
			}
		}
		if r == nil {
			r = bufio.NewReaderSize(f, readBufferSize)
		} else {
			r.Reset(f)
		}
		err = s.readFile(ctx, split, path, from, r, out)
		f.Close()
		if err != nil {
			return err
		}
		out.SplitDone(split)
	}
	return nil
}

var bom = []byte("\xEF\xBB\xBF")

// readFile reads one file, emitting its rows on split. Each batch records
// the byte offset of the line after its last row as the split's position.
// The lines before byte from (a line start, from a checkpoint) are read but
// not decoded: they keep line numbers and the csv.header skip right.
func (s *Source) readFile(ctx context.Context, split int, path string, from int64, r *bufio.Reader, out exec.SourceOutput) error {
	bs := s.factory.batchSize
	newBatch := func() (*types.Batch, *types.RowArena) {
		return &types.Batch{Rows: make([]types.Row, 0, bs)}, types.NewRowArena(s.width, bs)
	}
	batch, arena := newBatch()
	var row types.Row // taken from the arena, not yet in the batch
	var long []byte   // a line longer than the read buffer
	header := s.factory.header
	lineNo := 0
	var offset, recorded int64 // bytes read; the position last handed to out
	recorded = from
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		eof := err == io.EOF
		if err != nil && !eof {
			return fmt.Errorf("file %s: %v", path, err)
		}
		if len(line) == 0 && eof {
			break
		}
		lineNo++
		lineStart := offset
		offset += int64(len(line))
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		if lineStart < from {
			// before the checkpoint's position: delivered already
			if offset > from {
				return fmt.Errorf("file source: checkpoint offset %d of %s is not at the start of a line; the file changed since the checkpoint", from, path)
			}
			if len(line) > 0 {
				header = false
			}
		} else if len(line) > 0 {
			if header {
				header = false
			} else {
				if row == nil {
					row = arena.Next()
				}
				err := s.dec.Decode(line, row)
				if c := s.factory.rowtime; err == nil && c >= 0 && c < len(row) && row[c].Kind == types.Null {
					err = errNullRowtime{s.factory.schema.Cols[c].Name}
				}
				if err != nil {
					err = fmt.Errorf("file %s line %d: %w", path, lineNo, err)
					if !s.factory.skip {
						return err
					}
					if s.firstSkip == nil {
						s.firstSkip = err
					}
					s.skipped.Add(1)
					s.factory.skipped.Add(1)
				} else {
					batch.Rows = append(batch.Rows, row)
					row = nil
					if len(batch.Rows) == bs {
						recorded = offset
						if err := exec.EmitAt(out, split, batch, offset); err != nil {
							return emitError(ctx, err)
						}
						if err := ctx.Err(); err != nil {
							return err
						}
						batch, arena = newBatch()
					}
				}
			}
		}
		if eof {
			break
		}
	}
	if offset < from {
		return fmt.Errorf("file source: checkpoint offset %d is beyond the end of %s (%d bytes); the file changed since the checkpoint", from, path, offset)
	}
	if len(batch.Rows) > 0 {
		if err := exec.EmitAt(out, split, batch, offset); err != nil {
			return emitError(ctx, err)
		}
	} else if offset > recorded {
		// the lines since the last batch yielded no rows (skipped records,
		// empty lines, a header): move the position past them
		exec.SetPosition(out, split, offset)
	}
	return nil
}

// emitError prefers ctx.Err(): Emit fails once the job is cancelled, and
// Run must then return ctx.Err().
func emitError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// ---------------------------------------------------------------- sink

// NewSink implements connectors.Connector.
func (Connector) NewSink(t *connectors.Table) (connectors.SinkFactory, error) {
	s, err := parseSettings(t)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(s.path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("table %s: path '%s' is a directory; the file sink writes one file", t.Name, s.path)
	}
	dir := filepath.Dir(s.path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("table %s: directory of path '%s' does not exist", t.Name, s.path)
	}
	return &SinkFactory{settings: s}, nil
}

// SinkFactory writes a query's output to one file.
type SinkFactory struct {
	*settings
}

// AcceptsUpdates is false: a file is append-only.
func (f *SinkFactory) AcceptsUpdates() bool { return false }

// MaxParallelism is 1: one writer per file.
func (f *SinkFactory) MaxParallelism() int { return 1 }

// Create makes the sink. It opens the temporary file a job without
// checkpoints writes to; StartCheckpointing replaces it.
func (f *SinkFactory) Create(subtask, parallelism int) (exec.Sink, error) {
	if subtask != 0 || parallelism != 1 {
		return nil, fmt.Errorf("file sink %s: parallelism must be 1, got subtask %d of %d", f.path, subtask, parallelism)
	}
	_, enc, err := format.New(f.format, &f.schema, f.options)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %v", f.path, err)
	}
	var header []byte
	if f.header {
		if ce, ok := enc.(*format.CSVEncoder); ok {
			header = append(ce.AppendHeader(nil), '\n')
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %v", f.path, err)
	}
	s := &Sink{path: f.path, subtask: subtask, header: header, tmp: tmp, w: bufio.NewWriterSize(tmp, readBufferSize), enc: enc}
	if _, err := s.w.Write(header); err != nil {
		s.Abort()
		return nil, fmt.Errorf("file sink %s: %v", f.path, err)
	}
	return s, nil
}

// Sink writes one file. Without checkpoints it writes to a temporary file
// next to the target and renames it into place at Finish; Abort removes
// it. With checkpoints (StartCheckpointing) it appends to the target at
// each commit: see the package documentation.
type Sink struct {
	path    string
	subtask int
	header  []byte // the header line (csv.header), or nil
	enc     format.Encoder
	w       *bufio.Writer // over tmp, the current pending file or the target
	tmp     *os.File      // without checkpoints: the temporary file
	closed  bool
	wrote   bool

	// with checkpoints
	ckpt      bool
	mode      exec.DeliveryMode
	target    *os.File      // the target file, open for writing
	committed int64         // exactly-once: the target's committed length; at-least-once: its flushed length
	cur       *os.File      // exactly-once: the pending file rows go to; nil until a row comes after a barrier
	curName   string        // its base name
	next      int           // number of the next pending file
	pending   []pendingFile // pre-committed and not yet committed, oldest first
}

var _ exec.TwoPhaseSink = (*Sink)(nil)

// pendingFile is a pre-committed pending file.
type pendingFile struct {
	File   string `json:"file"`   // base name, in the target's directory
	Length int64  `json:"length"` // bytes to append
	id     uint64 // the checkpoint whose PreCommit closed it
}

// sinkHandle is what PreCommit returns (as JSON): the target's content at
// the checkpoint is its first Base bytes followed by the Pending files.
type sinkHandle struct {
	Path    string        `json:"path"`
	Base    int64         `json:"base"`
	Pending []pendingFile `json:"pending,omitempty"`
}

// TempPath is the temporary file being written without checkpoints (for
// tests and diagnostics); "" once StartCheckpointing has been called.
func (s *Sink) TempPath() string {
	if s.tmp == nil {
		return ""
	}
	return s.tmp.Name()
}

func (s *Sink) errorf(format string, args ...any) error {
	return fmt.Errorf("file sink %s: "+format, append([]any{s.path}, args...)...)
}

// Write appends the batch's rows, one per line.
func (s *Sink) Write(b *types.Batch) error {
	if s.closed {
		return s.errorf("write after finish or abort")
	}
	s.wrote = true
	if s.ckpt && s.mode == exec.DeliveryExactlyOnce && s.cur == nil && b.Len() > 0 {
		if err := s.openPending(); err != nil {
			return err
		}
	}
	for i, r := range b.Rows {
		k := b.Kind(i)
		if k != types.Insert {
			return s.errorf("got a %s row, but the file connector is append-only", k)
		}
		buf, err := s.enc.Encode(s.w.AvailableBuffer(), r, k)
		if err != nil {
			return s.errorf("%v", err)
		}
		if _, err := s.w.Write(append(buf, '\n')); err != nil {
			return s.errorf("%v", err)
		}
	}
	return nil
}

// Finish makes everything durable. Without checkpoints it flushes, syncs
// and renames the temporary file into place, then syncs the directory so
// the rename is durable. With checkpoints it commits everything written.
func (s *Sink) Finish() error {
	if s.closed {
		return s.errorf("already finished or aborted")
	}
	if s.ckpt {
		return s.finishCheckpointing()
	}
	err := s.w.Flush()
	if err == nil {
		err = s.tmp.Sync()
	}
	if err == nil {
		err = s.tmp.Chmod(targetMode(s.path))
	}
	if cerr := s.tmp.Close(); err == nil {
		err = cerr
	}
	s.closed = true
	if err == nil {
		err = os.Rename(s.tmp.Name(), s.path)
	}
	if err != nil {
		os.Remove(s.tmp.Name())
		return s.errorf("%v", err)
	}
	return s.syncDir()
}

// Abort removes what is not committed: without checkpoints the temporary
// file (an existing file at the path is left untouched); with checkpoints
// the pending file of the rows since the last barrier. Pre-committed
// pending files stay: a completed checkpoint whose commit had not yet run
// needs them to restore. Safe to call more than once.
func (s *Sink) Abort() {
	if s.closed {
		return
	}
	s.closed = true
	if !s.ckpt {
		s.tmp.Close()
		os.Remove(s.tmp.Name())
		return
	}
	if s.cur != nil {
		s.cur.Close()
		os.Remove(s.dirPath(s.curName))
		s.cur = nil
	}
	if s.target != nil {
		s.target.Close()
	}
}

// targetMode is the permission of the file at path, 0644 if there is none.
func targetMode(path string) fs.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().Perm()
	}
	return 0o644
}

func (s *Sink) dirPath(name string) string { return filepath.Join(filepath.Dir(s.path), name) }

func (s *Sink) syncDir() error {
	d, err := os.Open(filepath.Dir(s.path))
	if err != nil {
		return s.errorf("sync directory: %v", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return s.errorf("sync directory: %v", err)
	}
	return nil
}

// ---- checkpointing

// pendingPrefix is how this subtask's pending files start:
// '.<name>.pending-<subtask>-' (then a number).
func (s *Sink) pendingPrefix() string {
	return "." + filepath.Base(s.path) + ".pending-" + strconv.Itoa(s.subtask) + "-"
}

// StartCheckpointing implements exec.TwoPhaseSink. It drops the temporary
// file, then makes the target's content exactly what the recovered handle
// names (first its base bytes, then its pending files), or, without a
// handle, replaces the target by an empty file (with the header line, if
// any) as a job without checkpoints would at its end. It then removes every
// other pending and temporary file of this sink subtask.
func (s *Sink) StartCheckpointing(mode exec.DeliveryMode, recovered []exec.SinkHandle) error {
	switch {
	case s.ckpt:
		return s.errorf("StartCheckpointing called twice")
	case s.closed || s.wrote:
		return s.errorf("StartCheckpointing after Write, Finish or Abort")
	}
	var h *sinkHandle
	for _, r := range recovered {
		if r.Data == nil {
			continue
		}
		if h != nil {
			return s.errorf("cannot restore: the checkpoint holds handles of %d subtasks, but the file sink writes one file", len(recovered))
		}
		h = new(sinkHandle)
		if err := json.Unmarshal(r.Data, h); err != nil {
			return s.errorf("cannot restore: bad checkpoint handle %q: %v", r.Data, err)
		}
		if h.Path != s.path {
			return s.errorf("cannot restore: the checkpoint's handle is for file %s", h.Path)
		}
	}
	s.tmp.Close()
	os.Remove(s.tmp.Name())
	s.tmp = nil
	s.ckpt, s.mode = true, mode
	s.closed = true // until the target is ready
	var err error
	if h != nil {
		err = s.recover(h)
	} else {
		err = s.fresh()
	}
	if err == nil {
		err = s.removeLeftovers()
	}
	if err == nil && mode == exec.DeliveryAtLeastOnce {
		if _, err = s.target.Seek(s.committed, io.SeekStart); err != nil {
			err = s.errorf("%v", err)
		}
		s.w.Reset(s.target)
	}
	if err != nil {
		if s.target != nil {
			s.target.Close()
		}
		return err
	}
	s.closed = false
	return nil
}

// fresh replaces the target by a file holding only the header line.
func (s *Sink) fresh() error {
	tmp, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return s.errorf("%v", err)
	}
	_, err = tmp.Write(s.header)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Chmod(targetMode(s.path))
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return s.errorf("%v", err)
	}
	if err := s.syncDir(); err != nil {
		return err
	}
	if s.target, err = os.OpenFile(s.path, os.O_RDWR, 0); err != nil {
		return s.errorf("%v", err)
	}
	s.committed = int64(len(s.header))
	return nil
}

// recover makes the target's content h.Base bytes followed by h.Pending.
// Commit appends pending files in order, syncs, then removes them in order,
// so the files that are gone are a prefix of h.Pending and were appended;
// a file still present is (re)written at its place.
func (s *Sink) recover(h *sinkHandle) error {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) && h.Base == 0 {
		f, err = os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o644)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return s.errorf("cannot restore: the file is gone, but the checkpoint recorded %d committed bytes", h.Base)
		}
		return s.errorf("cannot restore: %v", err)
	}
	s.target = f
	fi, err := f.Stat()
	if err != nil {
		return s.errorf("cannot restore: %v", err)
	}
	size := fi.Size()
	if size < h.Base {
		return s.errorf("cannot restore: the file has %d bytes, fewer than the %d committed at the checkpoint; it changed since", size, h.Base)
	}
	o := h.Base
	for _, p := range h.Pending {
		if p.Length < 0 || strings.ContainsAny(p.File, `/\`) || !strings.HasPrefix(p.File, "."+filepath.Base(s.path)+".pending-") {
			return s.errorf("cannot restore: bad pending file %q in the checkpoint's handle", p.File)
		}
		pf, err := os.Open(s.dirPath(p.File))
		if errors.Is(err, fs.ErrNotExist) {
			// appended and synced by the commit that then removed it
			if size < o+p.Length {
				return s.errorf("cannot restore: pending file %s of the checkpoint is gone, but the file has %d bytes, fewer than the %d it had once that was appended; it changed since",
					p.File, size, o+p.Length)
			}
			o += p.Length
			continue
		}
		if err != nil {
			return s.errorf("cannot restore: %v", err)
		}
		err = f.Truncate(o)
		if err == nil {
			_, err = f.Seek(o, io.SeekStart)
		}
		var n int64
		if err == nil {
			n, err = io.CopyN(f, pf, p.Length)
		}
		pf.Close()
		if err == io.EOF {
			return s.errorf("cannot restore: pending file %s has %d bytes, but the checkpoint recorded %d", p.File, n, p.Length)
		}
		if err != nil {
			return s.errorf("cannot restore: %v", err)
		}
		o += p.Length
		size = o
	}
	if size > o {
		if err := f.Truncate(o); err != nil {
			return s.errorf("cannot restore: %v", err)
		}
	}
	if err := f.Sync(); err != nil {
		return s.errorf("cannot restore: %v", err)
	}
	s.committed = o
	return nil
}

// removeLeftovers removes this subtask's pending files and the sink's
// temporary files, and numbers new pending files after the largest seen.
func (s *Sink) removeLeftovers() error {
	entries, err := os.ReadDir(filepath.Dir(s.path))
	if err != nil {
		return s.errorf("%v", err)
	}
	prefix, tmpPrefix := s.pendingPrefix(), "."+filepath.Base(s.path)+".tmp-"
	removed := false
	for _, e := range entries {
		name := e.Name()
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			if n, err := strconv.Atoi(rest); err == nil && n >= s.next {
				s.next = n + 1
			}
		} else if !strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		if err := os.Remove(s.dirPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.errorf("remove %s: %v", name, err)
		}
		removed = true
	}
	if removed {
		return s.syncDir()
	}
	return nil
}

// openPending starts the pending file for the rows after a barrier.
func (s *Sink) openPending() error {
	name := s.pendingPrefix() + strconv.Itoa(s.next)
	s.next++
	f, err := os.OpenFile(s.dirPath(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return s.errorf("%v", err)
	}
	s.cur, s.curName = f, name
	s.w.Reset(f)
	return nil
}

// closePending flushes, syncs and closes the current pending file and adds
// it to the pre-committed ones under checkpoint id.
func (s *Sink) closePending(id uint64) error {
	err := s.w.Flush()
	if err == nil {
		err = s.cur.Sync()
	}
	var size int64
	if err == nil {
		size, err = s.cur.Seek(0, io.SeekCurrent)
	}
	if cerr := s.cur.Close(); err == nil {
		err = cerr
	}
	s.cur = nil
	if err != nil {
		return s.errorf("%v", err)
	}
	s.pending = append(s.pending, pendingFile{File: s.curName, Length: size, id: id})
	return s.syncDir() // the new file's name
}

// PreCommit implements exec.TwoPhaseSink. Exactly-once: the pending file
// of the rows since the last barrier is synced and closed (rows after the
// barrier go to a new one), and the handle records the target's committed
// length and the pending files not yet committed. At-least-once: the
// target is flushed and synced, and the handle records its length.
func (s *Sink) PreCommit(id uint64) ([]byte, error) {
	if !s.ckpt || s.closed {
		return nil, s.errorf("PreCommit without StartCheckpointing, or after Finish or Abort")
	}
	if s.mode == exec.DeliveryAtLeastOnce {
		err := s.w.Flush()
		if err == nil {
			err = s.target.Sync()
		}
		if err == nil {
			s.committed, err = s.target.Seek(0, io.SeekCurrent)
		}
		if err != nil {
			return nil, s.errorf("%v", err)
		}
	} else if s.cur != nil {
		if err := s.closePending(id); err != nil {
			return nil, err
		}
	}
	return json.Marshal(sinkHandle{Path: s.path, Base: s.committed, Pending: s.pending})
}

// Commit implements exec.TwoPhaseSink: in exactly-once mode it appends the
// pending files pre-committed for checkpoints ≤ id to the target, syncs it
// and removes them. Idempotent; a no-op in at-least-once mode.
func (s *Sink) Commit(id uint64) error {
	if !s.ckpt || s.closed || s.mode == exec.DeliveryAtLeastOnce {
		return nil
	}
	n := 0
	for n < len(s.pending) && s.pending[n].id <= id {
		n++
	}
	return s.commitFirst(n)
}

// commitFirst appends the first n pre-committed pending files.
func (s *Sink) commitFirst(n int) error {
	if n == 0 {
		return nil
	}
	o := s.committed
	for _, p := range s.pending[:n] {
		pf, err := os.Open(s.dirPath(p.File))
		if err != nil {
			return s.errorf("commit: %v", err)
		}
		_, err = s.target.Seek(o, io.SeekStart)
		if err == nil {
			_, err = io.CopyN(s.target, pf, p.Length)
		}
		pf.Close()
		if err != nil {
			return s.errorf("commit %s: %v", p.File, err)
		}
		o += p.Length
	}
	if err := s.target.Sync(); err != nil {
		return s.errorf("commit: %v", err)
	}
	s.committed = o
	for _, p := range s.pending[:n] { // in order: the files gone are a prefix
		if err := os.Remove(s.dirPath(p.File)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.errorf("commit: %v", err)
		}
	}
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return nil
}

// finishCheckpointing commits everything written and closes the target.
func (s *Sink) finishCheckpointing() error {
	s.closed = true
	var err error
	if s.mode == exec.DeliveryAtLeastOnce {
		err = s.w.Flush()
		if err == nil {
			err = s.target.Sync()
		}
		if err != nil {
			err = s.errorf("%v", err)
		}
	} else {
		if s.cur != nil {
			err = s.closePending(math.MaxUint64)
		}
		if err == nil {
			err = s.commitFirst(len(s.pending))
		}
	}
	if cerr := s.target.Close(); err == nil && cerr != nil {
		err = s.errorf("%v", cerr)
	}
	if err != nil {
		return err
	}
	return s.syncDir()
}
