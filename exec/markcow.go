package exec

// markCOW is the copy-on-write snapshot bookkeeping shared by the
// operators whose state entries carry two marks that swap roles at each
// capture (TopN, OverAgg and the joins; GroupAgg and WindowAgg use epochs
// instead, which also make a full capture cost one step per bucket).
//
// The current mark says "changed since the last capture" and puts the
// entry on the dirty list. A capture makes the dirty list the captured
// list and swaps the marks, so it costs nothing that grows with the
// changes; a captured entry is written when ContinueSnapshot runs between
// batches or, if it is about to change first, right before that, so the
// capture holds every entry as it was at the barrier. A full capture first
// marks every entry changed: that walks the state in the synchronous
// phase (pointer work only).
type markCOW[T markedEntry] struct {
	track     bool
	cur, capt uint8 // cowMarkA and cowMarkB, swapped at each capture
	dirty     []T
	// write writes a captured entry (its value, or its deletion); its
	// captured mark is already cleared
	write func(T)
	// the capture in progress: out is nil when there is none
	out      StateWriter
	captured []T
	next     int
	vbuf     []byte // for write
}

// markedEntry is a state entry with a byte holding its marks. The two bits
// cowMarkA and cowMarkB are markCOW's; an operator may use the others.
type markedEntry interface {
	cowMarks() *uint8
}

const (
	cowMarkA = 1 << 6
	cowMarkB = 1 << 7
)

// start begins tracking changes (idempotent): write is how the operator
// writes a captured entry.
func (c *markCOW[T]) start(write func(T)) {
	if !c.track {
		c.track = true
		c.cur, c.capt = cowMarkA, cowMarkB
		c.write = write
	}
}

// changing is called before e is created, changes or is dropped.
func (c *markCOW[T]) changing(e T) {
	if !c.track {
		return
	}
	m := e.cowMarks()
	if *m&c.cur != 0 {
		return
	}
	*m |= c.cur
	c.dirty = append(c.dirty, e)
	if *m&c.capt != 0 {
		*m &^= c.capt
		c.write(e) // copy on write
	}
}

// changed says whether e changed since the capture in progress (or the
// last one).
func (c *markCOW[T]) changed(e T) bool { return *e.cowMarks()&c.cur != 0 }

// capture starts a capture into out. start is the operator's
// TrackChanges, called if it was not tracking yet (everything it holds is
// then new to the checkpoint); each calls fn for every entry, for a full
// capture.
func (c *markCOW[T]) capture(out StateWriter, full bool, start func(), each func(fn func(T))) {
	if c.out != nil {
		c.cont(0)
	}
	if !c.track {
		start()
		full = true
	}
	if full {
		each(c.changing)
	}
	c.out = out
	c.captured, c.dirty = c.dirty, c.captured[:0]
	c.next = 0
	c.cur, c.capt = c.capt, c.cur
}

// cont writes up to budget captured entries (all when budget <= 0) and
// reports whether the capture is complete.
func (c *markCOW[T]) cont(budget int) bool {
	if c.out == nil {
		return true
	}
	if budget <= 0 {
		budget = len(c.captured)
	}
	for ; c.next < len(c.captured) && budget > 0; c.next++ {
		e := c.captured[c.next]
		if m := e.cowMarks(); *m&c.capt != 0 {
			*m &^= c.capt
			c.write(e)
			budget--
		}
	}
	if c.next < len(c.captured) {
		return false
	}
	clear(c.captured)
	c.captured = c.captured[:0]
	c.out = nil
	return true
}

// keyedPart is what a partition of TopN or OverAgg carries for its state
// entry: (key group, partition key, empty namespace), written whole.
type keyedPart struct {
	key             string
	kg              uint16
	marks           uint8
	persisted, dead bool // written by a capture and not deleted since; dropped
}

func (p *keyedPart) cowMarks() *uint8 { return &p.marks }
func (p *keyedPart) part() *keyedPart { return p }

// writeKeyedPart writes a captured partition: its value, or its deletion
// when it is dead, after which a dead partition that did not change since
// leaves parts.
func writeKeyedPart[P interface {
	markedEntry
	part() *keyedPart
}](ck *markCOW[P], p P, parts map[string]P, encode func([]byte, P) []byte) {
	kp := p.part()
	if !kp.dead {
		ck.vbuf = encode(ck.vbuf[:0], p)
		ck.out.Put(kp.kg, stringBytes(kp.key), nil, ck.vbuf)
		kp.persisted = true
		return
	}
	if kp.persisted {
		ck.out.Delete(kp.kg, stringBytes(kp.key), nil)
		kp.persisted = false
	}
	if !ck.changed(p) {
		delete(parts, kp.key)
	}
}
