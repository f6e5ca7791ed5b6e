package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/weirsql/weir/connectors/nexmark"
)

// header is what the report says about the whole run.
type header struct {
	events                int64
	parallelism, count    int
	set                   []option
	dir                   string
	version, cpu          string
	cpus                  int
	loadBefore, loadAfter string
	startup               measurement
	profiled              bool
}

// columns of the table; the test checks them.
var columns = []string{"query", "sources", "events", "rows read", "wall s", "events/s", "CPU s", "events/CPU-s",
	"peak RSS MB", "events/CPU-s, all runs", "stateful target"}

func mb(bytes int64) float64 { return float64(bytes) / 1e6 }

// writeReport prints the notes, the table and the verdict on the stateful
// target. missing lists stateful queries that have no file.
func writeReport(w io.Writer, h header, results []*queryResult, stateful []string, target float64, missing []string) {
	runs := "1 run per query"
	if h.count > 1 {
		runs = fmt.Sprintf("median of %d runs per query by CPU time", h.count)
		if h.count%2 == 0 {
			runs += " (the faster of the middle two)"
		}
	}
	fmt.Fprintf(w, "Nexmark: %s events per query, parallelism %d, %s.\n\n", commas(h.events), h.parallelism, runs)
	cpu := ""
	if h.cpu != "" {
		cpu = " (" + h.cpu + ")"
	}
	fmt.Fprintf(w, "- Machine: %d CPUs%s; load average (1, 5, 15 min) %s before, %s after. Binary: %s.\n", h.cpus, cpu, h.loadBefore, h.loadAfter, h.version)
	k := kindCounts(h.events)
	fmt.Fprintf(w, "- Events (the rates' numerator): 'nexmark.events' = %s on every nexmark table, the length of the generated stream counting persons, auctions and bids (%s, %s and %s), whichever of the three the query reads, as Flink's Nexmark counts a source that generates all three. Rows read: the rows the query's nexmark sources emit (a table read twice counts twice).\n",
		commas(h.events), commas(k[nexmark.PersonKind]), commas(k[nexmark.AuctionKind]), commas(k[nexmark.BidKind]))
	opts := ""
	for _, o := range h.set {
		opts += fmt.Sprintf(", '%s' = '%s'", o.key, o.value)
	}
	fmt.Fprintf(w, "- Each run is one `weir run --parallelism %d` process of %s/qN.sql with those options (and 'nexmark.rate' = '0'%s), the query's rows inserted into a blackhole table: source → operators → sink, no checkpoints.\n", h.parallelism, h.dir, opts)
	fmt.Fprintf(w, "- Wall s: process start to exit. CPU s: user + system time of the process (rusage). Peak RSS: its ru_maxrss. Both include the process start-up: `weir run -e 'SELECT 1'` takes %.3f s wall, %.3f s CPU, %.1f MB.\n",
		h.startup.wall.Seconds(), h.startup.cpu.Seconds(), mb(h.startup.maxRSS))
	if h.profiled {
		fmt.Fprintln(w, "- Runs were CPU-profiled (--cpuprofile): the profiler costs a few per cent.")
	}
	fmt.Fprintln(w)

	fmt.Fprintf(w, "| %s |\n", strings.Join(columns, " | "))
	fmt.Fprintf(w, "|---|---|%s\n", strings.Repeat("---:|", len(columns)-2)) // names left, numbers right
	var met, notMet []string
	for _, r := range results {
		m := r.median()
		perCPU := float64(h.events) / m.cpu.Seconds()
		lo, hi := perCPU, perCPU
		for _, x := range r.runs {
			v := float64(h.events) / x.cpu.Seconds()
			lo, hi = min(lo, v), max(hi, v)
		}
		span := commas(int64(lo))
		if len(r.runs) > 1 {
			span += "–" + commas(int64(hi))
		}
		verdict := "–"
		if slices.Contains(stateful, r.name) {
			if perCPU >= target {
				verdict = "met"
				met = append(met, r.name)
			} else {
				verdict = "**not met**"
				notMet = append(notMet, r.name)
			}
		}
		var tables []string
		var read int64
		for _, s := range r.sources {
			tables = append(tables, s.table)
			read += k[s.kind]
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.3f | %s | %.3f | %s | %.1f | %s | %s |\n",
			r.name, strings.Join(tables, ", "), commas(h.events), commas(read), m.wall.Seconds(),
			commas(int64(float64(h.events)/m.wall.Seconds())), m.cpu.Seconds(), commas(int64(perCPU)),
			mb(m.maxRSS), span, verdict)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Stateful target, ≥ %s events per CPU-second (%s):", commas(int64(target)), strings.Join(stateful, ", "))
	if len(met) > 0 {
		fmt.Fprintf(w, " met by %s;", strings.Join(met, ", "))
	}
	if len(notMet) > 0 {
		fmt.Fprintf(w, " NOT met by %s;", strings.Join(notMet, ", "))
	}
	var skipped []string
	for _, q := range stateful {
		if !slices.Contains(met, q) && !slices.Contains(notMet, q) && !slices.Contains(missing, q) {
			skipped = append(skipped, q)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, " not run: %s;", strings.Join(skipped, ", "))
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, " no query file yet: %s;", strings.Join(missing, ", "))
	}
	fmt.Fprintln(w)
}

// kindCounts returns how many of the event numbers 0..n-1 are persons,
// auctions and bids.
func kindCounts(n int64) [3]int64 {
	var c [3]int64
	for r := int64(0); r < nexmark.Denominator; r++ {
		k := nexmark.KindOf(r)
		c[k] += n / nexmark.Denominator
		if r < n%nexmark.Denominator {
			c[k]++
		}
	}
	return c
}

// commas formats n with thousands separators: 1234567 → 1,234,567.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
