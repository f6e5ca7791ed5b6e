package pace

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/weirsql/weir/exec"
)

// A generator subtask i of p owns the numbers n ≡ i (mod p): the partition
// depends on the parallelism. Splits are therefore named after their
// residue class, so that a checkpoint says exactly which numbers were
// delivered whatever the parallelism of the run that restores it:
//
//	"i/p"    an open split: the numbers n ≡ i (mod p) from where the
//	         generation that introduced p began;
//	"i/p<h"  a closing split: the numbers n ≡ i (mod p) below h.
//
// The position of either is the next number to generate: the numbers of
// the class below it have been delivered, those at or above it have not.
//
// Restoring at the parallelism p of the recorded open splits resumes each
// "j/p" at its position. Restoring at another parallelism p' turns every
// recorded open split "i/p" at position x_i into a closing split "i/p<h",
// with h the largest recorded position, which delivers the numbers of its
// class in [x_i, h) that it had not yet delivered; the new open splits
// "j/p'" start at h. Every number below h belongs to exactly one old class,
// every number at or above h to exactly one new class, so each number is
// delivered exactly once. Closing splits are handed out among the new
// subtasks (the k-th in name order to subtask k mod p'), registered with
// exec.AddNamedSplit at the start of Run, and run to their end before the
// open split; a closing split that is still unfinished at the next
// checkpoint is recorded under its name and resumed like any split, at any
// parallelism. A closing split recorded at or past its end is dropped.

// OpenName names the open split of subtask i of p.
func OpenName(i, p int64) string { return strconv.FormatInt(i, 10) + "/" + strconv.FormatInt(p, 10) }

// closingName names the closing split of class i mod p below h.
func closingName(i, p, h int64) string { return OpenName(i, p) + "<" + strconv.FormatInt(h, 10) }

// parseName parses "i/p" (end = -1) or "i/p<h".
func parseName(s string) (i, p, end int64, ok bool) {
	end = -1
	rest := s
	if a, b, found := strings.Cut(s, "<"); found {
		h, err := strconv.ParseInt(b, 10, 64)
		if err != nil || h < 0 || strconv.FormatInt(h, 10) != b {
			return 0, 0, 0, false
		}
		rest, end = a, h
	}
	a, b, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	i, err1 := strconv.ParseInt(a, 10, 64)
	p, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || p < 1 || i < 0 || i >= p ||
		strconv.FormatInt(i, 10) != a || strconv.FormatInt(p, 10) != b {
		return 0, 0, 0, false
	}
	return i, p, end, true
}

// firstAtLeast is the smallest n ≥ x with n ≡ i (mod p), or MaxInt64 if it
// does not fit.
func firstAtLeast(x, i, p int64) int64 {
	if x < i {
		return i
	}
	d := (i - x%p + p) % p
	if x > math.MaxInt64-d {
		return math.MaxInt64
	}
	return x + d
}

// closing is a closing split: the numbers ≡ residue (mod modulus) in
// [next, end).
type closing struct {
	name                        string
	residue, modulus, next, end int64
}

// Subtask is the resumable side of generator subtask Index of Parallelism:
// it names its split, takes positions from a checkpoint and runs the
// sequences that follow from them. Without Resume it runs the open split
// from the start, exactly as a plain Sequence.
type Subtask struct {
	Source             string // "nexmark source", for errors
	Index, Parallelism int64

	start    int64     // the open split's position; -1: its residue (from the start)
	closings []closing // the closing splits this subtask runs
}

// NewSubtask makes subtask i of p.
func NewSubtask(source string, i, p int) *Subtask {
	return &Subtask{Source: source, Index: int64(i), Parallelism: int64(p), start: -1}
}

// SplitNames implements exec.Resumable: the one split is the open split.
func (s *Subtask) SplitNames() []string { return []string{OpenName(s.Index, s.Parallelism)} }

// Resume implements exec.Resumable (see the comment on the split names).
func (s *Subtask) Resume(pos map[string]int64) error {
	type open struct{ i, x int64 }
	var (
		opens    []open
		modulus  int64
		closings []closing
		maxEnd   int64 // the largest end of a recorded closing split
	)
	names := make([]string, 0, len(pos))
	for name := range pos {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		x := pos[name]
		i, p, end, ok := parseName(name)
		if !ok {
			return fmt.Errorf("%s: the checkpoint records split '%s', which is not a split of this generator (want 'i/p' or 'i/p<h')", s.Source, name)
		}
		if x < 0 {
			return fmt.Errorf("%s: the checkpoint records position %d for split '%s'; positions are ≥ 0", s.Source, x, name)
		}
		if end >= 0 {
			maxEnd = max(maxEnd, end)
			closings = append(closings, closing{name: name, residue: i, modulus: p, next: x, end: end})
			continue
		}
		if modulus != 0 && p != modulus {
			return fmt.Errorf("%s: the checkpoint records open splits of two parallelisms (%d and %d)", s.Source, modulus, p)
		}
		modulus = p
		opens = append(opens, open{i, x})
	}
	// An open split not recorded starts where its generation began: at or
	// above every closing split's end.
	switch {
	case modulus == s.Parallelism:
		s.start = maxEnd
		for _, o := range opens {
			if o.i == s.Index {
				s.start = o.x
			}
		}
	case modulus != 0: // another parallelism: the old open splits close at h
		h := maxEnd
		at := make(map[int64]int64, len(opens))
		for _, o := range opens {
			at[o.i] = o.x
			h = max(h, o.x)
		}
		for i := int64(0); i < modulus; i++ {
			x, ok := at[i]
			if !ok {
				x = maxEnd
			}
			closings = append(closings, closing{name: closingName(i, modulus, h), residue: i, modulus: modulus, next: x, end: h})
		}
		s.start = h
	default:
		s.start = maxEnd
	}
	// drop finished closing splits; hand out the others
	live := closings[:0]
	for _, c := range closings {
		if firstAtLeast(c.next, c.residue, c.modulus) < c.end {
			live = append(live, c)
		}
	}
	sort.Slice(live, func(a, b int) bool { return live[a].name < live[b].name })
	s.closings = nil
	for k, c := range live {
		if int64(k)%s.Parallelism == s.Index {
			s.closings = append(s.closings, c)
		}
	}
	return nil
}

// Run runs the subtask's closing splits, then its open split (split 0),
// with q's row building and pacing; q.First, Step, Limit and Split are set
// here (q.Limit is the table's bound, math.MaxInt64 when unbounded). has
// reports whether a residue class holds any row at all (nil: every class
// does); a split whose class holds none is done at once.
func (s *Subtask) Run(ctx context.Context, out exec.SourceOutput, q Sequence, has func(i, p int64) bool) error {
	limit := q.Limit
	ids := make([]int, len(s.closings))
	for k, c := range s.closings {
		ids[k] = exec.AddNamedSplit(out, c.name)
		exec.SetPosition(out, ids[k], c.next)
	}
	start := s.Index // a fresh start
	if s.start >= 0 {
		start = firstAtLeast(s.start, s.Index, s.Parallelism)
	}
	// recorded at once, so that every checkpoint holds the open split
	exec.SetPosition(out, 0, start)
	for k, c := range s.closings {
		if has != nil && !has(c.residue, c.modulus) {
			out.SplitDone(ids[k])
			continue
		}
		cq := q
		cq.First, cq.Step, cq.Limit, cq.Split = firstAtLeast(c.next, c.residue, c.modulus), c.modulus, min(c.end, limit), ids[k]
		if err := cq.Run(ctx, out); err != nil {
			return err
		}
	}
	if has != nil && !has(s.Index, s.Parallelism) {
		out.SplitDone(0)
		return nil
	}
	q.First, q.Step, q.Split = start, s.Parallelism, 0
	return q.Run(ctx, out)
}
