package datagen

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/internal/sourcetest"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

func createSource(t *testing.T, tb *connectors.Table, i, p int) exec.Source {
	t.Helper()
	src, err := factory(t, tb).Create(i, p)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func sameRows(a, b []types.Row) bool {
	return slices.EqualFunc(a, b, func(x, y types.Row) bool { return key(x) == key(y) })
}

// Resuming from any recorded position produces exactly the rows (timestamp
// sequence included) of the uninterrupted run after it, with and without
// 'rows-per-second'.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, rate := range []string{"", "2000000"} {
		opts := map[string]string{"number-of-rows": "12000", "seed": "5", "fields.s.null-rate": "0.3"}
		if rate != "" {
			opts["rows-per-second"] = rate
		}
		tb := table(opts, allTypes...)
		const p = 2
		for i := 0; i < p; i++ {
			full, err := sourcetest.Run(createSource(t, tb, i, p), nil, 0, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(full.Snapshots) < 3 || len(full.All) != 6000 || !full.Done[[]string{"0/2", "1/2"}[i]] {
				t.Fatalf("rate %q subtask %d: %d snapshots, %d rows, done %v", rate, i, len(full.Snapshots), len(full.All), full.Done)
			}
			for _, snap := range full.Snapshots {
				rest, err := sourcetest.Run(createSource(t, tb, i, p), snap.Pos, 0, false)
				if err != nil {
					t.Fatal(err)
				}
				if !sameRows(rest.All, full.All[snap.Rows:]) {
					t.Fatalf("rate %q subtask %d resumed at %v: %d rows, want %d (or they differ)", rate, i, snap.Pos, len(rest.All), len(full.All)-snap.Rows)
				}
			}
		}
	}
}

// A restore at another parallelism delivers every row exactly once, the
// timestamp sequence monotone within every split.
func TestResumeAtAnotherParallelism(t *testing.T) {
	tb := table(map[string]string{"number-of-rows": "20000"}, allTypes...)
	want := rows(t, tb, 0, 20000)
	rng := rand.New(rand.NewSource(9))
	splits, err := sourcetest.Rescale(func(i, p int) exec.Source { return createSource(t, tb, i, p) }, []int{4, 3, 6},
		func(phase int) int {
			if phase < 2 {
				return 1 + rng.Intn(5)
			}
			return 0
		})
	if err != nil {
		t.Fatal(err)
	}
	var got []types.Row
	for _, rs := range splits {
		for j := 1; j < len(rs); j++ {
			if rs[j][6].I <= rs[j-1][6].I {
				t.Fatalf("ts not increasing within a split")
			}
		}
		got = append(got, rs...)
	}
	keys := func(rs []types.Row) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = key(r)
		}
		slices.Sort(out)
		return out
	}
	if g, w := keys(got), keys(want); !slices.Equal(g, w) {
		t.Fatalf("%d rows delivered over the restores, want %d exactly once", len(g), len(w))
	}
}

func TestResumeBadPosition(t *testing.T) {
	src := createSource(t, table(nil, allTypes...), 0, 1).(exec.Resumable)
	err := src.Resume(map[string]int64{"0/1": -1})
	if err == nil || err.Error() != "datagen source: the checkpoint records position -1 for split '0/1'; positions are ≥ 0" {
		t.Errorf("got %v", err)
	}
}
