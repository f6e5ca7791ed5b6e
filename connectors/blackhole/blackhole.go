package blackhole

import (
	"fmt"
	"sync/atomic"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Name is the connector name used in 'connector' = 'blackhole'.
const Name = "blackhole"

// total counts rows discarded by every blackhole sink of the process.
var total atomic.Int64

// TotalRows returns the number of rows discarded by all blackhole sinks
// since the process started (for benchmarks that only see SQL).
func TotalRows() int64 { return total.Load() }

func init() { connectors.Register(Connector{}) }

// Connector is the blackhole connector: a sink only.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return Name }

// NewSource always fails: a blackhole has nothing to read.
func (Connector) NewSource(t *connectors.Table) (connectors.SourceFactory, error) {
	return nil, fmt.Errorf("table %s: connector 'blackhole' is a sink only; it cannot be read", t.Name)
}

// NewSink implements connectors.Connector. It takes no options.
func (Connector) NewSink(t *connectors.Table) (connectors.SinkFactory, error) {
	if err := t.CheckOptions(); err != nil {
		return nil, err
	}
	return &SinkFactory{}, nil
}

// SinkFactory makes blackhole sinks and counts what they discard.
type SinkFactory struct {
	rows atomic.Int64
}

// AcceptsUpdates is true.
func (f *SinkFactory) AcceptsUpdates() bool { return true }

// MaxParallelism is 0: no cap.
func (f *SinkFactory) MaxParallelism() int { return 0 }

// Rows returns the rows discarded by this factory's sinks so far.
func (f *SinkFactory) Rows() int64 { return f.rows.Load() }

// Create makes a sink.
func (f *SinkFactory) Create(subtask, parallelism int) (exec.Sink, error) {
	return &Sink{factory: f}, nil
}

// Sink discards rows, counting them.
type Sink struct {
	factory *SinkFactory
	rows    atomic.Int64
}

// Rows returns the rows this sink discarded.
func (s *Sink) Rows() int64 { return s.rows.Load() }

// Write counts and drops the batch.
func (s *Sink) Write(b *types.Batch) error {
	n := int64(b.Len())
	s.rows.Add(n)
	s.factory.rows.Add(n)
	total.Add(n)
	return nil
}

// Finish does nothing.
func (s *Sink) Finish() error { return nil }

// Abort does nothing.
func (s *Sink) Abort() {}
