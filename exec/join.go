// Join: the regular streaming equi-join (INNER, LEFT, RIGHT, FULL OUTER),
// an updating operator with two inputs (0 = left, 1 = right).
//
// Both inputs are hash-partitioned on their key columns (LeftKeys,
// RightKeys, of identical types), so equal keys meet in one subtask; the
// runtime's aligned merge delivers both inputs, so checkpoint barriers are
// aligned without the operator knowing. Every row is kept, per key and
// side, with its multiplicity and, on a preserved (outer) side, the number
// of rows it matches on the other side; a row that arrives is matched
// against the other side's rows of its key that satisfy Residual.
//
// Output rows are [left[:LeftWidth]..., right[:RightWidth]...]; a missing
// side is NULL. The changelog, for a row x arriving on side s (o is the
// other side, m a matching row of o, pad(y) y padded with NULLs):
//
//	x accumulates (+I, +U)
//	  for each m:  +I join(x, m)            (m on an inner side, or m matched before)
//	               -U pad(m), +U join(x, m)  (m on a preserved side had no match:
//	                                          its padded row becomes the joined one)
//	  no m, s preserved:  +I pad(x)
//	x retracts (-U, -D)
//	  for each m:  -D join(x, m)
//	               -U join(x, m), +U pad(m)  (m on a preserved side loses its last match)
//	  no m, s preserved:  -D pad(x)
//
// A row matched by m copies of an identical row is emitted m times. Input
// update pairs are not carried through (a -U/+U pair of the input becomes
// -D/+I rows): an updated row may match other rows than before, so the
// pairs would not line up; -U/+U pairs in the output always stand next to
// each other, in one batch, and concern the same preserved row, which
// upsert sinks keyed on the preserved side rely on.
//
// NULL keys: SQL's = never matches NULL, so a row with a NULL in a key
// column (not NullSafe, i.e. not <=>) matches nothing and is not stored; on
// a preserved side it is emitted padded at once (and retracted padded).
// A retraction of a row the operator does not hold (its state expired, or
// it was never seen) is ignored and counted (RetractMisses).
//
// State TTL. With TTL > 0 a stored row expires TTL after it was last
// written (inserted, or its multiplicity changed), in processing time read
// from Now, as Flink's 'table.exec.state.ttl' with the OnCreateAndWrite
// update type: expired rows are dropped without output, lazily when their
// key is touched and by OnTick, which sweeps a queue of writes in time
// order. A dropped row no longer joins with later rows, and its
// retraction is ignored: TTL trades exactness for bounded state.
//
// Output batches hold at most joinOutBatch rows (more when one input row's
// matches, which are never split, exceed it).
package exec

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// JoinKind is the kind of a join.
type JoinKind uint8

const (
	JoinInner JoinKind = iota
	JoinLeft
	JoinRight
	JoinFull
)

func (k JoinKind) String() string {
	switch k {
	case JoinInner:
		return "INNER"
	case JoinLeft:
		return "LEFT"
	case JoinRight:
		return "RIGHT"
	case JoinFull:
		return "FULL"
	}
	return fmt.Sprintf("JoinKind(%d)", uint8(k))
}

// Preserves reports whether rows of side (0 left, 1 right) that match
// nothing are kept, padded with NULLs.
func (k JoinKind) Preserves(side int) bool {
	switch k {
	case JoinLeft:
		return side == 0
	case JoinRight:
		return side == 1
	case JoinFull:
		return true
	}
	return false
}

// joinOutBatch bounds the rows of one output batch.
const joinOutBatch = 1024

// joinShape is what every join operator shares: keys, widths, the residual
// condition and the output builder.
type joinShape struct {
	kind      JoinKind
	keys      [2][]int
	nullSafe  []bool
	width     [2]int
	need      [2]int // columns an input row must have
	residual  expr.Expr
	scratch   types.Row // left ++ right, for the residual
	keyBuf    []byte
	out       aggOut
	maxGroups int
}

func newJoinShape(kind JoinKind, lk, rk []int, nullSafe []bool, lw, rw int, residual expr.Expr, maxGroups int) (joinShape, error) {
	s := joinShape{kind: kind, keys: [2][]int{slices.Clone(lk), slices.Clone(rk)}, width: [2]int{lw, rw}, residual: residual}
	if len(lk) != len(rk) {
		return s, fmt.Errorf("join: %d left keys but %d right keys", len(lk), len(rk))
	}
	if kind > JoinFull {
		return s, fmt.Errorf("join: unknown kind %d", kind)
	}
	if lw < 0 || rw < 0 {
		return s, fmt.Errorf("join: negative width")
	}
	for side, ks := range s.keys {
		for _, k := range ks {
			if k < 0 {
				return s, fmt.Errorf("join: key column %d of input %d is invalid", k, side)
			}
		}
	}
	for side := range s.need {
		s.need[side] = max(s.width[side], maxCol(s.keys[side])+1)
	}
	s.nullSafe = make([]bool, len(lk))
	copy(s.nullSafe, nullSafe)
	s.scratch = make(types.Row, lw+rw)
	s.maxGroups = maxGroups
	if s.maxGroups <= 0 {
		s.maxGroups = DefaultMaxKeyGroups
	}
	s.out.init(lw+rw, joinOutBatch)
	return s, nil
}

// nullKey reports whether row has a NULL in a key column that must not
// match NULL.
func (s *joinShape) nullKey(side int, row types.Row) bool {
	for i, c := range s.keys[side] {
		if row[c].Kind == types.Null && !s.nullSafe[i] {
			return true
		}
	}
	return false
}

// key encodes row's key into s.keyBuf.
func (s *joinShape) key(side int, row types.Row) []byte {
	s.keyBuf = appendGroupKey(s.keyBuf[:0], row, s.keys[side])
	return s.keyBuf
}

func (s *joinShape) keyGroup(side int, row types.Row) uint16 {
	return uint16(types.KeyHash(row, s.keys[side]) % uint64(s.maxGroups))
}

// match evaluates the residual condition on a pair (l from the left input,
// r from the right).
func (s *joinShape) match(l, r types.Row) (bool, error) {
	if s.residual == nil {
		return true, nil
	}
	lw := s.width[0]
	copy(s.scratch[:lw], l[:lw])
	copy(s.scratch[lw:], r[:s.width[1]])
	v, err := s.residual.Eval(s.scratch)
	if err != nil {
		return false, rowError(err, s.scratch)
	}
	return v.Kind == types.Bool && v.I != 0, nil
}

// pair orders x (from side) and m (from the other side) as (left, right).
func pair(side int, x, m types.Row) (types.Row, types.Row) {
	if side == 0 {
		return x, m
	}
	return m, x
}

// joined appends a joined row of kind k.
func (s *joinShape) joined(k types.RowKind, l, r types.Row) {
	row := s.out.next(k)
	lw := s.width[0]
	copy(row[:lw], l[:lw])
	copy(row[lw:], r[:s.width[1]])
}

// padded appends row of side padded with NULLs, of kind k.
func (s *joinShape) padded(k types.RowKind, side int, row types.Row) {
	out := s.out.next(k)
	if side == 0 {
		copy(out, row[:s.width[0]])
	} else {
		copy(out[s.width[0]:], row[:s.width[1]])
	}
}

// flushIfFull emits the output batch when it is full; call it only between
// output units (never between the two rows of an update pair).
func (s *joinShape) flushIfFull(out Emitter) error {
	if s.out.full() {
		return s.out.flush(out)
	}
	return nil
}

// ---- the regular join ----

// JoinConfig configures a Join.
type JoinConfig struct {
	Kind JoinKind
	// LeftKeys and RightKeys are the equality key columns of each input, in
	// pairs; the columns of a pair have the same type.
	LeftKeys, RightKeys []int
	// NullSafe marks key pairs compared with <=> (NULL matches NULL).
	NullSafe []bool
	// LeftWidth and RightWidth are how many leading columns of each input
	// go to the output (inputs may carry computed key columns after them).
	LeftWidth, RightWidth int
	// Residual is the rest of the join condition, over [left[:LeftWidth]...,
	// right[:RightWidth]...]; nil means none.
	Residual expr.Expr
	// LeftUpdating and RightUpdating: the input carries retractions.
	LeftUpdating, RightUpdating bool
	// TTL, when positive, expires stored rows TTL after their last write
	// (see the file comment). Now is the processing-time clock in ms
	// (default: the wall clock).
	TTL time.Duration
	Now func() int64
	// MaxKeyGroups is the job's number of key groups (default
	// DefaultMaxKeyGroups).
	MaxKeyGroups int
}

// Join is the regular streaming join. See the file comment.
type Join struct {
	joinShape
	updating [2]bool
	ttl      stateTTL

	entries map[string]*joinEntry
	nextID  uint64
	queue   []joinTTLItem // TTL: writes in time order
	qHead   int

	retractMisses atomic.Int64
	expired       atomic.Int64

	ck markCOW[stateRec] // join_state.go
	sp *joinSpill        // join_spill.go; nil without spilling
}

var (
	_ Operator = (*Join)(nil)
	_ Ticker   = (*Join)(nil)
)

// joinEntry holds the stored rows of one key, per side.
type joinEntry struct {
	joinKeyRef
	recs [2][]*joinRec
	// spilling (join_spill.go)
	idx  int32 // position in the clock
	used bool  // used since the clock hand last passed
}

// joinRec is one stored row (recBase: the row, its id and side) with its
// multiplicity.
type joinRec struct {
	recBase
	count   int64
	assoc   int64 // preserved side: matching rows on the other side
	written int64 // processing time of the last write (TTL)
	ent     *joinEntry
}

type joinTTLItem struct {
	rec *joinRec
	at  int64
}

// NewJoin checks cfg and builds the operator.
func NewJoin(cfg JoinConfig) (*Join, error) {
	sh, err := newJoinShape(cfg.Kind, cfg.LeftKeys, cfg.RightKeys, cfg.NullSafe, cfg.LeftWidth, cfg.RightWidth, cfg.Residual, cfg.MaxKeyGroups)
	if err != nil {
		return nil, err
	}
	ttl, err := newStateTTL("join", cfg.TTL, cfg.Now)
	if err != nil {
		return nil, err
	}
	return &Join{
		joinShape: sh,
		updating:  [2]bool{cfg.LeftUpdating, cfg.RightUpdating},
		ttl:       ttl,
		entries:   make(map[string]*joinEntry),
		nextID:    1,
	}, nil
}

// RetractMisses is the number of retractions of rows the operator did not
// hold; safe from any goroutine.
func (j *Join) RetractMisses() int64 { return j.retractMisses.Load() }

// Expired is the number of stored rows dropped by the state TTL.
func (j *Join) Expired() int64 { return j.expired.Load() }

// Process matches a batch of one input against the other input's rows.
func (j *Join) Process(input int, b *types.Batch, out Emitter) error {
	if input != 0 && input != 1 {
		return fmt.Errorf("join: input %d does not exist", input)
	}
	if !j.updating[input] && b.Kinds != nil {
		for _, k := range b.Kinds {
			if k.IsRetract() {
				return fmt.Errorf("join: got a %s row on input %d, declared append-only", k, input)
			}
		}
	}
	var now int64
	if j.ttl.ms > 0 {
		now = j.ttl.now()
	}
	for i, row := range b.Rows {
		if err := j.processRow(input, row, b.Kind(i), now); err != nil {
			return err
		}
		if err := j.flushIfFull(out); err != nil {
			return err
		}
	}
	if err := j.out.flush(out); err != nil {
		return err
	}
	return j.maybeEvict()
}

func (j *Join) processRow(s int, row types.Row, kind types.RowKind, now int64) error {
	o := 1 - s
	acc := !kind.IsRetract()
	if len(row) < j.need[s] {
		return fmt.Errorf("join: input %d row has %d columns, want %d", s, len(row), j.need[s])
	}
	if j.nullKey(s, row) {
		if j.kind.Preserves(s) {
			j.padded(accKind(acc), s, row)
		}
		return nil
	}
	key := j.key(s, row)
	e, err := j.lookupEntry(func() uint16 { return j.keyGroup(s, row) }, key)
	if err != nil {
		return err
	}
	if e != nil {
		e.used = true
	}
	if e != nil && j.ttl.ms > 0 && !j.expireEntry(e, now) {
		e = nil // every row of the key expired: the entry is gone
	}
	var rec *joinRec
	if !acc {
		if e != nil {
			rec = findRec(e.recs[s], row)
		}
		if rec == nil {
			j.retractMisses.Add(1)
			return nil
		}
	}
	var matches int64
	if e != nil {
		outerO := j.kind.Preserves(o)
		for _, m := range e.recs[o] {
			l, r := pair(s, row, m.row)
			ok, err := j.match(l, r)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			matches += m.count
			switch {
			case acc && outerO && m.assoc == 0:
				for range m.count {
					j.padded(types.UpdateBefore, o, m.row)
					j.joined(types.UpdateAfter, l, r)
				}
			case acc:
				for range m.count {
					j.joined(types.Insert, l, r)
				}
			case outerO && m.assoc == 1:
				for range m.count {
					j.joined(types.UpdateBefore, l, r)
					j.padded(types.UpdateAfter, o, m.row)
				}
			default:
				for range m.count {
					j.joined(types.Delete, l, r)
				}
			}
			if outerO {
				j.markDirty(m)
				if acc {
					m.assoc++
				} else {
					m.assoc--
				}
			}
		}
	}
	if matches == 0 && j.kind.Preserves(s) {
		j.padded(accKind(acc), s, row)
	}
	// state
	if !acc {
		j.markDirty(rec)
		if rec.count--; rec.count <= 0 {
			j.removeRec(rec)
		}
		return nil
	}
	if e == nil {
		e = &joinEntry{joinKeyRef: joinKeyRef{key: string(key), kg: j.keyGroup(s, row)}}
		j.entries[e.key] = e
		j.addEntry(e)
	}
	if j.updating[s] {
		if rec = findRec(e.recs[s], row); rec != nil {
			j.markDirty(rec)
			rec.count++
			rec.assoc = matches
			j.touchTTL(rec, now)
			return nil
		}
	}
	rec = &joinRec{recBase: recBase{row: row, id: j.nextID, side: uint8(s), ref: &e.joinKeyRef}, count: 1, assoc: matches, ent: e}
	j.nextID++
	e.recs[s] = append(e.recs[s], rec)
	j.recAdded(rec)
	j.markDirty(rec)
	j.touchTTL(rec, now)
	return nil
}

func accKind(acc bool) types.RowKind {
	if acc {
		return types.Insert
	}
	return types.Delete
}

func maxCol(cols []int) int {
	m := -1
	for _, c := range cols {
		m = max(m, c)
	}
	return m
}

// findRec finds the stored record of an identical row.
func findRec(recs []*joinRec, row types.Row) *joinRec {
	for _, r := range recs {
		if slices.Equal(r.row, row) {
			return r
		}
	}
	return nil
}

// removeRec drops a record from its entry (and the entry when empty).
func (j *Join) removeRec(rec *joinRec) {
	e := rec.ent
	list := e.recs[rec.side]
	if i := slices.Index(list, rec); i >= 0 {
		e.recs[rec.side] = slices.Delete(list, i, i+1)
	}
	j.recGone(rec)
	j.forget(rec)
	if len(e.recs[0]) == 0 && len(e.recs[1]) == 0 {
		if cur := j.entries[e.key]; cur == e {
			delete(j.entries, e.key)
			j.dropEntry(e)
		}
	}
}

func (j *Join) touchTTL(rec *joinRec, now int64) {
	if j.ttl.ms <= 0 {
		return
	}
	rec.written = now
	j.queue = append(j.queue, joinTTLItem{rec: rec, at: now})
}

// expireEntry drops the expired records of one key; false when none is
// left (the entry is then removed).
func (j *Join) expireEntry(e *joinEntry, now int64) bool {
	for side := range e.recs {
		list := e.recs[side]
		keep := list[:0]
		for _, r := range list {
			if r.written+j.ttl.ms <= now {
				j.recGone(r)
				j.forget(r)
				j.expired.Add(1)
				continue
			}
			keep = append(keep, r)
		}
		clear(list[len(keep):])
		e.recs[side] = keep
	}
	if len(e.recs[0]) == 0 && len(e.recs[1]) == 0 {
		if cur := j.entries[e.key]; cur == e {
			delete(j.entries, e.key)
			j.dropEntry(e)
		}
		return false
	}
	return true
}

// TickInterval implements Ticker: the TTL sweep runs a few times per TTL
// (at most once a second); without a TTL there are no ticks.
func (j *Join) TickInterval() time.Duration {
	return j.ttl.tickInterval()
}

// OnTick implements Ticker: it drops every row whose TTL has passed.
func (j *Join) OnTick(Emitter) error {
	if j.ttl.ms <= 0 {
		return nil
	}
	now := j.ttl.now()
	for j.qHead < len(j.queue) {
		it := j.queue[j.qHead]
		if it.at+j.ttl.ms > now {
			break
		}
		j.queue[j.qHead] = joinTTLItem{}
		j.qHead++
		rec := it.rec
		if rec.st&recSpilled != 0 {
			var err error
			if rec, err = j.liveRec(rec); err != nil {
				return err
			}
			if rec == nil {
				continue
			}
		}
		if rec.st&recDead == 0 && rec.written == it.at {
			j.removeRec(rec)
			j.expired.Add(1)
		}
	}
	if j.qHead > 1024 && j.qHead*2 > len(j.queue) {
		n := copy(j.queue, j.queue[j.qHead:])
		clear(j.queue[n:])
		j.queue = j.queue[:n]
		j.qHead = 0
	}
	return j.maybeEvict()
}
