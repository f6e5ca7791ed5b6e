package exec

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// `go test ./exec/ -run Align -rewrite` rewrites the expected outputs of
// testdata/align/*.txt; check every change by hand before keeping it.
var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of testdata/align/*.txt")

// TestAlignDatadriven runs the scripts in testdata/align. A script is a list
// of blocks separated by blank lines; lines starting with # between blocks
// are comments. A block is one command, "----", then the expected actions,
// one per line ("(no action)" when there are none). Commands:
//
//	new inputs=N mode=exactly-once|at-least-once [timeout=5s] [bound=100]
//	msg I data rows=N | msg I watermark T | msg I barrier ID | msg I end | msg I idle
//	advance D        move the clock forward by D, no call
//	tick D           move the clock forward by D, then Tick
//	abort ID         Abort(ID)
//	state            aligning checkpoint, held size, deadline
//
// The clock starts at 0; times print relative to it.
func TestAlignDatadriven(t *testing.T) {
	files, err := filepath.Glob("testdata/align/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/align/*.txt")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			runAlignScript(t, f)
		})
	}
}

type alignBlock struct {
	pre  []string // comments and blank lines before the command
	cmd  string
	line int
	want []string
}

func parseAlignScript(t *testing.T, path string) ([]alignBlock, []string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var blocks []alignBlock
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		b := alignBlock{pre: pre, cmd: l, line: i + 1}
		pre = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command not followed by ----", path, i+1)
		}
		i += 2
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			b.want = append(b.want, lines[i])
		}
		i-- // the loop's i++ moves to the blank line
		blocks = append(blocks, b)
	}
	return blocks, pre
}

func runAlignScript(t *testing.T, path string) {
	blocks, trailer := parseAlignScript(t, path)
	var a *Aligner
	epoch := time.Unix(0, 0).UTC()
	now := epoch
	var out strings.Builder
	failed := false
	for _, b := range blocks {
		got := alignCommand(t, path, b, &a, epoch, &now)
		for _, p := range b.pre {
			out.WriteString(p + "\n")
		}
		out.WriteString(b.cmd + "\n----\n")
		for _, g := range got {
			out.WriteString(g + "\n")
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(b.want, "\n") {
			failed = true
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", path, b.line, b.cmd,
				strings.Join(got, "\n"), strings.Join(b.want, "\n"))
		}
	}
	for _, p := range trailer {
		out.WriteString(p + "\n")
	}
	if *rewrite && !failed {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func alignCommand(t *testing.T, path string, b alignBlock, ap **Aligner, epoch time.Time, now *time.Time) []string {
	f := strings.Fields(b.cmd)
	bad := func(format string, args ...any) {
		t.Fatalf("%s:%d: %s: %s", path, b.line, b.cmd, fmt.Sprintf(format, args...))
	}
	if f[0] != "new" && *ap == nil {
		bad("no aligner yet: start with new")
	}
	dur := func(s string) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			bad("%v", err)
		}
		return d
	}
	num := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			bad("%v", err)
		}
		return n
	}
	var acts []Action
	switch f[0] {
	case "new":
		cfg := AlignerConfig{}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "inputs":
				cfg.Inputs = int(num(v))
			case "mode":
				switch v {
				case "exactly-once":
					cfg.Mode = DeliveryExactlyOnce
				case "at-least-once":
					cfg.Mode = DeliveryAtLeastOnce
				default:
					bad("mode %q", v)
				}
			case "timeout":
				cfg.Timeout = dur(v)
			case "bound":
				cfg.MaxHeld = int(num(v))
			default:
				bad("unknown argument %q", k)
			}
		}
		a, err := NewAligner(cfg)
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		*ap = a
		*now = epoch
		return []string{"ok"}
	case "msg":
		if len(f) < 3 {
			bad("msg I KIND ...")
		}
		m := Message{From: int(num(f[1]))}
		switch f[2] {
		case "data":
			if len(f) != 4 || !strings.HasPrefix(f[3], "rows=") {
				bad("msg I data rows=N")
			}
			m.Kind = MsgData
			m.Batch = &types.Batch{Rows: make([]types.Row, num(strings.TrimPrefix(f[3], "rows=")))}
		case "watermark":
			m.Kind = MsgWatermark
			w, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				bad("%v", err)
			}
			m.Watermark = w
		case "barrier":
			m.Kind = MsgBarrier
			m.Barrier = num(f[3])
		case "end":
			m.Kind = MsgEnd
		case "idle":
			m.Kind = MsgIdle
		default:
			bad("message kind %q", f[2])
		}
		acts = (*ap).OnMessage(*now, m)
	case "advance":
		*now = now.Add(dur(f[1]))
		return []string{fmt.Sprintf("now=%s", now.Sub(epoch))}
	case "tick":
		*now = now.Add(dur(f[1]))
		acts = (*ap).Tick(*now)
	case "abort":
		acts = (*ap).Abort(*now, num(f[1]))
	case "state":
		a := *ap
		id, ok := a.Aligning()
		if !ok {
			return []string{fmt.Sprintf("idle held=%d", a.Held())}
		}
		d, _ := a.Deadline()
		return []string{fmt.Sprintf("aligning %d held=%d deadline=%s", id, a.Held(), d.Sub(epoch))}
	default:
		bad("unknown command")
	}
	if len(acts) == 0 {
		return []string{"(no action)"}
	}
	got := make([]string, len(acts))
	for i, act := range acts {
		got[i] = formatAction(act)
	}
	return got
}

func formatMessage(m Message) string {
	switch m.Kind {
	case MsgData:
		return fmt.Sprintf("%d data rows=%d", m.From, len(m.Batch.Rows))
	case MsgWatermark:
		return fmt.Sprintf("%d watermark %d", m.From, m.Watermark)
	case MsgBarrier:
		return fmt.Sprintf("%d barrier %d", m.From, m.Barrier)
	case MsgEnd:
		return fmt.Sprintf("%d end", m.From)
	case MsgIdle:
		return fmt.Sprintf("%d idle", m.From)
	}
	return fmt.Sprintf("%d kind %d", m.From, m.Kind)
}

func formatAction(a Action) string {
	switch a.Kind {
	case ActDeliver:
		return "deliver " + formatMessage(a.Msg)
	case ActSnapshot:
		return fmt.Sprintf("snapshot %d aligned=%s", a.Checkpoint, a.Aligned)
	case ActCancel:
		return fmt.Sprintf("cancel %d %s", a.Checkpoint, a.Reason)
	}
	return fmt.Sprintf("action %d", a.Kind)
}

// --- generated interleavings ---------------------------------------------

// tagged is a message of an input script with its position in its channel.
type tagged struct {
	m   Message
	seq int // index within its channel's script
}

// channelScript builds the messages one input sends: data before, between
// and after the barriers 1..barriers, a watermark after each barrier; if
// end, the input ends after the first data instead of sending barriers; if
// compact, only each barrier followed by one data batch (keeps 3 inputs × 2
// barriers at 34,650 interleavings).
func channelScript(from, barriers int, end, compact bool) []Message {
	data := func() Message {
		return Message{Kind: MsgData, From: from, Batch: &types.Batch{Rows: make([]types.Row, 1)}}
	}
	if end {
		return []Message{data(), {Kind: MsgEnd, From: from}}
	}
	if compact {
		var s []Message
		for b := 1; b <= barriers; b++ {
			s = append(s, Message{Kind: MsgBarrier, From: from, Barrier: uint64(b)}, data())
		}
		return s
	}
	s := []Message{data()}
	for b := 1; b <= barriers; b++ {
		s = append(s, Message{Kind: MsgBarrier, From: from, Barrier: uint64(b)},
			Message{Kind: MsgWatermark, From: from, Watermark: int64(b)})
	}
	return append(s, data())
}

// interleavings calls f with every interleaving of the channel scripts that
// keeps each channel's order.
func interleavings(scripts [][]Message, f func([]tagged)) {
	pos := make([]int, len(scripts))
	total := 0
	for _, s := range scripts {
		total += len(s)
	}
	cur := make([]tagged, 0, total)
	var rec func()
	rec = func() {
		if len(cur) == total {
			f(cur)
			return
		}
		for c, s := range scripts {
			if pos[c] < len(s) {
				cur = append(cur, tagged{m: s[pos[c]], seq: pos[c]})
				pos[c]++
				rec()
				pos[c]--
				cur = cur[:len(cur)-1]
			}
		}
	}
	rec()
}

// alignRun feeds an arrival order to a fresh aligner and returns its actions.
func alignRun(t *testing.T, cfg AlignerConfig, arrival []tagged) []Action {
	a, err := NewAligner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	var all []Action
	for _, x := range arrival {
		now = now.Add(time.Millisecond)
		all = append(all, a.OnMessage(now, x.m)...)
	}
	if id, ok := a.Aligning(); ok || a.Held() != 0 {
		t.Fatalf("still aligning %d with %d held at the end", id, a.Held())
	}
	return all
}

// checkDeliveries asserts every non-barrier message of scripts is delivered
// exactly once, in channel order, and returns, for each action index, how
// many messages of each channel had been delivered before it.
func checkDeliveries(t *testing.T, ctx string, scripts [][]Message, acts []Action) (prefix [][]int) {
	t.Helper()
	next := make([]int, len(scripts))
	delivered := make([]int, len(scripts))
	skip := func(c int) { // barriers are consumed, never delivered
		for next[c] < len(scripts[c]) && scripts[c][next[c]].Kind == MsgBarrier {
			next[c]++
		}
	}
	for _, act := range acts {
		prefix = append(prefix, append([]int(nil), delivered...))
		if act.Kind != ActDeliver {
			continue
		}
		c := act.Msg.From
		if act.Msg.Kind == MsgBarrier {
			t.Fatalf("%s\nbarrier delivered to the operator: %s", ctx, formatAction(act))
		}
		skip(c)
		if next[c] >= len(scripts[c]) {
			t.Fatalf("%s\ninput %d: delivered more than it sent: %s", ctx, c, formatAction(act))
		}
		want := scripts[c][next[c]]
		if act.Msg.Kind != want.Kind || act.Msg.Batch != want.Batch || act.Msg.Watermark != want.Watermark {
			t.Fatalf("%s\ninput %d: delivered %s, want %s next", ctx, c, formatAction(act), formatMessage(want))
		}
		next[c]++
		delivered[c]++
	}
	for c := range scripts {
		skip(c)
		if next[c] != len(scripts[c]) {
			t.Fatalf("%s\ninput %d: %d of %d messages delivered", ctx, c, next[c], len(scripts[c]))
		}
	}
	return prefix
}

// cut is, for each channel, how many of its non-barrier messages precede
// Barrier(id), all of them if it never sends it.
func cut(scripts [][]Message, id uint64) []int {
	c := make([]int, len(scripts))
	for i, s := range scripts {
		for _, m := range s {
			if m.Kind == MsgBarrier {
				if m.Barrier == id {
					break
				}
				continue
			}
			c[i]++
		}
	}
	return c
}

// sends reports whether a channel's script sends Barrier(id).
func sends(s []Message, id uint64) bool {
	for _, m := range s {
		if m.Kind == MsgBarrier && m.Barrier == id {
			return true
		}
	}
	return false
}

func showArrival(arrival []tagged) string {
	var b strings.Builder
	for _, x := range arrival {
		b.WriteString(formatMessage(x.m) + "; ")
	}
	return b.String()
}

// TestAlignInterleavingsExactlyOnce: for every arrival order of barriers,
// data and watermarks across 2 and 3 inputs (also with inputs that end
// instead of sending barriers), every message is delivered exactly once and
// in channel order, every checkpoint is snapshotted once, in id order, and
// Snapshot(n) is preceded by exactly the messages sent before Barrier(n).
func TestAlignInterleavingsExactlyOnce(t *testing.T) {
	cases := []struct {
		inputs, barriers int
		ends             []bool
	}{
		{2, 1, nil},
		{2, 2, nil},
		{2, 3, nil},
		{3, 1, nil},
		{3, 2, nil},
		{2, 2, []bool{false, true}},
		{3, 1, []bool{false, false, true}},
		{3, 2, []bool{false, true, false}},
		{3, 1, []bool{true, false, true}},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("inputs=%d/barriers=%d/ends=%v", tc.inputs, tc.barriers, tc.ends)
		t.Run(name, func(t *testing.T) {
			scripts := make([][]Message, tc.inputs)
			for c := range scripts {
				scripts[c] = channelScript(c, tc.barriers, tc.ends != nil && tc.ends[c], tc.inputs == 3 && tc.barriers > 1)
			}
			cfg := AlignerConfig{Inputs: tc.inputs, Mode: DeliveryExactlyOnce, Timeout: time.Hour, MaxHeld: 1 << 20}
			n := 0
			interleavings(scripts, func(arrival []tagged) {
				n++
				acts := alignRun(t, cfg, arrival)
				prefix := checkDeliveries(t, showArrival(arrival), scripts, acts)
				var next uint64 = 1
				for i, act := range acts {
					switch act.Kind {
					case ActCancel:
						t.Fatalf("%s\nunexpected %s", showArrival(arrival), formatAction(act))
					case ActSnapshot:
						if act.Checkpoint != next {
							t.Fatalf("%s\nsnapshot %d, want %d", showArrival(arrival), act.Checkpoint, next)
						}
						next++
						want := cut(scripts, act.Checkpoint)
						for c := range want {
							if prefix[i][c] != want[c] {
								t.Fatalf("%s\nsnapshot %d: input %d has %d messages delivered before it, want %d",
									showArrival(arrival), act.Checkpoint, c, prefix[i][c], want[c])
							}
						}
					}
				}
				if next != uint64(tc.barriers)+1 {
					t.Fatalf("%s\n%d snapshots, want %d", showArrival(arrival), next-1, tc.barriers)
				}
			})
			t.Logf("%d interleavings", n)
		})
	}
}

// TestAlignInterleavingsAtLeastOnce: in at-least-once mode nothing is held
// (deliveries are the arrival order without barriers) and Snapshot(n) comes
// right after the last Barrier(n), or the End that completes it.
func TestAlignInterleavingsAtLeastOnce(t *testing.T) {
	for _, tc := range []struct {
		inputs, barriers int
		ends             []bool
	}{{2, 2, nil}, {3, 1, nil}, {3, 2, nil}, {3, 2, []bool{false, true, false}}} {
		scripts := make([][]Message, tc.inputs)
		for c := range scripts {
			scripts[c] = channelScript(c, tc.barriers, tc.ends != nil && tc.ends[c], tc.inputs == 3 && tc.barriers > 1)
		}
		cfg := AlignerConfig{Inputs: tc.inputs, Mode: DeliveryAtLeastOnce}
		interleavings(scripts, func(arrival []tagged) {
			a, _ := NewAligner(cfg)
			now := time.Unix(0, 0)
			var all []Action
			ended := make([]bool, tc.inputs)
			arrived := map[uint64][]bool{}
			done := map[uint64]bool{}
			for _, x := range arrival {
				acts := a.OnMessage(now, x.m)
				all = append(all, acts...)
				var snaps []uint64
				for _, act := range acts {
					switch act.Kind {
					case ActCancel:
						t.Fatalf("%s\nunexpected %s", showArrival(arrival), formatAction(act))
					case ActSnapshot:
						snaps = append(snaps, act.Checkpoint)
					}
				}
				switch x.m.Kind {
				case MsgBarrier:
					if arrived[x.m.Barrier] == nil {
						arrived[x.m.Barrier] = make([]bool, tc.inputs)
					}
					arrived[x.m.Barrier][x.m.From] = true
				case MsgEnd:
					ended[x.m.From] = true
				}
				// model: the ids that just became complete, in id order
				var want []uint64
				for id := uint64(1); id <= uint64(tc.barriers); id++ {
					if done[id] || arrived[id] == nil {
						continue
					}
					complete := true
					for c := range ended {
						complete = complete && (arrived[id][c] || ended[c])
					}
					if complete {
						done[id] = true
						want = append(want, id)
					}
				}
				if fmt.Sprint(snaps) != fmt.Sprint(want) {
					t.Fatalf("%s\nafter %s: snapshots %v, want %v", showArrival(arrival), formatMessage(x.m), snaps, want)
				}
			}
			// no holding: deliveries are exactly the arrival order without barriers
			var got, wantD []string
			for _, act := range all {
				if act.Kind == ActDeliver {
					got = append(got, formatMessage(act.Msg))
				}
			}
			for _, x := range arrival {
				if x.m.Kind != MsgBarrier {
					wantD = append(wantD, formatMessage(x.m))
				}
			}
			if strings.Join(got, ";") != strings.Join(wantD, ";") {
				t.Fatalf("%s\ndelivered %v", showArrival(arrival), got)
			}
			checkDeliveries(t, showArrival(arrival), scripts, all)
		})
	}
}

// TestAlignRandomExactlyOnce drives the aligner with seeded random scripts
// in which inputs skip barriers (an upstream aligner cancelled them), clocks
// jump past the timeout, bounds are small and checkpoints are aborted. Whatever
// happens: every message is delivered exactly once in channel order, nothing
// stays held, snapshot ids increase, and every Snapshot(n) is an exact cut —
// for each input that sent Barrier(n), precisely what it sent before it; for
// each input that did not, everything up to its end if it ended.
func TestAlignRandomExactlyOnce(t *testing.T) {
	counts := map[string]int{}
	defer func() {
		t.Logf("actions over all seeds: %v", counts)
		for _, k := range []string{"snapshot", "cancel superseded", "cancel timeout", "cancel bound", "cancel aborted"} {
			if counts[k] == 0 {
				t.Errorf("no %q in any seed: the generator no longer covers it", k)
			}
		}
	}()
	for seed := int64(1); seed <= 3000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		inputs := 1 + rng.Intn(3)
		scripts := make([][]Message, inputs)
		for c := range scripts {
			var s []Message
			for id := uint64(1); id <= 4; id++ {
				for k := rng.Intn(3); k > 0; k-- {
					switch rng.Intn(4) {
					case 0:
						s = append(s, Message{Kind: MsgWatermark, From: c, Watermark: int64(id)})
					case 1:
						s = append(s, Message{Kind: MsgIdle, From: c})
					default:
						s = append(s, Message{Kind: MsgData, From: c, Batch: &types.Batch{Rows: make([]types.Row, rng.Intn(4))}})
					}
				}
				if rng.Intn(5) != 0 {
					s = append(s, Message{Kind: MsgBarrier, From: c, Barrier: id})
				}
			}
			s = append(s, Message{Kind: MsgData, From: c, Batch: &types.Batch{Rows: make([]types.Row, 1)}})
			if rng.Intn(2) == 0 {
				s = append(s, Message{Kind: MsgEnd, From: c})
			}
			scripts[c] = s
		}
		cfg := AlignerConfig{Inputs: inputs, Mode: DeliveryExactlyOnce,
			Timeout: time.Duration(1+rng.Intn(10)) * time.Second, MaxHeld: 1 + rng.Intn(8)}
		a, err := NewAligner(cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		pos := make([]int, inputs)
		var acts []Action
		var log []string
		for {
			var open []int
			for c := range scripts {
				if pos[c] < len(scripts[c]) {
					open = append(open, c)
				}
			}
			if len(open) == 0 {
				break
			}
			now = now.Add(time.Duration(rng.Intn(1500)) * time.Millisecond)
			switch r := rng.Intn(20); {
			case r == 0:
				log = append(log, "tick")
				acts = append(acts, a.Tick(now)...)
				continue
			case r == 1:
				id := uint64(1 + rng.Intn(4))
				log = append(log, fmt.Sprintf("abort %d", id))
				acts = append(acts, a.Abort(now, id)...)
				continue
			}
			c := open[rng.Intn(len(open))]
			m := scripts[c][pos[c]]
			pos[c]++
			log = append(log, formatMessage(m))
			acts = append(acts, a.OnMessage(now, m)...)
		}
		// an input that neither ends nor sends a barrier keeps its checkpoint
		// aligning; the timeout releases it
		// (releasing may start aligning a held later barrier: tick again)
		for i := 0; i < 5; i++ {
			now = now.Add(time.Hour)
			acts = append(acts, a.Tick(now)...)
		}
		if id, ok := a.Aligning(); ok || a.Held() != 0 {
			t.Fatalf("seed %d: still aligning %d with %d held", seed, id, a.Held())
		}
		ctx := fmt.Sprintf("seed %d: %s", seed, strings.Join(log, "; "))
		prefix := checkDeliveries(t, ctx, scripts, acts)
		var last uint64
		for i, act := range acts {
			switch act.Kind {
			case ActSnapshot:
				counts["snapshot"]++
			case ActCancel:
				counts["cancel "+act.Reason.String()]++
			}
			if act.Kind != ActSnapshot {
				continue
			}
			if act.Checkpoint <= last {
				t.Fatalf("%s\nsnapshot %d after %d", ctx, act.Checkpoint, last)
			}
			last = act.Checkpoint
			want := cut(scripts, act.Checkpoint)
			for c := range want {
				sentIt := sends(scripts[c], act.Checkpoint)
				ended := len(scripts[c]) > 0 && scripts[c][len(scripts[c])-1].Kind == MsgEnd
				if !sentIt && !ended {
					t.Fatalf("%s\nsnapshot %d without a barrier or end from input %d", ctx, act.Checkpoint, c)
				}
				if prefix[i][c] != want[c] {
					t.Fatalf("%s\nsnapshot %d: input %d has %d delivered before it, want %d",
						ctx, act.Checkpoint, c, prefix[i][c], want[c])
				}
			}
		}
	}
}

func TestAlignConfig(t *testing.T) {
	for _, cfg := range []AlignerConfig{
		{Inputs: 0, Mode: DeliveryAtLeastOnce},
		{Inputs: 2, Mode: DeliveryExactlyOnce, MaxHeld: 10},
		{Inputs: 2, Mode: DeliveryExactlyOnce, Timeout: time.Second},
	} {
		if _, err := NewAligner(cfg); err == nil {
			t.Errorf("NewAligner(%+v): no error", cfg)
		}
	}
	if _, err := NewAligner(AlignerConfig{Inputs: 2, Mode: DeliveryAtLeastOnce}); err != nil {
		t.Errorf("at-least-once needs no timeout or bound: %v", err)
	}
}
