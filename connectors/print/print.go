package print

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/format"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Name is the connector name used in 'connector' = 'print'.
const Name = "print"

// Output is where print sinks write unless 'standard-error' = 'true'.
// Tests may replace it; writes to it are serialized by a package mutex.
var Output io.Writer = os.Stdout

var mu sync.Mutex // serializes writes of all print sinks

func init() { connectors.Register(Connector{}) }

// Connector is the print connector: a sink only.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return Name }

// NewSource always fails: print cannot be read.
func (Connector) NewSource(t *connectors.Table) (connectors.SourceFactory, error) {
	return nil, fmt.Errorf("table %s: connector 'print' is a sink only; it cannot be read", t.Name)
}

// NewSink implements connectors.Connector.
func (Connector) NewSink(t *connectors.Table) (connectors.SinkFactory, error) {
	if err := t.CheckOptions("print-identifier", "standard-error"); err != nil {
		return nil, err
	}
	f := &SinkFactory{identifier: t.Option("print-identifier", "")}
	switch v := strings.ToLower(t.Option("standard-error", "false")); v {
	case "true":
		f.stderr = true
	case "false":
	default:
		return nil, fmt.Errorf("table %s: option 'standard-error' must be 'true' or 'false', got '%s'", t.Name, v)
	}
	return f, nil
}

// SinkFactory makes print sinks.
type SinkFactory struct {
	identifier string
	stderr     bool
}

// AcceptsUpdates is true: every row kind prints.
func (f *SinkFactory) AcceptsUpdates() bool { return true }

// MaxParallelism is 0: no cap.
func (f *SinkFactory) MaxParallelism() int { return 0 }

// Create makes subtask i of n. The line prefix follows Flink: "id> " with
// an identifier, "<i+1>> " with parallelism > 1, "id:<i+1>> " with both.
func (f *SinkFactory) Create(subtask, parallelism int) (exec.Sink, error) {
	prefix := f.identifier
	if parallelism > 1 {
		if prefix != "" {
			prefix += ":"
		}
		prefix += strconv.Itoa(subtask + 1)
	}
	if prefix != "" {
		prefix += "> "
	}
	return &Sink{prefix: prefix, stderr: f.stderr}, nil
}

// Sink prints rows as "+I[v1, v2, ...]", one per line, NULL as NULL.
type Sink struct {
	prefix string
	stderr bool
	buf    []byte
}

// AppendRow appends one printed row (without newline) to dst.
func AppendRow(dst []byte, r types.Row, kind types.RowKind) []byte {
	dst = append(dst, kind.String()...)
	dst = append(dst, '[')
	for i, v := range r {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = format.AppendText(dst, v)
	}
	return append(dst, ']')
}

// Write prints the batch with one write call.
func (s *Sink) Write(b *types.Batch) error {
	s.buf = s.buf[:0]
	for i, r := range b.Rows {
		s.buf = append(s.buf, s.prefix...)
		s.buf = AppendRow(s.buf, r, b.Kind(i))
		s.buf = append(s.buf, '\n')
	}
	if len(s.buf) == 0 {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	w := Output
	if s.stderr {
		w = os.Stderr
	}
	if _, err := w.Write(s.buf); err != nil {
		return fmt.Errorf("print sink: %v", err)
	}
	return nil
}

// Finish does nothing: every Write has already been written.
func (s *Sink) Finish() error { return nil }

// Abort does nothing.
func (s *Sink) Abort() {}
