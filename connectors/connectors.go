package connectors

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Table is what a connector sees of a CREATE TABLE: its schema, options and
// event-time declaration. Option keys are lower-cased; values are as written.
type Table struct {
	Name       string
	Schema     types.Schema
	Options    map[string]string
	PrimaryKey []int // column indexes; nil if none
	// RowtimeCol is the index of the column a WATERMARK is declared on, or -1.
	RowtimeCol int
	// WatermarkDelay is the declared out-of-orderness bound in milliseconds.
	WatermarkDelay int64
}

// Option returns an option's value or def when absent.
func (t *Table) Option(key, def string) string {
	if v, ok := t.Options[key]; ok {
		return v
	}
	return def
}

// CheckOptions returns an error naming the first option not in allowed
// (besides 'connector'), listing the allowed ones.
func (t *Table) CheckOptions(allowed ...string) error {
	ok := map[string]bool{"connector": true}
	for _, a := range allowed {
		ok[a] = true
	}
	var keys []string
	for k := range t.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ok[k] {
			sort.Strings(allowed)
			return fmt.Errorf("table %s: unknown option '%s' for connector '%s' (valid: %s)",
				t.Name, k, t.Options["connector"], strings.Join(allowed, ", "))
		}
	}
	return nil
}

// SourceFactory creates the subtasks of a table's source.
type SourceFactory interface {
	// Bounded reports whether the source ends by itself.
	Bounded() bool
	// MaxParallelism caps the source's parallelism (0 = no cap), e.g. the
	// number of files or partitions.
	MaxParallelism() int
	// Create makes subtask i of n. Called on the planning goroutine.
	Create(subtask, parallelism int) (exec.Source, error)
}

// SinkFactory creates the subtasks of a table's sink.
type SinkFactory interface {
	// AcceptsUpdates reports whether the sink can take -U/+U/-D rows.
	// Append-only sinks (files) reject updating queries at plan time.
	AcceptsUpdates() bool
	// MaxParallelism caps the sink's parallelism (0 = no cap).
	MaxParallelism() int
	Create(subtask, parallelism int) (exec.Sink, error)
}

// Connector builds sources and sinks for tables that name it in their
// 'connector' option. New* validate the table's options and schema eagerly
// so that CREATE TABLE / planning fails with a clear message.
type Connector interface {
	Name() string
	// NewSource returns an error if the connector cannot be read.
	NewSource(t *Table) (SourceFactory, error)
	// NewSink returns an error if the connector cannot be written.
	NewSink(t *Table) (SinkFactory, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Connector{}
)

// Register adds a connector; called from init functions.
func Register(c Connector) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[c.Name()]; dup {
		panic("connectors: registered twice: " + c.Name())
	}
	registry[c.Name()] = c
}

// Lookup finds a connector by name.
func Lookup(name string) (Connector, error) {
	mu.RLock()
	defer mu.RUnlock()
	c, ok := registry[strings.ToLower(name)]
	if !ok {
		var names []string
		for n := range registry {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown connector '%s' (available: %s)", name, strings.Join(names, ", "))
	}
	return c, nil
}
