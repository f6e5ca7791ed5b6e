// Command nexbench is the Nexmark benchmark of issue #5: events/s, events
// per CPU-second and peak memory for every query of the suite, in one
// Markdown table. Run it from the repository root:
//
//	go run ./cmd/nexbench [-events 10000000] [-queries q0,q5] [-parallelism 1] [-count 3]
//	                      [-option key=value] [-cpuprofile DIR] [-weir BIN] [-n]
//
// # What a run is
//
// Each query file testdata/nexmark/qN.sql (whichever exist: the list is
// read from the directory, -dir) is turned into a benchmark script:
//
//   - every table with 'connector' = 'nexmark' gets 'nexmark.events' = N
//     and 'nexmark.rate' = '0' (never throttled), plus any -option, set in
//     its WITH list (replaced where the file has the option, appended where
//     not); nothing else of the file changes, comments included;
//   - the file's last statement, its query, becomes
//     INSERT INTO nexbench_sink <the query>, after a CREATE TABLE
//     nexbench_sink with the query's result columns (found by DESCRIBE of a
//     view over the query) and 'connector' = 'blackhole', which discards
//     rows: the output costs nothing to format or write, but every row
//     still reaches a sink subtask.
//
// The script is checked in this process first (it parses, each nexmark
// table has the options, the INSERT plans at the chosen parallelism); -n
// prints each script and its plan and runs nothing. Then each script runs
// as its own child process, `weir run --format json --parallelism P
// FILE`, the same binary and code path as a user's job: the generator
// source, the planned operators and the sink, end to end, in one process,
// with no checkpoints. One process per run means each run starts with a
// fresh heap, its CPU time and peak memory are its own (from the child's
// rusage: user + system time, ru_maxrss), and a query's memory cannot
// leak into the next one's figures.
//
// # Figures
//
// events is N, the length of the generated stream counting persons,
// auctions and bids (1:3:46) whichever of the three tables the query
// reads: the Nexmark convention (Flink's source generates all three), so
// the rates of all queries count the same thing. sources and rows read say
// what the query's plan actually reads: one entry per nexmark source (q7
// reads bid twice) and the rows they emit, e.g. 0.92 N for one bid
// source. wall s runs
// from starting the child to its exit, CPU s is its user + system time:
// both include process start-up, which the report measures separately
// (weir run -e 'SELECT 1', about 10 ms). Each query runs -count times
// (round-robin over the queries, so that a burst of load from other work
// is spread out); the table shows the run with the median CPU time (for an
// even count the faster of the two middle runs) and the range of events
// per CPU-second over all runs. The report also gives the machine (CPUs,
// model), the load average before and after, and the binary. The stateful
// queries (-stateful; default q4, q5, q7, q8, q9, q18, q19, q20) are held
// to -target events per CPU-second (default 100,000) and the verdict says
// which met it, which did not, and which have no query file yet.
//
// -cpuprofile DIR passes --cpuprofile DIR/qN.pprof to every run (the last
// run's profile is kept): go tool pprof -top BIN DIR/q5.pprof, where BIN
// is the weir binary (-weir, or build one with go build -o BIN ./cmd/weir).
//
// # Why a command of its own
//
// The benchmark is a development tool, like cmd/kafkabench: it builds
// weir (go build, unless -weir names a binary), reads the query files of
// this repository's testdata, and drives the binary from outside, as a
// user would. A `weir bench` subcommand would ship that harness in the
// product binary and make the binary measure itself; a separate command
// keeps weir unchanged except for --cpuprofile, which profiles any run.
//
// # Exit status
//
// 0 when every run succeeded (whether or not targets are met), 1 when a
// query cannot be prepared or a run fails (its standard error is shown),
// 2 for a usage error.
package main
