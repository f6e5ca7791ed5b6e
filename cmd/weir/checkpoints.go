package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
)

// ckOptions are the checkpointing flags of 'weir run'.
type ckOptions struct {
	dir             string
	interval        time.Duration
	timeout         time.Duration
	restore         string // "", "latest" or a path
	savepointOnStop bool
	delivery        string
	retain          int
	fullEvery       int
	tolerable       int
	stateDir        string
}

func (o *ckOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.dir, "checkpoint-dir", "", "")
	fs.DurationVar(&o.interval, "checkpoint-interval", 10*time.Second, "")
	fs.DurationVar(&o.timeout, "checkpoint-timeout", 10*time.Minute, "")
	fs.StringVar(&o.restore, "restore", "", "")
	fs.BoolVar(&o.savepointOnStop, "savepoint-on-stop", false, "")
	fs.StringVar(&o.delivery, "delivery", "exactly-once", "")
	fs.IntVar(&o.retain, "checkpoint-retain", 3, "")
	fs.IntVar(&o.fullEvery, "checkpoint-full-every", 10, "")
	fs.IntVar(&o.tolerable, "checkpoint-tolerable-failures", -1, "")
	fs.StringVar(&o.stateDir, "state-dir", "", "")
}

func (o *ckOptions) check() error {
	if o.dir == "" {
		switch {
		case o.restore != "":
			return errors.New("--restore needs --checkpoint-dir (where new checkpoints go)")
		case o.savepointOnStop:
			return errors.New("--savepoint-on-stop needs --checkpoint-dir")
		}
		return nil
	}
	if o.interval < 10*time.Millisecond {
		return fmt.Errorf("--checkpoint-interval must be at least 10ms, got %v", o.interval)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("--checkpoint-timeout must be positive, got %v", o.timeout)
	}
	if o.retain < 1 {
		return fmt.Errorf("--checkpoint-retain must be at least 1, got %d", o.retain)
	}
	if o.fullEvery < 1 {
		return fmt.Errorf("--checkpoint-full-every must be at least 1, got %d", o.fullEvery)
	}
	switch o.delivery {
	case "exactly-once", "at-least-once":
	default:
		return fmt.Errorf("unknown --delivery %q (want exactly-once or at-least-once)", o.delivery)
	}
	return nil
}

// jobRunner runs INSERT jobs with checkpoints. It refuses a second INSERT:
// two jobs cannot share one checkpoint directory.
type jobRunner struct {
	o       ckOptions
	stderr  io.Writer
	control *exec.CheckpointControl
	mu      sync.Mutex
	jobs    int
}

func (r *jobRunner) run(ctx context.Context, p *planner.Plan) error {
	r.mu.Lock()
	r.jobs++
	n := r.jobs
	r.mu.Unlock()
	if n > 1 {
		return errors.New("a script run with --checkpoint-dir may hold only one INSERT INTO: each job needs its own checkpoint directory")
	}
	st, err := checkpoint.NewDirStorage(r.o.dir)
	if err != nil {
		return err
	}
	mode := exec.DeliveryExactlyOnce
	if r.o.delivery == "at-least-once" {
		mode = exec.DeliveryAtLeastOnce
	}
	tolerable := r.o.tolerable
	if tolerable < 0 {
		tolerable = 1 << 30
	}
	cfg := &exec.CheckpointConfig{
		Mode:    mode,
		Storage: st,
		Coordinator: checkpoint.Config{Interval: r.o.interval, Timeout: r.o.timeout,
			TolerableFailures: tolerable, FullEvery: r.o.fullEvery},
		Retain:   r.o.retain,
		StateDir: r.o.stateDir,
		Control:  r.control,
		OnEvent:  r.event,
	}
	switch r.o.restore {
	case "":
	case "latest":
		cp, warn, err := st.Latest()
		switch {
		case errors.Is(err, checkpoint.ErrNoCheckpoint):
			fmt.Fprintf(r.stderr, "weir: no complete checkpoint in %s; starting from the beginning\n", r.o.dir)
		case err != nil:
			return err
		default:
			if warn != nil {
				fmt.Fprintf(r.stderr, "weir: warning: %v\n", warn)
			}
			cfg.Restore = &cp
		}
	default:
		cp, err := st.Open(r.o.restore)
		if err != nil {
			return fmt.Errorf("--restore %s: %w", r.o.restore, err)
		}
		cfg.Restore = &cp
	}
	if cfg.Restore != nil {
		fmt.Fprintf(r.stderr, "weir: restoring from %s %d (%s)\n", cfg.Restore.Metadata.Kind, cfg.Restore.Metadata.ID, cfg.Restore.Dir)
	}
	spec := p.CheckpointedJob(cfg)
	err = exec.Run(ctx, spec)
	reportSpill(r.stderr, spec)
	return err
}

// reportSpill says, for every vertex that spilled state to Badger, how
// much of it was there when the job ended.
func reportSpill(w io.Writer, spec *exec.JobSpec) {
	for _, v := range spec.Vertices {
		if st, ok := v.Spill(); ok && st.Evicted > 0 {
			fmt.Fprintf(w, "weir: %s: state over its memory budget of %s: %d groups in the spill store at the end (%d spilled, %d reloaded)\n",
				v.Name, fmtBytes(st.Budget), st.Spilled, st.Evicted, st.Reloaded)
		}
	}
}

func (r *jobRunner) event(e exec.CheckpointEvent) {
	switch e.Kind {
	case "aborted":
		if e.Reason != "" {
			fmt.Fprintf(r.stderr, "weir: checkpoint %d failed: %s\n", e.ID, e.Reason)
		}
	case "warning":
		fmt.Fprintf(r.stderr, "weir: warning: %s\n", e.Reason)
	case "completed":
		if e.Metadata != nil && e.Metadata.Kind == checkpoint.KindSavepoint {
			fmt.Fprintf(r.stderr, "weir: savepoint %d written to %s\n", e.ID, e.Dir)
		}
	}
}

// ---------------------------------------------------------------- weir checkpoints

func checkpointsHelp() string {
	return `Usage:
  weir checkpoints [--json] DIR        list the checkpoints and savepoints in DIR
  weir checkpoints [--json] DIR ID     show checkpoint ID (or savepoint ID) in detail
  weir checkpoints [--json] PATH       show the checkpoint or savepoint directory PATH

DIR is a --checkpoint-dir of 'weir run'. The list shows, per checkpoint: id,
kind (checkpoint or savepoint), full or incremental, trigger time, end-to-end
duration, the bytes a restore reads (full) and the bytes it added
(incremental), and whether it is complete. The detail adds, per subtask, the
synchronous, asynchronous and alignment durations, the bytes written, the
source positions (Kafka offsets, file byte offsets, generator sequence
numbers) and sink transaction handles.
`
}

func cmdCheckpoints(_ context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("checkpoints", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, checkpointsHelp())
			return exitOK
		}
		fmt.Fprintf(e.stderr, "weir checkpoints: %v\n", err)
		return exitUsage
	}
	switch fs.NArg() {
	case 1, 2:
	default:
		fmt.Fprintln(e.stderr, "usage: weir checkpoints [--json] DIR [ID]")
		return exitUsage
	}
	dir := fs.Arg(0)
	if _, err := os.Stat(filepath.Join(dir, checkpoint.MetadataFile)); err == nil && fs.NArg() == 1 {
		// a checkpoint or savepoint directory itself
		return showCheckpoint(e, filepath.Dir(dir), dir, *asJSON)
	}
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintf(e.stderr, "weir checkpoints: %v\n", err)
		return exitError
	}
	st, err := checkpoint.NewDirStorage(dir)
	if err != nil {
		fmt.Fprintf(e.stderr, "weir checkpoints: %v\n", err)
		return exitError
	}
	entries, err := st.List()
	if err != nil {
		fmt.Fprintf(e.stderr, "weir checkpoints: %v\n", err)
		return exitError
	}
	if fs.NArg() == 2 {
		id, err := strconv.ParseUint(fs.Arg(1), 10, 64)
		if err != nil {
			fmt.Fprintf(e.stderr, "weir checkpoints: bad checkpoint id %q\n", fs.Arg(1))
			return exitUsage
		}
		for _, en := range entries {
			if en.ID == id {
				return showCheckpoint(e, dir, en.Dir, *asJSON)
			}
		}
		fmt.Fprintf(e.stderr, "weir checkpoints: no checkpoint or savepoint %d in %s\n", id, dir)
		return exitError
	}
	type row struct {
		Entry    checkpoint.Entry     `json:"-"`
		ID       uint64               `json:"id"`
		Kind     string               `json:"kind"`
		Dir      string               `json:"dir"`
		Complete bool                 `json:"complete"`
		Problem  string               `json:"problem,omitempty"`
		Metadata *checkpoint.Metadata `json:"metadata,omitempty"`
	}
	var rows []row
	for _, en := range entries {
		r := row{Entry: en, ID: en.ID, Kind: en.Kind.String(), Dir: en.Dir, Complete: en.Complete}
		if en.Complete {
			if cp, err := st.Open(en.Dir); err != nil {
				r.Problem = err.Error()
			} else {
				md := cp.Metadata
				r.Metadata = &md
			}
		}
		rows = append(rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []row{}
		}
		if err := enc.Encode(rows); err != nil {
			return exitError
		}
		return exitOK
	}
	if len(rows) == 0 {
		fmt.Fprintf(e.stdout, "No checkpoints in %s.\n", dir)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTYPE\tTRIGGERED (UTC)\tDURATION\tBYTES FULL\tBYTES INCR\tSTATUS")
	for _, r := range rows {
		switch {
		case r.Metadata != nil:
			md := r.Metadata
			typ := "incremental"
			if md.Full {
				typ = "full"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\tcomplete\n", r.ID, r.Kind, typ,
				md.TriggerTime.UTC().Format("2006-01-02 15:04:05.000"), fmtDuration(md.Duration()),
				fmtBytes(md.BytesFull), fmtBytes(md.BytesIncremental))
		case r.Problem != "":
			fmt.Fprintf(tw, "%d\t%s\t\t\t\t\t\tcorrupt: %s\n", r.ID, r.Kind, oneLine(r.Problem))
		default:
			fmt.Fprintf(tw, "%d\t%s\t\t\t\t\t\tincomplete\n", r.ID, r.Kind)
		}
	}
	tw.Flush()
	return exitOK
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func showCheckpoint(e *env, root, dir string, asJSON bool) int {
	st, err := checkpoint.NewDirStorage(root)
	if err != nil {
		fmt.Fprintf(e.stderr, "weir checkpoints: %v\n", err)
		return exitError
	}
	cp, err := st.Open(dir)
	if err != nil {
		fmt.Fprintf(e.stderr, "weir checkpoints: %v\n", err)
		return exitError
	}
	md := cp.Metadata
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(md); err != nil {
			return exitError
		}
		return exitOK
	}
	w := e.stdout
	typ := "incremental"
	if md.Full {
		typ = "full"
	}
	fmt.Fprintf(w, "%s %d (%s)\n", md.Kind, md.ID, typ)
	fmt.Fprintf(w, "  directory:  %s\n", cp.Dir)
	fmt.Fprintf(w, "  triggered:  %s\n", md.TriggerTime.UTC().Format("2006-01-02 15:04:05.000 UTC"))
	fmt.Fprintf(w, "  duration:   %s\n", fmtDuration(md.Duration()))
	fmt.Fprintf(w, "  bytes:      %s full, %s incremental\n", fmtBytes(md.BytesFull), fmtBytes(md.BytesIncremental))
	if len(md.Parents) > 0 {
		ps := make([]string, len(md.Parents))
		for i, p := range md.Parents {
			ps[i] = strconv.FormatUint(p, 10)
		}
		fmt.Fprintf(w, "  depends on: %s\n", strings.Join(ps, ", "))
	}
	if m := md.Job; len(m) > 0 {
		fmt.Fprintf(w, "  job:        mode %s, %s key groups, plan %.12s\n", m["mode"], m["max_key_groups"], m["plan"])
	}
	tasks := append([]checkpoint.TaskMetadata(nil), md.Tasks...)
	sort.Slice(tasks, func(i, j int) bool {
		if tasks[i].Task.Vertex != tasks[j].Task.Vertex {
			return tasks[i].Task.Vertex < tasks[j].Task.Vertex
		}
		return tasks[i].Task.Subtask < tasks[j].Task.Subtask
	})
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSYNC\tASYNC\tALIGNMENT\tBYTES\tDETAIL")
	for _, t := range tasks {
		var detail []string
		for _, p := range t.SourcePositions {
			name := p.Split
			if name == "" {
				name = strconv.Itoa(int(p.Partition))
			}
			detail = append(detail, fmt.Sprintf("%s@%d", name, p.Offset))
		}
		for _, h := range t.Handles {
			detail = append(detail, h.Path)
		}
		if t.SinkHandle != nil {
			detail = append(detail, "pre-commit "+string(t.SinkHandle))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Task, fmtDuration(t.SyncDur), fmtDuration(t.AsyncDur),
			fmtDuration(t.AlignDur), fmtBytes(t.Bytes), strings.Join(detail, " "))
	}
	tw.Flush()
	return exitOK
}

func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

func fmtBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
