package checkpoint

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rel prints a time as its offset from epoch, the scripts' time origin.
func rel(t time.Time) string { return t.Sub(epoch).String() }

// formatActions prints actions one per line, deterministically.
func formatActions(as []Action) string {
	var b strings.Builder
	for _, a := range as {
		switch a := a.(type) {
		case Trigger:
			fmt.Fprintf(&b, "trigger %d %s", a.ID, a.Kind)
			if a.Full {
				b.WriteString(" full")
			} else {
				fmt.Fprintf(&b, " incremental parent=%d", a.Parent)
			}
			fmt.Fprintf(&b, " at=%s\n", rel(a.Time))
		case Complete:
			m := a.Metadata
			mode := "full"
			if !m.Full {
				mode = fmt.Sprintf("incremental parents=%v", m.Parents)
			}
			fmt.Fprintf(&b, "complete %d %s %s trigger=%s duration=%s bytes-full=%d bytes-incremental=%d\n",
				a.ID, m.Kind, mode, rel(m.TriggerTime), m.Duration(), m.BytesFull, m.BytesIncremental)
			if len(a.InUse) > 0 {
				fmt.Fprintf(&b, "  in-use %v\n", a.InUse)
			}
			if m.ID != a.ID {
				fmt.Fprintf(&b, "  BUG: metadata id %d\n", m.ID)
			}
		case Abort:
			fmt.Fprintf(&b, "abort %d: %s\n", a.ID, a.Reason)
		case Fail:
			fmt.Fprintf(&b, "fail: %s\n", a.Reason)
		case Stop:
			fmt.Fprintf(&b, "stop savepoint=%d\n", a.SavepointID)
		default:
			fmt.Fprintf(&b, "unknown action %T\n", a)
		}
	}
	return b.String()
}

// parseKV splits "k=v" words; words without '=' are returned in rest.
func parseKV(words []string) (kv map[string]string, rest []string) {
	kv = map[string]string{}
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			kv[k] = v
		} else {
			rest = append(rest, w)
		}
	}
	return kv, rest
}

func mustDur(t *testing.T, s string) time.Duration {
	t.Helper()
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustInt(t *testing.T, s string) int {
	t.Helper()
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustID(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCoordinatorScripts runs testdata/coordinator/*.txt. Commands:
//
//	config interval=10s timeout=5s max-concurrent=1 min-pause=2s tolerable=2 full-every=3 tasks=a/0,b/0
//	tick 10s                     time := epoch+10s, then Tick
//	ack ID TASK[,TASK...]|* [bytes=N sync=D async=D align=D]
//	decline ID TASK reason words...
//	savepoint | stop-with-savepoint
//	completion-failed ID reason words...
//	pending                      the pending ids
//
// ack, decline, savepoint etc. happen at the time of the last tick.
func TestCoordinatorScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/coordinator/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var c *Coordinator
			var tasks []TaskID
			now := epoch
			runDD(t, f, func(t *testing.T, line string) string {
				words := strings.Fields(line)
				if words[0] != "config" && c == nil {
					t.Fatalf("%q before config", line)
				}
				switch words[0] {
				case "config":
					kv, _ := parseKV(words[1:])
					cfg := Config{
						Interval: mustDur(t, kv["interval"]), Timeout: mustDur(t, kv["timeout"]),
						MaxConcurrent: mustInt(t, kv["max-concurrent"]), MinPause: mustDur(t, kv["min-pause"]),
						TolerableFailures: mustInt(t, kv["tolerable"]), FullEvery: mustInt(t, kv["full-every"]),
					}
					tasks = nil
					for _, s := range strings.Split(kv["tasks"], ",") {
						id, err := ParseTaskID(s)
						if err != nil {
							t.Fatal(err)
						}
						tasks = append(tasks, id)
					}
					cfg.Tasks = tasks
					now = epoch
					var err error
					if c, err = NewCoordinator(cfg, epoch); err != nil {
						return "error: " + err.Error()
					}
					return ""
				case "tick":
					now = epoch.Add(mustDur(t, words[1]))
					return formatActions(c.Tick(now))
				case "ack":
					kv, _ := parseKV(words[3:])
					info := AckInfo{
						Bytes:   int64(mustInt(t, kv["bytes"])),
						SyncDur: mustDur(t, kv["sync"]), AsyncDur: mustDur(t, kv["async"]), AlignDur: mustDur(t, kv["align"]),
					}
					ack := tasks
					if words[2] != "*" {
						ack = nil
						for _, s := range strings.Split(words[2], ",") {
							id, err := ParseTaskID(s)
							if err != nil {
								t.Fatal(err)
							}
							ack = append(ack, id)
						}
					}
					var out []Action
					for _, task := range ack {
						out = append(out, c.Ack(now, mustID(t, words[1]), task, info)...)
					}
					return formatActions(out)
				case "decline":
					task, err := ParseTaskID(words[2])
					if err != nil {
						t.Fatal(err)
					}
					return formatActions(c.Decline(now, mustID(t, words[1]), task, strings.Join(words[3:], " ")))
				case "trigger-now":
					now = epoch.Add(mustDur(t, words[1]))
					return formatActions(c.TriggerNow(now))
				case "require-full":
					return formatActions(c.RequireFull())
				case "savepoint":
					return formatActions(c.Savepoint(now))
				case "stop-with-savepoint":
					return formatActions(c.StopWithSavepoint(now))
				case "completion-failed":
					return formatActions(c.CompletionFailed(now, mustID(t, words[1]), strings.Join(words[2:], " ")))
				case "pending":
					return fmt.Sprintf("pending %v done=%v", c.Pending(), c.Done())
				}
				t.Fatalf("unknown command %q", line)
				return ""
			})
		})
	}
}

func TestCoordinatorMetadata(t *testing.T) {
	a, b := TaskID{"src", 0}, TaskID{"agg", 1}
	c, err := NewCoordinator(Config{Interval: time.Second, Timeout: time.Minute, Tasks: []TaskID{a, b}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	c.Tick(epoch.Add(time.Second))
	handles := []StateHandle{{Path: "agg-1.sst", Size: 7}}
	c.Ack(epoch.Add(2*time.Second), 1, a, AckInfo{SyncDur: 1, Bytes: 0, SourcePositions: []SourcePosition{{Source: "t", Partition: 3, Offset: 42}}})
	handles[0].Size = 99 // the coordinator must have copied it
	_ = handles
	out := c.Ack(epoch.Add(3*time.Second), 1, b, AckInfo{AsyncDur: 5, AlignDur: 6, Bytes: 7, Handles: []StateHandle{{Path: "agg-1.sst", Size: 7}}})
	if len(out) != 1 {
		t.Fatalf("got %v", out)
	}
	md := out[0].(Complete).Metadata
	// tasks are sorted by vertex, then subtask
	if md.Tasks[0].Task != b || md.Tasks[1].Task != a {
		t.Fatalf("task order %v", md.Tasks)
	}
	if md.Tasks[1].SourcePositions[0] != (SourcePosition{Source: "t", Partition: 3, Offset: 42}) || md.Tasks[0].Handles[0].Size != 7 ||
		md.Tasks[0].AsyncDur != 5 || md.Tasks[0].AlignDur != 6 || md.Tasks[1].SyncDur != 1 {
		t.Fatalf("metadata %+v", md)
	}
	if md.Duration() != 2*time.Second || md.Version != MetadataVersion {
		t.Fatalf("metadata %+v", md)
	}
}

func TestCoordinatorConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Timeout: time.Second, Tasks: []TaskID{{"a", 0}}},
		{Interval: time.Second, Tasks: []TaskID{{"a", 0}}},
		{Interval: time.Second, Timeout: time.Second},
	} {
		if _, err := NewCoordinator(cfg, epoch); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	if _, err := ParseTaskID("nosubtask"); err == nil {
		t.Error("ParseTaskID accepted nosubtask")
	}
}
