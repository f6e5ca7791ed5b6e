// Package sourcetest has a fake exec.SourceOutput for connector tests: it
// implements exec.PositionOutput like the runtime does for a Resumable
// source, records rows and positions by split name, and can stop a source
// after a number of batches, the way a checkpoint followed by a crash cuts
// it.
package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"

	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// ErrStop is what EmitAt returns once StopAfter batches were delivered.
var ErrStop = errors.New("sourcetest: stopped")

// Snapshot is the state after one EmitAt or SetPosition: how many rows had
// been delivered, and every split's position.
type Snapshot struct {
	Rows int
	Pos  map[string]int64
}

// Output records what a source hands it. It is safe for concurrent use.
type Output struct {
	mu        sync.Mutex
	names     []string
	Pos       map[string]int64       // split name → position
	Rows      map[string][]types.Row // split name → rows, in order
	All       []types.Row            // every row, in emission order
	Done      map[string]bool
	Batches   int
	StopAfter int        // > 0: EmitAt fails with ErrStop, delivering nothing, after this many batches
	Snapshots []Snapshot // after every EmitAt and SetPosition, when Snap is set
	Snap      bool
	err       error // the first misuse
}

// New makes an Output for src: split ids 0..Splits()-1 are named by
// SplitNames when src is exec.Resumable, else "0", "1", ...
func New(src exec.Source) *Output {
	o := &Output{Pos: map[string]int64{}, Rows: map[string][]types.Row{}, Done: map[string]bool{}}
	if r, ok := src.(exec.Resumable); ok {
		o.names = r.SplitNames()
		if len(o.names) != src.Splits() {
			o.fail(fmt.Errorf("SplitNames gave %d names for %d splits", len(o.names), src.Splits()))
		}
	} else {
		for i := 0; i < src.Splits(); i++ {
			o.names = append(o.names, strconv.Itoa(i))
		}
	}
	return o
}

// Run resumes src at pos (when pos is not nil) and runs it into a new
// Output. The error is Run's, or a misuse of the output (emitting on a
// finished split, a position going back, Emit without a position).
func Run(src exec.Source, pos map[string]int64, stopAfter int, snap bool) (*Output, error) {
	o := New(src)
	o.StopAfter, o.Snap = stopAfter, snap
	if pos != nil {
		if err := src.(exec.Resumable).Resume(maps.Clone(pos)); err != nil {
			return o, err
		}
	}
	err := src.Run(context.Background(), o)
	if o.err != nil {
		return o, o.err
	}
	return o, err
}

// Name returns the name of split id.
func (o *Output) Name(id int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.names[id]
}

func (o *Output) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

func (o *Output) name(split int) (string, bool) {
	if split < 0 || split >= len(o.names) {
		o.fail(fmt.Errorf("unknown split %d", split))
		return "", false
	}
	return o.names[split], true
}

func (o *Output) setPos(name string, next int64) {
	if old, ok := o.Pos[name]; ok && next < old {
		o.fail(fmt.Errorf("split %s: position went back from %d to %d", name, old, next))
	}
	o.Pos[name] = next
	if o.Snap {
		o.Snapshots = append(o.Snapshots, Snapshot{Rows: len(o.All), Pos: maps.Clone(o.Pos)})
	}
}

// Emit fails: a Resumable source must emit with exec.EmitAt.
func (o *Output) Emit(split int, b *types.Batch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := fmt.Errorf("Emit on split %d without a position", split)
	o.fail(err)
	return err
}

// EmitAt implements exec.PositionOutput.
func (o *Output) EmitAt(split int, b *types.Batch, next int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	name, ok := o.name(split)
	if !ok {
		return o.err
	}
	if o.Done[name] {
		o.fail(fmt.Errorf("emit on split %s after SplitDone", name))
		return o.err
	}
	if o.StopAfter > 0 && o.Batches >= o.StopAfter {
		return ErrStop
	}
	if b.Kinds != nil {
		o.fail(fmt.Errorf("split %s: a batch with row kinds", name))
	}
	o.Batches++
	o.Rows[name] = append(o.Rows[name], b.Rows...)
	o.All = append(o.All, b.Rows...)
	o.setPos(name, next)
	return nil
}

// SetPosition implements exec.PositionOutput.
func (o *Output) SetPosition(split int, next int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if name, ok := o.name(split); ok {
		o.setPos(name, next)
	}
}

// AddNamedSplit implements exec.PositionOutput.
func (o *Output) AddNamedSplit(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range o.names {
		if n == name {
			o.fail(fmt.Errorf("split %s added twice", name))
		}
	}
	o.names = append(o.names, name)
	return len(o.names) - 1
}

// AddSplit fails: a Resumable source names its splits.
func (o *Output) AddSplit() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fail(errors.New("AddSplit without a name"))
	o.names = append(o.names, "?")
	return len(o.names) - 1
}

// SplitDone marks a split finished.
func (o *Output) SplitDone(split int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if name, ok := o.name(split); ok {
		if o.Done[name] {
			o.fail(fmt.Errorf("SplitDone twice on split %s", name))
		}
		o.Done[name] = true
	}
}

// SplitIdle is ignored.
func (o *Output) SplitIdle(int) {}

var (
	_ exec.SourceOutput   = (*Output)(nil)
	_ exec.PositionOutput = (*Output)(nil)
)

// Rescale runs a generator through a chain of restores: in phase k it
// creates every subtask of pars[k] subtasks, resumes each at the positions
// the previous phase left (all of them, as the runtime does), and runs it
// until stop(phase) batches (0: to the end). It returns, split by split,
// the rows delivered, in order. A correct source delivers every row of the
// stream exactly once over the phases.
func Rescale(create func(subtask, parallelism int) exec.Source, pars []int, stop func(phase int) int) ([][]types.Row, error) {
	var splits [][]types.Row
	var pos map[string]int64
	for phase, p := range pars {
		next := map[string]int64{}
		for i := 0; i < p; i++ {
			out, err := Run(create(i, p), pos, stop(phase), false)
			if err != nil && !errors.Is(err, ErrStop) {
				return nil, err
			}
			maps.Copy(next, out.Pos)
			for _, rs := range out.Rows {
				splits = append(splits, rs)
			}
		}
		pos = next
	}
	return splits, nil
}
