package nexmark

import (
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/internal/sourcetest"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

func createSource(t *testing.T, tb *connectors.Table, i, p int) exec.Source {
	t.Helper()
	src, err := newFactory(t, tb).Create(i, p)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// Resuming from any recorded position produces exactly the rows, with the
// same event times, that the uninterrupted run produced after it: for every
// kind, with and without a rate (paced runs hand over partial batches).
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, kind := range []string{"bid", "auction", "person"} {
		for _, rate := range []string{"", "3000000"} {
			opts := map[string]string{OptEvents: "40000", OptBatchSize: "97", OptSeed: "7"}
			if rate != "" {
				opts[OptRate] = rate
			}
			tb := table(kind, opts)
			const p = 3
			for i := 0; i < p; i++ {
				full, err := sourcetest.Run(createSource(t, tb, i, p), nil, 0, true)
				if err != nil {
					t.Fatal(err)
				}
				if name := createSource(t, tb, i, p).(exec.Resumable).SplitNames(); !slices.Equal(name, []string{[]string{"0/3", "1/3", "2/3"}[i]}) || !full.Done[name[0]] {
					t.Fatalf("split names %v, done %v", name, full.Done)
				}
				if len(full.Snapshots) < 3 {
					t.Fatalf("%s rate %q subtask %d: %d snapshots", kind, rate, i, len(full.Snapshots))
				}
				for k, snap := range full.Snapshots {
					if k%23 != 3 && k != len(full.Snapshots)-1 {
						continue
					}
					rest, err := sourcetest.Run(createSource(t, tb, i, p), snap.Pos, 0, false)
					if err != nil {
						t.Fatal(err)
					}
					if !sameRows(rest.All, full.All[snap.Rows:]) {
						t.Fatalf("%s rate %q subtask %d resumed at %v: %d rows, want %d (or they differ)",
							kind, rate, i, snap.Pos, len(rest.All), len(full.All)-snap.Rows)
					}
				}
			}
		}
	}
}

// A restore at another parallelism (and then another) delivers every event
// of the stream exactly once, event times monotone within every split.
func TestResumeAtAnotherParallelism(t *testing.T) {
	const events = 30000
	for _, kind := range []string{"bid", "person"} {
		bs := map[string]string{"bid": "50", "person": "3"}[kind]
		tb := table(kind, map[string]string{OptEvents: "30000", OptBatchSize: bs})
		want, err := Rows(tb, 0, events)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(3))
		splits, err := sourcetest.Rescale(func(i, p int) exec.Source { return createSource(t, tb, i, p) }, []int{3, 5, 2},
			func(phase int) int {
				if phase < 2 {
					return 1 + rng.Intn(60)
				}
				return 0
			})
		if err != nil {
			t.Fatal(err)
		}
		var got []types.Row
		for _, rows := range splits {
			for j := 1; j < len(rows); j++ {
				if rows[j][5].I < rows[j-1][5].I && kind == "bid" || rows[j][6].I < rows[j-1][6].I && kind == "person" {
					t.Fatalf("%s: event time goes back within a split", kind)
				}
			}
			got = append(got, rows...)
		}
		keys := func(rows []types.Row) []string {
			out := make([]string, len(rows))
			for i, r := range rows {
				out[i] = rowKey(r)
			}
			slices.Sort(out)
			return out
		}
		if g, w := keys(got), keys(want); !slices.Equal(g, w) {
			t.Fatalf("%s: %d rows delivered over the restores, want %d exactly once", kind, len(g), len(w))
		}
	}
}

func TestResumeBadPosition(t *testing.T) {
	src := createSource(t, table("bid", nil), 0, 1).(exec.Resumable)
	err := src.Resume(map[string]int64{"auctions-0": 5})
	if err == nil || !strings.HasPrefix(err.Error(), "nexmark source: the checkpoint records split 'auctions-0', which is not a split of this generator") {
		t.Errorf("got %v", err)
	}
}
