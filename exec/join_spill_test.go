package exec

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// TestJoinSpillTTL runs a full outer join in memory and one that spills
// all but a few keys side by side, with updating inputs, a state TTL,
// random batches on both inputs, sweeps and captures: they must emit the
// same changelog, expire the same rows, and their captures, applied in
// order, hold the same state.
func TestJoinSpillTTL(t *testing.T) {
	store := openTestSpill(t)
	var evicted, reloaded, expired int64
	for seed := uint64(1); seed <= 8; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		var now int64
		newOp := func() *Join {
			j, err := NewJoin(JoinConfig{Kind: JoinFull, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3,
				LeftUpdating: true, RightUpdating: true, TTL: 100 * time.Millisecond, Now: func() int64 { return now }})
			if err != nil {
				t.Fatal(err)
			}
			j.TrackChanges()
			return j
		}
		mem, sp := newOp(), newOp()
		sp.EnableSpill(store.Space(), 2500)
		var outMem, outSp aggCollector
		stMem, stSp := map[string]string{}, map[string]string{}
		var live [2][]types.Row
		for step := 0; step < 500; step++ {
			now += int64(rng.IntN(12))
			switch p := rng.IntN(10); {
			case p < 6:
				side := rng.IntN(2)
				b := &types.Batch{}
				for range 1 + rng.IntN(5) {
					if len(live[side]) > 0 && rng.IntN(4) == 0 {
						i := rng.IntN(len(live[side]))
						b.Append(live[side][i], types.Delete)
						live[side] = slices.Delete(live[side], i, i+1)
						continue
					}
					r := types.Row{types.BigIntValue(int64(rng.IntN(30))), types.BigIntValue(int64(rng.IntN(5))), types.BigIntValue(int64(side))}
					b.Append(r, types.Insert)
					live[side] = append(live[side], r)
				}
				if err := mem.Process(side, cloneBatch(b), &outMem); err != nil {
					t.Fatal(err)
				}
				if err := sp.Process(side, b, &outSp); err != nil {
					t.Fatal(err)
				}
			case p < 8:
				if err := mem.OnTick(&outMem); err != nil {
					t.Fatal(err)
				}
				if err := sp.OnTick(&outSp); err != nil {
					t.Fatal(err)
				}
			default:
				full := rng.IntN(3) == 0
				captureInto(t, mem, step, full, stMem, rng)
				captureInto(t, sp, step, full, stSp, rng)
				if !maps.Equal(stMem, stSp) {
					t.Fatalf("seed %d step %d: captured state differs: %d entries in memory, %d with spilling", seed, step, len(stMem), len(stSp))
				}
			}
			if a, b := outMem.take(), outSp.take(); !slices.Equal(a, b) {
				t.Fatalf("seed %d step %d: output differs:\n memory %v\n spill  %v", seed, step, a, b)
			}
			if mem.Expired() != sp.Expired() {
				t.Fatalf("seed %d step %d: %d rows expired in memory, %d with spilling", seed, step, mem.Expired(), sp.Expired())
			}
		}
		st := sp.SpillStats()
		evicted += st.Evicted
		reloaded += st.Reloaded
		expired += sp.Expired()
		sp.Close()
	}
	if evicted < 500 || reloaded < 300 || expired < 100 {
		t.Fatalf("%d evictions, %d reloads and %d expiries: the test does not exercise spilling", evicted, reloaded, expired)
	}
}
