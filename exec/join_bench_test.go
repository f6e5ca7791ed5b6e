package exec

import (
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// BenchmarkJoin measures the regular join operator on a Nexmark q20-like
// input — auctions [id, seller, category, ts] and bids [auction, bidder,
// price, ts], an INNER JOIN on bid.auction = auction.id, both sides
// append-only and kept — against a hand-written Go hash join over the
// same batches in the same run (a map from key to rows per side, probe,
// build the output row, store). Both emit the same rows. It reports input
// rows per wall-clock second and per CPU-second (process user+system time,
// garbage collection included), and the ratio of the join's CPU rate to
// the hand-written one's: on a shared machine the CPU figures are the ones
// to trust. Run:
//
//	go test ./exec -run '^$' -bench BenchmarkJoin -benchtime 3x
func BenchmarkJoin(b *testing.B) {
	const (
		auctions   = 20_000
		bidsPerKey = 20
		batchSize  = 1024
	)
	in := benchJoinInput(auctions, bidsPerKey, batchSize)
	events := auctions * (1 + bidsPerKey)
	var weirTime, handTime, weirCPU, handCPU time.Duration
	var weirRows, handRows int
	b.ReportAllocs()
	for b.Loop() {
		// fresh input rows each time: the operator keeps what it is given
		batches := cloneJoinInput(in)
		j, err := NewJoin(JoinConfig{Kind: JoinInner, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 4, RightWidth: 4})
		if err != nil {
			b.Fatal(err)
		}
		c := &countEmitter{}
		runtime.GC()
		start, cpu := time.Now(), cpuTime()
		for _, ib := range batches {
			if err := j.Process(ib.input, ib.b, c); err != nil {
				b.Fatal(err)
			}
		}
		weirTime += time.Since(start)
		weirCPU += cpuTime() - cpu
		weirRows = c.rows
		j = nil

		batches = cloneJoinInput(in)
		runtime.GC()
		start, cpu = time.Now(), cpuTime()
		handRows = handHashJoin(batches)
		handTime += time.Since(start)
		handCPU += cpuTime() - cpu
	}
	if weirRows != handRows || weirRows != auctions*bidsPerKey {
		b.Fatalf("output rows: join %d, hand-written %d, want %d", weirRows, handRows, auctions*bidsPerKey)
	}
	n := float64(b.N)
	weirRate := float64(events) * n / weirCPU.Seconds()
	handRate := float64(events) * n / handCPU.Seconds()
	b.ReportMetric(float64(events)*n/weirTime.Seconds(), "events/s")
	b.ReportMetric(weirRate, "events/CPU-s")
	b.ReportMetric(float64(events)*n/handTime.Seconds(), "hand-events/s")
	b.ReportMetric(handRate, "hand-events/CPU-s")
	b.ReportMetric(weirRate/handRate, "ratio")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type joinInputBatch struct {
	input int
	b     *types.Batch
}

// benchJoinInput interleaves auctions (input 1) and their bids (input 0):
// each auction opens before most of its bids, a few bids come first, and
// bids of about a thousand open auctions are mixed.
func benchJoinInput(auctions, bidsPerKey, batchSize int) []joinInputBatch {
	rng := rand.New(rand.NewPCG(1, 2))
	type ev struct {
		input int
		row   types.Row
	}
	var evs []ev
	var open []int64 // auctions with bids left
	left := map[int64]int{}
	next := int64(1000)
	ts := int64(0)
	for next < 1000+int64(auctions) || len(open) > 0 {
		ts++
		if next < 1000+int64(auctions) && (len(open) < 1000 || rng.IntN(bidsPerKey+1) == 0) {
			id := next
			next++
			evs = append(evs, ev{1, types.Row{types.BigIntValue(id), types.BigIntValue(rng.Int64N(5000)), types.BigIntValue(10 + rng.Int64N(5)), types.TimestampValue(ts)}})
			open = append(open, id)
			left[id] = bidsPerKey
			continue
		}
		i := rng.IntN(len(open))
		id := open[i]
		evs = append(evs, ev{0, types.Row{types.BigIntValue(id), types.BigIntValue(rng.Int64N(5000)), types.BigIntValue(rng.Int64N(1e8)), types.TimestampValue(ts)}})
		if left[id]--; left[id] == 0 {
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	// a few bids before their auction: swap some neighbours
	for i := 1; i < len(evs); i += 97 {
		evs[i-1], evs[i] = evs[i], evs[i-1]
	}
	var out []joinInputBatch
	for _, e := range evs {
		if n := len(out); n == 0 || out[n-1].input != e.input || len(out[n-1].b.Rows) >= batchSize {
			out = append(out, joinInputBatch{input: e.input, b: &types.Batch{}})
		}
		last := out[len(out)-1].b
		last.Rows = append(last.Rows, e.row)
	}
	return out
}

func cloneJoinInput(in []joinInputBatch) []joinInputBatch {
	out := make([]joinInputBatch, len(in))
	for i, ib := range in {
		rows := make([]types.Row, len(ib.b.Rows))
		copy(rows, ib.b.Rows)
		out[i] = joinInputBatch{input: ib.input, b: &types.Batch{Rows: rows}}
	}
	return out
}

type countEmitter struct{ rows int }

func (c *countEmitter) Emit(b *types.Batch) error { c.rows += len(b.Rows); return nil }

// handHashJoin is the baseline: the same inner equi-join on column 0 of
// both inputs, written directly. Output rows are built in batches as the
// operator does and then dropped.
func handHashJoin(batches []joinInputBatch) int {
	var state [2]map[int64][]types.Row
	state[0] = map[int64][]types.Row{}
	state[1] = map[int64][]types.Row{}
	out := 0
	for _, ib := range batches {
		s, o := ib.input, 1-ib.input
		arena := types.NewRowArena(8, len(ib.b.Rows))
		var emitted []types.Row
		for _, row := range ib.b.Rows {
			k := row[0].I
			for _, m := range state[o][k] {
				r := arena.Next()
				if s == 0 {
					copy(r, row[:4])
					copy(r[4:], m[:4])
				} else {
					copy(r, m[:4])
					copy(r[4:], row[:4])
				}
				emitted = append(emitted, r)
			}
			state[s][k] = append(state[s][k], row)
		}
		out += len(emitted)
	}
	return out
}
