package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/weirsql/weir/connectors/all" // the catalog checks in prepare
	"github.com/weirsql/weir/connectors/nexmark"
)

// The stateful queries of issue #5's target, and the target.
var (
	defaultStateful = []string{"q4", "q5", "q7", "q8", "q9", "q18", "q19", "q20"}
	defaultTarget   = 100_000.0
)

type options struct {
	events      int64
	queries     []string // empty: every qN.sql in dir
	parallelism int
	count       int
	dir         string
	weir        string   // the binary; "": build ./cmd/weir
	set         []option // extra options for every nexmark table
	cpuprofile  string   // directory for the children's CPU profiles; "": none
	timeout     time.Duration
	stateful    []string
	target      float64
	dryRun      bool
}

func main() {
	o, err := parseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nexbench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "nexbench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	o := options{stateful: defaultStateful, target: defaultTarget}
	fs := flag.NewFlagSet("nexbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var queries, stateful string
	var sets multiFlag
	fs.Int64Var(&o.events, "events", 10_000_000, "set 'nexmark.events' = `N` on every nexmark table: the stream's length, persons, auctions and bids together")
	fs.StringVar(&queries, "queries", "", "comma-separated queries to run, e.g. q0,q5 (default: every qN.sql in -dir)")
	fs.IntVar(&o.parallelism, "parallelism", 1, "run each query with weir run --parallelism `P`")
	fs.IntVar(&o.count, "count", 3, "runs per query; the table shows the median run by CPU time (the faster middle one for an even count)")
	fs.StringVar(&o.dir, "dir", "testdata/nexmark", "directory of the query files qN.sql")
	fs.StringVar(&o.weir, "weir", "", "weir binary to run (default: go build ./cmd/weir into a temporary directory)")
	fs.Var(&sets, "option", "also set the option `key=value` on every nexmark table (repeatable), e.g. nexmark.events-per-second=10000")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "each run writes a CPU profile to `DIR`/qN.pprof (weir run --cpuprofile; the last run's is kept)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "limit for one run")
	fs.StringVar(&stateful, "stateful", strings.Join(defaultStateful, ","), "queries held to -target")
	fs.Float64Var(&o.target, "target", defaultTarget, "events per CPU-second the stateful queries must reach")
	fs.BoolVar(&o.dryRun, "n", false, "print each benchmark script and its plan; run nothing")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./cmd/nexbench [flags]   (from the repository root)\n\n"+
			"Runs each Nexmark query in its own 'weir run' process and prints one Markdown table.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch {
	case o.events < 1:
		return o, fmt.Errorf("-events must be at least 1 (0 would be an unbounded stream), got %d", o.events)
	case o.parallelism < 1:
		return o, fmt.Errorf("-parallelism must be at least 1, got %d", o.parallelism)
	case o.count < 1:
		return o, fmt.Errorf("-count must be at least 1, got %d", o.count)
	}
	o.queries = splitList(queries)
	o.stateful = splitList(stateful)
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		switch {
		case !ok || k == "":
			return o, fmt.Errorf("-option %q: want key=value", s)
		case k == nexmark.OptEvents || k == nexmark.OptRate:
			return o, fmt.Errorf("-option %s: set by nexbench (use -events; runs are never throttled)", k)
		}
		o.set = append(o.set, option{k, strings.TrimSpace(v)})
	}
	return o, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var queryFile = regexp.MustCompile(`^q(\d+)\.sql$`)

// queryFiles returns the query names (q0, q1, ...) of dir in numeric
// order, and their paths.
func queryFiles(dir string) (names []string, paths map[string]string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	paths = map[string]string{}
	num := map[string]int{}
	for _, e := range ents {
		m := queryFile.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		name := "q" + m[1]
		names = append(names, name)
		paths[name] = filepath.Join(dir, e.Name())
		num[name] = n
	}
	sort.Slice(names, func(i, j int) bool { return num[names[i]] < num[names[j]] })
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("no query files qN.sql in %s", dir)
	}
	return names, paths, nil
}

// queryResult is one query's runs.
type queryResult struct {
	name    string
	sources []source
	runs    []measurement
}

// median is the run with the median CPU time (the faster of the two middle
// ones for an even count).
func (q *queryResult) median() measurement {
	rs := slices.Clone(q.runs)
	sort.Slice(rs, func(i, j int) bool { return rs[i].cpu < rs[j].cpu })
	return rs[(len(rs)-1)/2]
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	all, paths, err := queryFiles(o.dir)
	if err != nil {
		return err
	}
	names := all
	if len(o.queries) > 0 {
		names = nil
		for _, q := range o.queries {
			if _, ok := paths[q]; !ok {
				return fmt.Errorf("no query %s in %s (have %s)", q, o.dir, strings.Join(all, ", "))
			}
			if !slices.Contains(names, q) {
				names = append(names, q)
			}
		}
	}
	set := append([]option{
		{nexmark.OptEvents, strconv.FormatInt(o.events, 10)},
		{nexmark.OptRate, "0"},
	}, o.set...)
	scripts := make([]*benchScript, len(names))
	for i, q := range names {
		text, err := os.ReadFile(paths[q])
		if err != nil {
			return err
		}
		if scripts[i], err = prepare(q, string(text), set, o.parallelism); err != nil {
			return err
		}
	}
	if o.dryRun {
		for _, s := range scripts {
			fmt.Fprintf(stdout, "-- ==== %s: %s\n%s\n\n-- plan:\n%s\n\n", s.name, paths[s.name], strings.TrimRight(s.text, "\n"), prefixLines(s.explain, "-- "))
		}
		return nil
	}

	tmp, err := os.MkdirTemp("", "nexbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.weir
	if bin == "" {
		fmt.Fprintln(stderr, "nexbench: building weir ...")
		bin = filepath.Join(tmp, "weir")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/weirsql/weir/cmd/weir").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/weir: %v\n%s", err, out)
		}
	}
	version, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return fmt.Errorf("%s version: %v", bin, err)
	}
	built := strings.TrimSpace(string(version))
	if o.weir == "" {
		built += gitCommit(ctx)
	}
	if o.cpuprofile != "" {
		if err := os.MkdirAll(o.cpuprofile, 0o755); err != nil {
			return err
		}
	}
	files := make([]string, len(scripts))
	results := make([]*queryResult, len(scripts))
	for i, s := range scripts {
		files[i] = filepath.Join(tmp, s.name+".bench.sql")
		if err := os.WriteFile(files[i], []byte(s.text), 0o644); err != nil {
			return err
		}
		results[i] = &queryResult{name: s.name, sources: s.sources}
	}

	h := header{
		events: o.events, parallelism: o.parallelism, count: o.count, set: o.set, dir: o.dir,
		version: built, cpus: runtime.NumCPU(), cpu: cpuModel(),
		loadBefore: loadAverage(), profiled: o.cpuprofile != "",
	}
	// Start-up cost of a weir run process, included in every row.
	startup := &queryResult{name: "start-up"}
	for r := 0; r < o.count; r++ {
		m, err := runChild(ctx, o.timeout, bin, "run", "--format", "json", "-e", "SELECT 1")
		if err != nil {
			return err
		}
		startup.runs = append(startup.runs, m)
	}
	h.startup = startup.median()

	// Round-robin over the queries, so that a burst of load from other
	// work spreads over several queries instead of hitting one's runs.
	for r := 0; r < o.count; r++ {
		for i, s := range scripts {
			args := []string{"run", "--format", "json", "--parallelism", strconv.Itoa(o.parallelism)}
			if o.cpuprofile != "" {
				args = append(args, "--cpuprofile", filepath.Join(o.cpuprofile, s.name+".pprof"))
			}
			args = append(args, files[i])
			m, err := runChild(ctx, o.timeout, bin, args...)
			if err != nil {
				return fmt.Errorf("%s: %v", s.name, err)
			}
			results[i].runs = append(results[i].runs, m)
			fmt.Fprintf(stderr, "nexbench: %s run %d/%d: %.3f s wall, %.3f s CPU, %.0f events/CPU-s, peak RSS %.1f MB (load %s)\n",
				s.name, r+1, o.count, m.wall.Seconds(), m.cpu.Seconds(), float64(o.events)/m.cpu.Seconds(), mb(m.maxRSS), loadAverage())
		}
	}
	h.loadAfter = loadAverage()
	missing := []string{}
	for _, q := range o.stateful {
		if _, ok := paths[q]; !ok {
			missing = append(missing, q)
		}
	}
	writeReport(stdout, h, results, o.stateful, o.target, missing)
	return nil
}

// gitCommit describes the checkout that was built, ", commit abc123" (with
// " + uncommitted changes"), or "" when git cannot tell.
func gitCommit(ctx context.Context) string {
	rev, err := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	s := ", commit " + strings.TrimSpace(string(rev))
	if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		s += " + uncommitted changes"
	}
	return s
}

func prefixLines(s, p string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = p + lines[i]
	}
	return strings.Join(lines, "\n")
}
