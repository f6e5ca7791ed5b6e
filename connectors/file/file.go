package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Run reads the files in order, emitting batches tagged with the split.
func (s *Source) Run(ctx context.Context, out exec.SourceOutput) error {
	err := s.run(ctx, out)
	if n := s.skipped.Load(); n > 0 && s.status != nil {
		s.status(fmt.Sprintf("skipped %d record(s) that did not decode (on-error = 'skip'), the first: %v", n, s.firstSkip))
	}
	return err
}

func (s *Source) run(ctx context.Context, out exec.SourceOutput) error {
	var r *bufio.Reader
	for split, path := range s.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("file %s: %v", path, err)
		}
		if r == nil {
			r = bufio.NewReaderSize(f, readBufferSize)
		} else {
			r.Reset(f)
		}
		err = s.readFile(ctx, split, path, r, out)
		f.Close()
		if err != nil {
			return err
		}
		out.SplitDone(split)
	}
	return nil
}

var bom = []byte("\xEF\xBB\xBF")

func (s *Source) readFile(ctx context.Context, split int, path string, r *bufio.Reader, out exec.SourceOutput) error {
	bs := s.factory.batchSize
	newBatch := func() (*types.Batch, *types.RowArena) {
		return &types.Batch{Rows: make([]types.Row, 0, bs)}, types.NewRowArena(s.width, bs)
	}
	batch, arena := newBatch()
	var row types.Row // taken from the arena, not yet in the batch
	var long []byte   // a line longer than the read buffer
	header := s.factory.header
	lineNo := 0
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
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		if len(line) > 0 {
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
						if err := out.Emit(split, batch); err != nil {
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
	if len(batch.Rows) > 0 {
		if err := out.Emit(split, batch); err != nil {
			return emitError(ctx, err)
		}
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

// Create opens the temporary file the sink writes to.
func (f *SinkFactory) Create(subtask, parallelism int) (exec.Sink, error) {
	if subtask != 0 || parallelism != 1 {
		return nil, fmt.Errorf("file sink %s: parallelism must be 1, got subtask %d of %d", f.path, subtask, parallelism)
	}
	_, enc, err := format.New(f.format, &f.schema, f.options)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %v", f.path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %v", f.path, err)
	}
	s := &Sink{path: f.path, tmp: tmp, w: bufio.NewWriterSize(tmp, readBufferSize), enc: enc}
	if f.header {
		if ce, ok := enc.(*format.CSVEncoder); ok {
			buf := ce.AppendHeader(s.w.AvailableBuffer())
			if _, err := s.w.Write(append(buf, '\n')); err != nil {
				s.Abort()
				return nil, fmt.Errorf("file sink %s: %v", f.path, err)
			}
		}
	}
	return s, nil
}

// Sink writes to a temporary file next to the target and renames it into
// place at Finish; Abort removes it.
type Sink struct {
	path   string
	tmp    *os.File
	w      *bufio.Writer
	enc    format.Encoder
	closed bool
}

// TempPath is the temporary file being written (for tests and diagnostics).
func (s *Sink) TempPath() string { return s.tmp.Name() }

// Write appends the batch's rows, one per line.
func (s *Sink) Write(b *types.Batch) error {
	if s.closed {
		return fmt.Errorf("file sink %s: write after finish or abort", s.path)
	}
	for i, r := range b.Rows {
		k := b.Kind(i)
		if k != types.Insert {
			return fmt.Errorf("file sink %s: got a %s row, but the file connector is append-only", s.path, k)
		}
		buf, err := s.enc.Encode(s.w.AvailableBuffer(), r, k)
		if err != nil {
			return fmt.Errorf("file sink %s: %v", s.path, err)
		}
		if _, err := s.w.Write(append(buf, '\n')); err != nil {
			return fmt.Errorf("file sink %s: %v", s.path, err)
		}
	}
	return nil
}

// Finish flushes, syncs and renames the file into place, then syncs the
// directory so the rename is durable.
func (s *Sink) Finish() error {
	if s.closed {
		return fmt.Errorf("file sink %s: already finished or aborted", s.path)
	}
	err := s.w.Flush()
	if err == nil {
		err = s.tmp.Sync()
	}
	if err == nil {
		mode := fs.FileMode(0o644)
		if fi, serr := os.Stat(s.path); serr == nil {
			mode = fi.Mode().Perm()
		}
		err = s.tmp.Chmod(mode)
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
		return fmt.Errorf("file sink %s: %v", s.path, err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("file sink %s: sync directory: %v", s.path, err)
		}
	}
	return nil
}

// Abort removes the temporary file; an existing file at the path is left
// untouched. Safe to call more than once.
func (s *Sink) Abort() {
	if s.closed {
		return
	}
	s.closed = true
	s.tmp.Close()
	os.Remove(s.tmp.Name())
}
