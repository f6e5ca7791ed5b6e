// GroupAgg: non-windowed GROUP BY, an updating operator.
//
// Output rows are [keys..., aggs...] as a changelog. Input +I/+U rows add to
// their group, -U/-D rows retract from it. Changes are folded per input
// batch (a mini-batch): after each batch, every group the batch touched is
// compared with what was last emitted for it, and one output batch (none if
// nothing changed) carries, in the order the groups were first touched by
// the batch:
//
//	group new, rows > 0                 +I new
//	group emitted, rows > 0, changed    -U old, +U new
//	group emitted, rows dropped to 0    -D old (and its state is dropped)
//	aggregate values unchanged          nothing
//
// "rows" is the group's row count (adds minus retractions). A retraction for
// a group that has no rows is ignored, as Flink does: it can only follow
// upstream state expiry. Without GROUP BY (Keys empty) there is one global
// group, emitted as +I on the first row (as Flink does; an empty input emits
// nothing).
//
// InputUpdating must be set when the input is a changelog: it makes
// MIN/MAX keep a value multiset so that retracting the current extreme
// finds the next one. A retraction on an input declared append-only is an
// error (the planner got the changelog mode wrong).
//
// State: map from the compact key encoding (appendGroupKey) to the group:
// key values, accumulators, row count and the last emitted aggregate values
// (kept separately from the emitted rows, which belong to downstream).
//
// State TTL (TTL > 0, 'table.exec.state.ttl'): a group not written (a row
// added or retracted) for TTL of processing time is dropped without any
// output, as Flink's idle state retention does: its last row stays
// downstream, and a later row for the key starts a new group, emitted as
// +I; a retraction for it is ignored. Expiry happens when the key is
// touched and in OnTick, which sweeps a queue holding each group at most
// once. After a restore the TTL of every restored group starts again.
package exec

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// GroupAggConfig configures a GroupAgg.
type GroupAggConfig struct {
	Keys          []int     // input columns of the GROUP BY keys
	Aggs          []AggCall // aggregate calls
	InputUpdating bool      // the input carries -U/-D rows
	// MaxKeyGroups is the job's number of key groups, for state keys
	// (default DefaultMaxKeyGroups).
	MaxKeyGroups int
	// TTL, when positive, drops groups idle that long (see the file
	// comment). Now is the processing-time clock in ms (default: the
	// wall clock).
	TTL time.Duration
	Now func() int64
}

// GroupAgg is the non-windowed aggregate operator. See the file comment.
type GroupAgg struct {
	keys     []int
	agg      *aggregator
	nAggs    int
	updating bool

	groups  map[string]*aggGroup
	keyBuf  []byte
	touched []*aggGroup
	res     []types.Value
	out     aggOut

	maxGroups int
	ck        groupAggState // groupagg_state.go

	ttl  stateTTL
	ttlQ []ttlItem // see OnTick

	sp *groupSpill // groupagg_spill.go; nil without spilling

	ttlHead int
	expired int64 // groups dropped by the TTL
}

var _ Operator = (*GroupAgg)(nil)

type aggGroup struct {
	key     string
	vals    types.Row // key values
	accs    []Accumulator
	prev    []types.Value // aggregate values last emitted
	rows    int64
	emitted bool
	touched bool
	kg      uint16
	written int64 // processing time of the last write (TTL)
	qat     int64 // time of its entry in ttlQ, when queued
	queued  bool  // in ttlQ
	// checkpointing (groupagg_state.go)
	ck   groupCk
	idx  int32 // position in ck.all
	dpos int32 // position in ck.dirty when changed in the current epoch
	dead bool
	// spilling (groupagg_spill.go)
	ref  bool  // used since the clock hand last passed
	size int32 // estimated bytes in memory
}

// NewGroupAgg checks cfg and builds the operator.
func NewGroupAgg(cfg GroupAggConfig) (*GroupAgg, error) {
	for _, k := range cfg.Keys {
		if k < 0 {
			return nil, fmt.Errorf("group aggregation: key column %d is invalid", k)
		}
	}
	calls, err := resolveAggCalls(cfg.Aggs)
	if err != nil {
		return nil, fmt.Errorf("group aggregation: %w", err)
	}
	g := &GroupAgg{
		keys:     slices.Clone(cfg.Keys),
		agg:      newAggregator(calls, cfg.InputUpdating),
		nAggs:    len(calls),
		updating: cfg.InputUpdating,
		groups:   make(map[string]*aggGroup),
		res:      make([]types.Value, len(calls)),
	}
	g.maxGroups = cfg.MaxKeyGroups
	if g.maxGroups <= 0 {
		g.maxGroups = DefaultMaxKeyGroups
	}
	if g.ttl, err = newStateTTL("group aggregation", cfg.TTL, cfg.Now); err != nil {
		return nil, err
	}
	g.out.init(len(cfg.Keys)+len(calls), 0)
	return g, nil
}

// Process folds a batch into the groups and emits the resulting changes.
func (g *GroupAgg) Process(_ int, b *types.Batch, out Emitter) error {
	if !g.updating && b.Kinds != nil {
		for _, k := range b.Kinds {
			if k.IsRetract() {
				return fmt.Errorf("group aggregation: got a %s row on an input declared append-only", k)
			}
		}
	}
	var now int64
	if g.ttl.ms > 0 {
		now = g.ttl.now()
	}
	for i, row := range b.Rows {
		g.keyBuf = appendGroupKey(g.keyBuf[:0], row, g.keys)
		grp, err := g.lookup(row)
		if err != nil {
			return err
		}
		if grp != nil && g.ttl.ms > 0 && !grp.dead && !grp.touched && now-grp.written >= g.ttl.ms {
			g.expire(grp)
			grp = g.groups[string(g.keyBuf)] // nil unless kept for a capture
		}
		if grp != nil {
			grp.ref = true
			if g.ttl.ms > 0 {
				grp.written = now
			}
		}
		if b.Kind(i).IsRetract() {
			if grp == nil || grp.rows <= 0 || grp.dead {
				continue
			}
			g.touch(grp)
			g.agg.retract(grp.accs, row)
			grp.rows--
			continue
		}
		switch {
		case grp == nil:
			grp = g.newGroup(row)
			grp.written = now
		case grp.dead:
			g.revive(grp)
		}
		if g.ttl.ms > 0 && !grp.queued {
			grp.queued, grp.qat = true, now
			g.ttlQ = append(g.ttlQ, ttlItem{key: grp.key, kg: grp.kg, at: now})
		}
		g.touch(grp)
		g.agg.add(grp.accs, row)
		grp.rows++
	}
	if len(g.touched) > 0 {
		g.out.reserve(2 * len(g.touched))
	}
	for _, grp := range g.touched {
		g.emit(grp)
	}
	clear(g.touched)
	g.touched = g.touched[:0]
	if err := g.out.flush(out); err != nil {
		return err
	}
	return g.maybeEvict()
}

func (g *GroupAgg) keyGroup(row types.Row) uint16 {
	return uint16(types.KeyHash(row, g.keys) % uint64(g.maxGroups))
}

func (g *GroupAgg) newGroup(row types.Row) *aggGroup {
	vals := make(types.Row, len(g.keys))
	for i, c := range g.keys {
		vals[i] = row[c]
	}
	grp := &aggGroup{
		key:  string(g.keyBuf),
		vals: vals,
		accs: make([]Accumulator, g.nAggs),
		prev: make([]types.Value, g.nAggs),
		kg:   g.keyGroup(row),
	}
	g.addGroup(grp)
	g.resident(grp)
	return grp
}

// expire drops a group whose TTL ended, without output.
func (g *GroupAgg) expire(grp *aggGroup) {
	if g.ck.track {
		g.markDirty(grp) // a captured value is written first
	}
	grp.dead = true
	g.expired++
	if !g.ck.track {
		g.removeGroup(grp)
	} // else the capture that writes its deletion removes it
}

// TickInterval implements Ticker: the TTL sweep runs a few times per TTL
// (at most once a second); without a TTL there are no ticks.
func (g *GroupAgg) TickInterval() time.Duration {
	return g.ttl.tickInterval()
}

// OnTick implements Ticker: it drops the groups whose TTL has passed. The
// queue holds each group once, at the time of the write that queued it; a
// group written since goes back in at its last write. The queue is in
// time order but for those, which can only delay an expiry, never bring
// one forward.
func (g *GroupAgg) OnTick(Emitter) error {
	if g.ttl.ms <= 0 {
		return nil
	}
	now := g.ttl.now()
	for g.ttlHead < len(g.ttlQ) {
		it := g.ttlQ[g.ttlHead]
		if now-it.at < g.ttl.ms {
			break
		}
		g.ttlQ[g.ttlHead] = ttlItem{}
		g.ttlHead++
		grp := g.groups[it.key]
		if grp == nil && g.sp != nil && g.sp.spilled > 0 {
			requeue, err := g.sweepSpilled(it, now)
			if err != nil {
				return err
			}
			if requeue {
				continue
			}
			grp = g.groups[it.key] // reloaded to expire
		}
		switch {
		case grp == nil || grp.qat != it.at: // removed, or not this entry's group
		case grp.dead: // emptied, or expired when touched
			grp.queued = false
		case now-grp.written >= g.ttl.ms:
			grp.queued = false
			g.expire(grp)
		default:
			grp.qat = grp.written
			g.ttlQ = append(g.ttlQ, ttlItem{key: grp.key, kg: grp.kg, at: grp.written})
		}
	}
	if g.ttlHead > 1024 && g.ttlHead > len(g.ttlQ)/2 {
		n := copy(g.ttlQ, g.ttlQ[g.ttlHead:])
		clear(g.ttlQ[n:])
		g.ttlQ, g.ttlHead = g.ttlQ[:n], 0
	}
	return g.maybeEvict()
}

// sweepSpilled handles a due expiry-queue entry whose group is spilled: a
// group not expired goes back in the queue at its last write (requeue);
// an expired one is reloaded for OnTick to drop.
func (g *GroupAgg) sweepSpilled(it ttlItem, now int64) (requeue bool, err error) {
	v, ok, err := g.sp.sp.Get(it.kg, stringBytes(it.key))
	if err != nil || !ok {
		return false, err
	}
	written, qat, ok := spilledTTL(v)
	if !ok || qat != it.at {
		return false, nil
	}
	if now-written < g.ttl.ms {
		// rewrite the header's queue time: the entry moves to written
		binary.LittleEndian.PutUint64(v[17:], uint64(written))
		if err := g.sp.sp.Put(it.kg, stringBytes(it.key), v); err != nil {
			return false, err
		}
		g.ttlQ = append(g.ttlQ, ttlItem{key: it.key, kg: it.kg, at: written})
		return true, nil
	}
	_, err = g.reload(it.kg, stringBytes(it.key))
	return false, err
}

type ttlItem struct {
	key string
	kg  uint16
	at  int64
}

// ExpiredGroups is how many groups the state TTL dropped.
func (g *GroupAgg) ExpiredGroups() int64 { return g.expired }

func (g *GroupAgg) touch(grp *aggGroup) {
	if !grp.touched {
		if g.ck.track {
			g.markDirty(grp) // before it changes
		}
		grp.touched = true
		g.touched = append(g.touched, grp)
	}
}

// emit appends the change of one touched group to the output batch.
func (g *GroupAgg) emit(grp *aggGroup) {
	grp.touched = false
	if grp.rows <= 0 {
		if grp.emitted {
			g.row(types.Delete, grp.vals, grp.prev)
		}
		grp.dead = true
		if !g.ck.track {
			g.removeGroup(grp)
		} // else the capture that writes its deletion removes it
		return
	}
	g.agg.results(grp.accs, g.res)
	if grp.emitted {
		if slices.Equal(grp.prev, g.res) {
			return
		}
		g.row(types.UpdateBefore, grp.vals, grp.prev)
		g.row(types.UpdateAfter, grp.vals, g.res)
	} else {
		g.row(types.Insert, grp.vals, g.res)
		grp.emitted = true
	}
	copy(grp.prev, g.res)
}

func (g *GroupAgg) row(k types.RowKind, keys types.Row, aggs []types.Value) {
	r := g.out.next(k)
	copy(r, keys)
	copy(r[len(keys):], aggs)
}
