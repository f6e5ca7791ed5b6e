package exec

// Checkpointed state of GroupAgg (Snapshotter, Restorer).
//
// One entry per group: (key group, group key, empty namespace) → uvarint
// format 1, varint rows, emitted byte, the key values, the last emitted
// aggregate values, EncodeAccumulators. A group whose row count dropped to
// zero is deleted. Tracking starts at the first SnapshotState (which writes
// every group) or at RestoreState.

import (
	"encoding/binary"
	"fmt"

	"github.com/weirsql/weir/sql/types"
)

const groupStateFormat = 1

type groupAggState struct {
	track bool
	dirty []*aggGroup
	vbuf  []byte
}

var (
	_ Snapshotter = (*GroupAgg)(nil)
	_ Restorer    = (*GroupAgg)(nil)
)

func (g *GroupAgg) markDirty(grp *aggGroup) {
	if !grp.dirty {
		grp.dirty = true
		g.ck.dirty = append(g.ck.dirty, grp)
	}
}

func (g *GroupAgg) encodeGroup(dst []byte, grp *aggGroup) []byte {
	dst = binary.AppendUvarint(dst, groupStateFormat)
	dst = binary.AppendVarint(dst, grp.rows)
	if grp.emitted {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	for _, v := range grp.vals {
		dst = appendAccValue(dst, v)
	}
	for _, v := range grp.prev {
		dst = appendAccValue(dst, v)
	}
	return EncodeAccumulators(dst, grp.accs)
}

// SnapshotState implements Snapshotter.
func (g *GroupAgg) SnapshotState(_ uint64, out StateWriter) error {
	ck := &g.ck
	put := func(grp *aggGroup) {
		ck.vbuf = g.encodeGroup(ck.vbuf[:0], grp)
		out.Put(grp.kg, stringBytes(grp.key), nil, ck.vbuf)
		grp.persisted = true
	}
	if !ck.track {
		ck.track = true
		for _, grp := range g.groups {
			put(grp)
		}
		return nil
	}
	for _, grp := range ck.dirty {
		grp.dirty = false
		switch {
		case grp.dead:
			// a live group of the same key (re-created since) writes it
			if _, live := g.groups[grp.key]; grp.persisted && !live {
				out.Delete(grp.kg, stringBytes(grp.key), nil)
			}
		default:
			put(grp)
		}
	}
	clear(ck.dirty)
	ck.dirty = ck.dirty[:0]
	return nil
}

// RestoreState implements Restorer.
func (g *GroupAgg) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	g.ck.track = true
	nk := len(g.keys)
	return scan(func(kg uint16, key, _, value []byte) error {
		d := accDecoder{b: value}
		if f := d.uvarint(); f != groupStateFormat {
			return fmt.Errorf("group aggregate state: format %d, want %d", f, groupStateFormat)
		}
		grp := &aggGroup{
			key:  string(key),
			kg:   kg,
			vals: make(types.Row, nk),
			accs: make([]Accumulator, g.nAggs),
			prev: make([]types.Value, g.nAggs),
		}
		grp.rows = d.varint()
		grp.emitted = d.byte() == 1
		for i := range grp.vals {
			grp.vals[i] = d.value()
		}
		for i := range grp.prev {
			grp.prev[i] = d.value()
		}
		if d.err != nil {
			return fmt.Errorf("group aggregate state: %w", d.err)
		}
		if _, err := DecodeAccumulators(d.b, grp.accs); err != nil {
			return fmt.Errorf("group aggregate state: %w", err)
		}
		grp.persisted = true
		g.groups[grp.key] = grp
		return nil
	})
}
