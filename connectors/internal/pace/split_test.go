package pace_test

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/weirsql/weir/connectors/internal/pace"
	"github.com/weirsql/weir/connectors/internal/sourcetest"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// numSource is a generator subtask whose row for number n is (n).
type numSource struct {
	sub   *pace.Subtask
	limit int64
	want  func(n int64) bool // nil: every number
	has   func(i, p int64) bool
	rate  float64
}

func (s *numSource) Splits() int                       { return 1 }
func (s *numSource) SplitNames() []string              { return s.sub.SplitNames() }
func (s *numSource) Resume(pos map[string]int64) error { return s.sub.Resume(pos) }
func (s *numSource) Run(ctx context.Context, out exec.SourceOutput) error {
	return s.sub.Run(ctx, out, pace.Sequence{
		Limit: s.limit, Rate: s.rate, Batch: 16, MaxScan: 64, Width: 1, Want: s.want,
		Fill: func(n int64, row types.Row) { row[0] = types.BigIntValue(n) },
	}, s.has)
}

var _ exec.Resumable = (*numSource)(nil)

func newNum(i, p int, limit int64, want func(int64) bool) *numSource {
	s := &numSource{sub: pace.NewSubtask("test source", i, p), limit: limit, want: want}
	if want != nil {
		// classes that hold no wanted number at all: those ≡ 1 (mod 7) when p is 7 or 14
		s.has = func(i, p int64) bool { return !(p%7 == 0 && i%7 == 1) }
	}
	return s
}

func nums(rows []types.Row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r[0].I
	}
	return out
}

// everyOtherSeventh is sparse: no number ≡ 1 (mod 7) is wanted.
func everyOtherSeventh(n int64) bool { return n%7 != 1 && n%3 != 0 }

// Resuming at the same parallelism from any recorded state yields exactly
// the rest of the uninterrupted run, in the same order.
func TestResumeSameParallelism(t *testing.T) {
	for _, want := range []func(int64) bool{nil, everyOtherSeventh} {
		for _, p := range []int{1, 3, 7} {
			for i := 0; i < p; i++ {
				if want != nil && p == 7 && i == 1 {
					continue // an empty class: TestEmptyClassesAndSparsePositions
				}
				full, err := sourcetest.Run(newNum(i, p, 3000, want), nil, 0, true)
				if err != nil {
					t.Fatal(err)
				}
				if len(full.Snapshots) < 2 || !full.Done[pace.OpenName(int64(i), int64(p))] {
					t.Fatalf("p=%d i=%d: %d snapshots, done %v", p, i, len(full.Snapshots), full.Done)
				}
				for k, snap := range full.Snapshots {
					if k%5 != 0 && k != len(full.Snapshots)-1 {
						continue
					}
					rest, err := sourcetest.Run(newNum(i, p, 3000, want), snap.Pos, 0, false)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := nums(rest.All), nums(full.All[snap.Rows:]); !slices.Equal(got, want) {
						t.Fatalf("p=%d i=%d resumed at %v: got %d rows %v..., want %d rows", p, i, snap.Pos, len(got), got[:min(5, len(got))], len(want))
					}
				}
			}
		}
	}
}

// A chain of restores at changing parallelisms, each from a cut where every
// subtask stopped after its own number of batches, delivers every number
// exactly once, and every split's numbers (so event times) increase.
func TestRescaleExactlyOnce(t *testing.T) {
	const limit = 4000
	closings, carried := 0, 0 // closing splits run; recorded unfinished and resumed again
	for seed := int64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var want func(int64) bool
		if seed%2 == 0 {
			want = everyOtherSeventh
		}
		var (
			pos       map[string]int64
			delivered = map[int64]int{}
			chain     []string
		)
		phases := 2 + rng.Intn(4)
		for phase := 0; phase < phases; phase++ {
			last := phase == phases-1
			p := []int{1, 2, 3, 4, 5, 7, 14}[rng.Intn(7)]
			chain = append(chain, fmt.Sprint(p))
			next := map[string]int64{}
			for name := range pos {
				if strings.Contains(name, "<") {
					carried++
				}
			}
			for i := 0; i < p; i++ {
				stop := 0
				if !last {
					stop = 1 + rng.Intn(40)
				}
				out, err := sourcetest.Run(newNum(i, p, limit, want), pos, stop, false)
				if err != nil && err != sourcetest.ErrStop {
					t.Fatalf("seed %d chain %v: %v", seed, chain, err)
				}
				if last && err != nil {
					t.Fatalf("seed %d chain %v: last phase: %v", seed, chain, err)
				}
				for name, x := range out.Pos {
					if _, dup := next[name]; dup {
						t.Fatalf("seed %d chain %v: split %s recorded by two subtasks", seed, chain, name)
					}
					next[name] = x
				}
				for name, rows := range out.Rows {
					if strings.Contains(name, "<") {
						closings++
					}
					ns := nums(rows)
					if !slices.IsSorted(ns) {
						t.Fatalf("seed %d chain %v: split %s not increasing", seed, chain, name)
					}
					for _, n := range ns {
						delivered[n]++
					}
				}
				if last {
					for name := range out.Pos {
						if !out.Done[name] {
							t.Fatalf("seed %d chain %v: split %s not done", seed, chain, name)
						}
					}
				}
			}
			pos = next
		}
		for n := int64(0); n < limit; n++ {
			w := want == nil || want(n)
			if c := delivered[n]; (w && c != 1) || (!w && c != 0) {
				t.Fatalf("seed %d chain %v: number %d delivered %d times", seed, chain, n, c)
			}
		}
		if len(delivered) > limit {
			t.Fatalf("seed %d: numbers beyond the limit", seed)
		}
	}
	if closings < 50 || carried < 10 {
		t.Errorf("the chains ran %d closing splits and carried %d over a restore: too few to test them", closings, carried)
	}
}

// A restore at another parallelism hands the old open splits out as
// closing splits named after their class and end, and starts the new open
// splits at the largest recorded position.
func TestRescaleSplitNames(t *testing.T) {
	pos := map[string]int64{"0/2": 10, "1/2": 21}
	var names [][]string
	var firsts []int64
	for i := 0; i < 3; i++ {
		out, err := sourcetest.Run(newNum(i, 3, 30, nil), pos, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for name := range out.Pos {
			ns = append(ns, fmt.Sprintf("%s@%d", name, out.Pos[name]))
		}
		slices.Sort(ns)
		names = append(names, ns)
		firsts = append(firsts, nums(out.Rows[pace.OpenName(int64(i), 3)])[0])
	}
	// h = 21: class 0 mod 2 still owes 10..20 and ends at its bound;
	// class 1 mod 2 owes nothing
	if got := fmt.Sprint(names); got != "[[0/2<21@21 0/3@30] [1/3@30] [2/3@30]]" {
		t.Errorf("splits %s", got)
	}
	if fmt.Sprint(firsts) != "[21 22 23]" {
		t.Errorf("open splits start at %v", firsts)
	}
}

func TestResumeErrors(t *testing.T) {
	for _, tc := range []struct {
		pos  map[string]int64
		want string
	}{
		{map[string]int64{"x": 1}, "test source: the checkpoint records split 'x', which is not a split of this generator (want 'i/p' or 'i/p<h')"},
		{map[string]int64{"1/0": 1}, "split '1/0', which is not"},
		{map[string]int64{"2/2": 1}, "split '2/2', which is not"},
		{map[string]int64{"01/2": 1}, "split '01/2', which is not"},
		{map[string]int64{"1/2<x": 1}, "split '1/2<x', which is not"},
		{map[string]int64{"0/1": -5}, "test source: the checkpoint records position -5 for split '0/1'; positions are ≥ 0"},
		{map[string]int64{"0/1": 5, "0/2": 4}, "test source: the checkpoint records open splits of two parallelisms (1 and 2)"},
	} {
		err := newNum(0, 1, 10, nil).Resume(tc.pos)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.pos, err, tc.want)
		}
	}
	// an empty map (a restore from a checkpoint without this source) starts
	// as configured
	out, err := sourcetest.Run(newNum(1, 2, 10, nil), map[string]int64{}, 0, false)
	if err != nil || fmt.Sprint(nums(out.All)) != "[1 3 5 7 9]" {
		t.Errorf("got %v %v", nums(out.All), err)
	}
}

// A split whose class holds no rows at all is done at once, also after a
// restore (closing splits included); positions of a sparse split advance
// although it emits nothing.
func TestEmptyClassesAndSparsePositions(t *testing.T) {
	out, err := sourcetest.Run(newNum(1, 7, 1000, everyOtherSeventh), nil, 0, false)
	if err != nil || len(out.All) != 0 || !out.Done["1/7"] || out.Batches != 0 {
		t.Fatalf("empty class: %v rows, done %v, %v", len(out.All), out.Done, err)
	}
	// sparse: only multiples of 1000 wanted; the position reaches the limit
	out, err = sourcetest.Run(&numSource{sub: pace.NewSubtask("t", 0, 1), limit: 5000, want: func(n int64) bool { return n == 4000 }}, nil, 0, true)
	if err != nil || fmt.Sprint(nums(out.All)) != "[4000]" || out.Pos["0/1"] != 5000 {
		t.Fatalf("sparse: %v pos %v err %v", nums(out.All), out.Pos, err)
	}
	// positions advanced before the row came (every 64 numbers scanned)
	if len(out.Snapshots) < 60 || out.Snapshots[0].Pos["0/1"] != 0 || out.Snapshots[1].Pos["0/1"] != 64 {
		t.Errorf("sparse positions: %d snapshots, first %v", len(out.Snapshots), out.Snapshots[:2])
	}
	// resuming from the middle of the empty stretch still finds the row
	rest, err := sourcetest.Run(&numSource{sub: pace.NewSubtask("t", 0, 1), limit: 5000, want: func(n int64) bool { return n == 4000 }}, out.Snapshots[30].Pos, 0, false)
	if err != nil || fmt.Sprint(nums(rest.All)) != "[4000]" {
		t.Errorf("resumed sparse: %v %v", nums(rest.All), err)
	}
}

// Paced runs (a rate) resume to the same rows.
func TestResumePaced(t *testing.T) {
	mk := func() *numSource {
		s := newNum(0, 1, 2000, nil)
		s.rate = 200000
		return s
	}
	full, err := sourcetest.Run(mk(), nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	snap := full.Snapshots[len(full.Snapshots)/2]
	rest, err := sourcetest.Run(mk(), snap.Pos, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nums(rest.All), nums(full.All[snap.Rows:])) {
		t.Errorf("paced resume differs")
	}
}
