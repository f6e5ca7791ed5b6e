// Command kafkabench is the Kafka benchmark of issue #3. Run it from the
// repository root with
//
//	go run ./cmd/kafkabench [--events 1000000] [--partitions 4] [--parallelism 1,2] [--broker ADDR]
//
// It loads Nexmark bids as JSON (~400 B each) into topic 'nexmark', then
// reads the whole topic and writes every result to a fresh topic with:
//
//	q0      SELECT * passthrough, Kafka → Kafka
//	q1      the Nexmark q1 projection (price * 0.908)
//	window  a 10 s tumbling COUNT(*) per auction on date_time, with a watermark
//	hand    a hand-written kafka-go consume → produce loop (one partition
//	        Reader per partition, one async Writer with RequireAll)
//
// Each Weir run is a separate 'weir run' process, so its CPU (user+system)
// comes from the child's rusage; the broker is a separate 'weir kafka'
// process (unless --broker is given) whose CPU is read from
// /proc/PID/stat before and after each run. The hand loop runs in this
// process and is measured with getrusage(RUSAGE_SELF). Every run's output
// is checked: q0, q1 and hand must write exactly as many records as were
// loaded; the windowed count must write exactly the windows computed here
// from the generated events, with the same counts.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/weirsql/weir/connectors/nexmark"
)

type options struct {
	events      int
	partitions  int
	broker      string
	parallelism []int
	topic       string
	runs        string
	profile     string
}

func main() {
	var o options
	var par string
	flag.IntVar(&o.events, "events", 1_000_000, "bid events to load and process")
	flag.IntVar(&o.partitions, "partitions", 4, "partitions of the input and output topics")
	flag.StringVar(&o.broker, "broker", "", "address of a Kafka broker to use (default: start 'weir kafka' on a free port)")
	flag.StringVar(&par, "parallelism", "1,2", "comma-separated --parallelism values for the Weir runs")
	flag.StringVar(&o.topic, "topic", "nexmark", "input topic (must not exist yet)")
	flag.StringVar(&o.runs, "runs", "q0,q1,window,hand,handbatch", "runs to do, comma-separated")
	flag.StringVar(&o.profile, "cpuprofile", "", "also run q0 in-process (parallelism 1) under the CPU profiler and write the profile here")
	flag.Parse()
	for _, s := range strings.Split(par, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p < 1 {
			fatalf("bad --parallelism %q", par)
		}
		o.parallelism = append(o.parallelism, p)
	}
	if o.events < 1 || o.partitions < 1 {
		fatalf("--events and --partitions must be positive")
	}
	if err := run(o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kafkabench: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// result is one row of the table.
type result struct {
	name      string
	events    int64
	wall      time.Duration
	cpu       time.Duration // Weir's process (or the hand loop's)
	brokerCPU time.Duration // -1: unknown
	out       int64
}

func run(o options) error {
	tmp, err := os.MkdirTemp("", "kafkabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintln(os.Stderr, "building weir ...")
	weirBin := filepath.Join(tmp, "weir")
	if out, err := exec.Command("go", "build", "-o", weirBin, "github.com/weirsql/weir/cmd/weir").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/weir: %v\n%s", err, out)
	}

	addr := o.broker
	brokerPID := 0
	if addr == "" {
		b, err := startBroker(weirBin, tmp, o.partitions)
		if err != nil {
			return err
		}
		defer b.stop()
		addr, brokerPID = b.addr, b.cmd.Process.Pid
		fmt.Fprintf(os.Stderr, "broker: weir kafka pid %d on %s\n", brokerPID, addr)
	}
	brokerCPU := func() time.Duration {
		if brokerPID == 0 {
			return -1
		}
		d, err := procCPU(brokerPID)
		if err != nil {
			return -1
		}
		return d
	}

	cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}
	ctx := context.Background()

	// ---- load
	fmt.Fprintf(os.Stderr, "loading %d bids into topic %s (%d partitions) ...\n", o.events, o.topic, o.partitions)
	t0 := time.Now()
	ld, err := load(ctx, cl, addr, o.topic, o.partitions, o.events)
	if err != nil {
		return err
	}
	if n, err := topicCount(ctx, cl, o.topic); err != nil {
		return err
	} else if n != int64(o.events) {
		return fmt.Errorf("loaded %d records into %s, want %d", n, o.topic, o.events)
	}
	fmt.Fprintf(os.Stderr, "loaded %d records, %.0f B average value, %d bytes in %.1f s; %d windows expected\n",
		o.events, float64(ld.bytes)/float64(o.events), ld.bytes, time.Since(t0).Seconds(), len(ld.windows))

	runs := map[string]bool{}
	for _, r := range strings.Split(o.runs, ",") {
		runs[strings.TrimSpace(r)] = true
	}
	var results []result
	seq := 0
	outTopic := func(name string) string {
		seq++
		return fmt.Sprintf("%s-out-%s-%d-%d", o.topic, name, seq, time.Now().UnixNano()%1e6)
	}

	measureChild := func(name, query string, par int, check func(out string) (int64, error)) error {
		out := outTopic(name)
		script := sourceDDL(addr, o.topic, name == "window") + sinkDDL(name, addr, out, o.partitions) + query
		path := filepath.Join(tmp, name+".sql")
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "run %s parallelism %d -> %s ...\n", name, par, out)
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(weirBin, "run", "--format", "json", "--parallelism", strconv.Itoa(par), path)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		b0 := brokerCPU()
		w0 := time.Now()
		err := cmd.Run()
		wall := time.Since(w0)
		b1 := brokerCPU()
		if err != nil {
			return fmt.Errorf("weir run %s: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		n, err := check(out)
		if err != nil {
			return fmt.Errorf("run %s (parallelism %d): %v\nweir run stdout:\n%s\nstderr:\n%s", name, par, err, stdout.String(), stderr.String())
		}
		r := result{name: fmt.Sprintf("%s p=%d", name, par), events: int64(o.events), wall: wall, cpu: cpu, brokerCPU: -1, out: n}
		if b0 >= 0 && b1 >= 0 {
			r.brokerCPU = b1 - b0
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "  %s\n", r.line())
		return nil
	}
	exact := func(out string) (int64, error) {
		n, err := topicCount(ctx, cl, out)
		if err == nil && n != int64(o.events) {
			err = fmt.Errorf("RECORDS LOST OR DUPLICATED: output topic %s has %d records, input has %d", out, n, o.events)
		}
		return n, err
	}
	windows := func(out string) (int64, error) { return checkWindows(ctx, cl, addr, out, ld.windows, int64(o.events)) }

	for _, par := range o.parallelism {
		if runs["q0"] {
			if err := measureChild("q0", "INSERT INTO out_q0 SELECT auction, bidder, price, channel, url, date_time, extra FROM bid;\n", par, exact); err != nil {
				return err
			}
		}
		if runs["q1"] {
			if err := measureChild("q1", "INSERT INTO out_q1 SELECT auction, bidder, 0.908 * price, date_time, extra FROM bid;\n", par, exact); err != nil {
				return err
			}
		}
		if runs["window"] {
			if err := measureChild("window", `INSERT INTO out_window
SELECT auction, TUMBLE_START(date_time, INTERVAL '10' SECOND), COUNT(*)
FROM bid GROUP BY auction, TUMBLE(date_time, INTERVAL '10' SECOND);
`, par, windows); err != nil {
				return err
			}
		}
	}
	for _, h := range []struct {
		run, name string
		batch     bool
	}{{"hand", "hand Reader", false}, {"handbatch", "hand ReadBatch", true}} {
		if !runs[h.run] {
			continue
		}
		out := outTopic(h.run)
		fmt.Fprintf(os.Stderr, "run %s (hand-written kafka-go loop) -> %s ...\n", h.name, out)
		b0 := brokerCPU()
		c0 := selfCPU()
		w0 := time.Now()
		err := handLoop(ctx, cl, addr, o.topic, out, o.partitions, h.batch)
		wall := time.Since(w0)
		cpu := selfCPU() - c0
		b1 := brokerCPU()
		if err != nil {
			return fmt.Errorf("%s: %v", h.name, err)
		}
		n, err := exact(out)
		if err != nil {
			return fmt.Errorf("%s: %v", h.name, err)
		}
		r := result{name: h.name, events: int64(o.events), wall: wall, cpu: cpu, brokerCPU: -1, out: n}
		if b0 >= 0 && b1 >= 0 {
			r.brokerCPU = b1 - b0
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "  %s\n", r.line())
	}

	if o.profile != "" {
		if err := profileQ0(o.profile, addr, o.topic, outTopic("prof"), o.partitions); err != nil {
			return fmt.Errorf("profile: %v", err)
		}
		fmt.Fprintf(os.Stderr, "CPU profile of an in-process q0 run (parallelism 1) written to %s\n", o.profile)
	}

	printTable(results, o)
	return nil
}

func (r result) line() string {
	bc := "-"
	if r.brokerCPU >= 0 {
		bc = fmt.Sprintf("%.2f", r.brokerCPU.Seconds())
	}
	return fmt.Sprintf("| %-14s | %9d | %7.2f | %9.0f | %10.2f | %12.0f | %12s | %11d |", r.name, r.events, r.wall.Seconds(),
		float64(r.events)/r.wall.Seconds(), r.cpu.Seconds(), float64(r.events)/r.cpu.Seconds(), bc, r.out)
}

func printTable(rs []result, o options) {
	fmt.Printf("\nKafka benchmark: %d Nexmark bids as JSON, %d partitions, %s\n\n", o.events, o.partitions, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| run            |    events |  wall s |  events/s | Weir CPU s | events/CPU-s | broker CPU s | out records |")
	fmt.Println("|----------------|-----------|---------|-----------|------------|--------------|--------------|-------------|")
	var hand float64
	handName := ""
	for _, r := range rs {
		fmt.Println(r.line())
		if strings.HasPrefix(r.name, "hand ") {
			if v := float64(r.events) / r.wall.Seconds(); v > hand {
				hand, handName = v, r.name
			}
		}
	}
	fmt.Println("\n(CPU s: user+system of the 'weir run' process; for the hand loops, of the benchmark process during the loop.)")
	if hand > 0 {
		for _, r := range rs {
			if strings.HasPrefix(r.name, "q0 ") {
				ratio := float64(r.events) / r.wall.Seconds() / hand
				perCPU := float64(r.events) / r.cpu.Seconds()
				fmt.Printf("%s: events/s ÷ faster hand loop (%s) events/s = %.2f (target ≥ 0.70: %s); events per Weir CPU-second %.0f (target ≥ 250,000: %s)\n",
					r.name, handName, ratio, metStr(ratio >= 0.7), perCPU, metStr(perCPU >= 250_000))
			}
		}
	}
}

func metStr(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// ---------------------------------------------------------------- broker

type broker struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
}

func startBroker(weirBin, tmp string, partitions int) (*broker, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	cmd := exec.Command(weirBin, "kafka", "--data", filepath.Join(tmp, "kafka-data"), "--listen", addr, "--partitions", strconv.Itoa(partitions))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &broker{cmd: cmd, addr: addr, log: &log}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("weir kafka did not listen on %s: %v\n%s", addr, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *broker) stop() {
	_ = b.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}

// procCPU returns utime+stime of a process from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	const clkTck = 100
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ---------------------------------------------------------------- SQL

func sourceDDL(addr, topic string, watermark bool) string {
	wm := ""
	if watermark {
		wm = ",\n  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND"
	}
	return fmt.Sprintf(`CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR(64), url VARCHAR(256),
  date_time TIMESTAMP(3), extra VARCHAR(1024)%s)
WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = '%s', 'topic' = '%s', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
`, wm, addr, topic)
}

func sinkDDL(name, addr, topic string, partitions int) string {
	var cols string
	switch name {
	case "q0":
		cols = "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR(64), url VARCHAR(256), date_time TIMESTAMP(3), extra VARCHAR(1024)"
	case "q1":
		cols = "auction BIGINT, bidder BIGINT, price DOUBLE, date_time TIMESTAMP(3), extra VARCHAR(1024)"
	case "window":
		cols = "auction BIGINT, window_start TIMESTAMP(3), n BIGINT"
	}
	return fmt.Sprintf(`CREATE TABLE out_%s (%s)
WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = '%s', 'topic' = '%s', 'format' = 'json',
  'sink.delivery-guarantee' = 'at-least-once', 'topic.create' = 'true', 'topic.partitions' = '%d');
`, name, cols, addr, topic, partitions)
}

// ---------------------------------------------------------------- load

type windowKey struct{ auction, start int64 }

type loaded struct {
	bytes   int64
	windows map[windowKey]int64 // COUNT(*) per (auction, 10 s window start in ms)
}

// avgBidBytes is the generator's padding target, chosen so that a bid's
// JSON value averages ~400 bytes.
const avgBidBytes = 245

func load(ctx context.Context, cl *kafka.Client, addr, topic string, partitions, events int) (*loaded, error) {
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil {
		return nil, err
	}
	if err := res.Errors[topic]; err != nil {
		return nil, fmt.Errorf("creating topic %s: %v (use a fresh broker or another --topic)", topic, err)
	}
	cfg := nexmark.DefaultConfig()
	cfg.AvgBidBytes = avgBidBytes
	g, err := nexmark.NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll,
		Async:        true,
		BatchSize:    2000, // ~800 KB: kfake refuses batches over 1 MiB
		BatchBytes:   1 << 20,
		BatchTimeout: 10 * time.Millisecond,
		Completion: func(msgs []kafka.Message, err error) {
			if err != nil {
				failed.Add(int64(len(msgs)))
				firstErr.CompareAndSwap(nil, err)
			}
		},
	}
	ld := &loaded{windows: map[windowKey]int64{}}
	msgs := make([]kafka.Message, 0, 10_000)
	var buf []byte
	bids := 0
	for n := int64(0); bids < events; n++ {
		if nexmark.KindOf(n) != nexmark.BidKind {
			continue
		}
		b := g.Bid(n)
		buf = appendBid(buf[:0], &b)
		v := make([]byte, len(buf))
		copy(v, buf)
		ld.bytes += int64(len(v))
		ld.windows[windowKey{b.Auction, b.DateTime - b.DateTime%10_000}]++
		msgs = append(msgs, kafka.Message{Value: v})
		bids++
		if len(msgs) == cap(msgs) || bids == events {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return nil, err
			}
			msgs = make([]kafka.Message, 0, 10_000)
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if f := failed.Load(); f > 0 {
		return nil, fmt.Errorf("load: %d records failed: %v", f, firstErr.Load())
	}
	return ld, nil
}

func appendBid(b []byte, bid *nexmark.Bid) []byte {
	b = append(b, `{"auction":`...)
	b = strconv.AppendInt(b, bid.Auction, 10)
	b = append(b, `,"bidder":`...)
	b = strconv.AppendInt(b, bid.Bidder, 10)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, bid.Price, 10)
	b = append(b, `,"channel":`...)
	b = strconv.AppendQuote(b, bid.Channel)
	b = append(b, `,"url":`...)
	b = strconv.AppendQuote(b, bid.URL)
	b = append(b, `,"date_time":"`...)
	b = time.UnixMilli(bid.DateTime).UTC().AppendFormat(b, "2006-01-02 15:04:05.000")
	b = append(b, `","extra":`...)
	b = strconv.AppendQuote(b, bid.Extra)
	return append(b, '}')
}

// ---------------------------------------------------------------- checks

// endOffsets returns the first and end offsets of every partition of topic.
// It uses a client of its own: a kafka.Client caches metadata, so a topic
// created after its last refresh reads as unknown.
func endOffsets(ctx context.Context, base *kafka.Client, topic string) (first, end map[int]int64, err error) {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: base.Addr, Timeout: base.Timeout, Transport: tr}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		if len(md.Topics) == 1 {
			return nil, nil, fmt.Errorf("topic %s: %v", topic, md.Topics[0].Error)
		}
		return nil, nil, fmt.Errorf("topic %s: no metadata", topic)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	res, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, nil, err
	}
	first, end = map[int]int64{}, map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("topic %s partition %d: %v", topic, po.Partition, po.Error)
		}
		first[po.Partition], end[po.Partition] = po.FirstOffset, po.LastOffset
	}
	return first, end, nil
}

// topicCount returns the number of records in topic.
func topicCount(ctx context.Context, cl *kafka.Client, topic string) (int64, error) {
	first, end, err := endOffsets(ctx, cl, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for p := range end {
		n += end[p] - first[p]
	}
	return n, nil
}

// readAll calls fn with every record of topic, partitions in parallel.
func readAll(ctx context.Context, cl *kafka.Client, addr, topic string, fn func(p int, m kafka.Message) error) error {
	first, end, err := endOffsets(ctx, cl, topic)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(end))
	for p := range end {
		if end[p] <= first[p] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p,
				MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			if err := r.SetOffset(first[p]); err != nil {
				errs <- err
				return
			}
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					errs <- fmt.Errorf("reading %s partition %d: %v", topic, p, err)
					return
				}
				if err := fn(p, m); err != nil {
					errs <- err
					return
				}
				if m.Offset+1 >= end[p] {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// readAllBatches is readAll with a leader connection per partition read
// with Conn.ReadBatch instead of a Reader (no per-message channel hop).
func readAllBatches(ctx context.Context, cl *kafka.Client, addr, topic string, fn func(p int, m kafka.Message) error) error {
	first, end, err := endOffsets(ctx, cl, topic)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(end))
	for p := range end {
		if end[p] <= first[p] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) { errs <- fmt.Errorf("reading %s partition %d: %v", topic, p, err) }
			conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p)
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close()
			if _, err := conn.Seek(first[p], kafka.SeekAbsolute); err != nil {
				fail(err)
				return
			}
			next := first[p]
			for next < end[p] {
				b := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
				for next < end[p] {
					m, err := b.ReadMessage()
					if err != nil {
						break
					}
					next = m.Offset + 1
					if err := fn(p, m); err != nil {
						b.Close()
						errs <- err
						return
					}
				}
				if err := b.Close(); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// checkWindows reads the windowed count's output and compares it with the
// windows computed from the generated events.
func checkWindows(ctx context.Context, cl *kafka.Client, addr, topic string, want map[windowKey]int64, events int64) (int64, error) {
	var mu sync.Mutex
	got := map[windowKey]int64{}
	var n, dups, total int64
	err := readAll(ctx, cl, addr, topic, func(_ int, m kafka.Message) error {
		var r struct {
			Auction     int64  `json:"auction"`
			WindowStart string `json:"window_start"`
			N           int64  `json:"n"`
		}
		if err := json.Unmarshal(m.Value, &r); err != nil {
			return fmt.Errorf("bad output record %q: %v", m.Value, err)
		}
		ts, err := time.Parse("2006-01-02 15:04:05.000", r.WindowStart)
		if err != nil {
			return fmt.Errorf("bad window_start in %q: %v", m.Value, err)
		}
		k := windowKey{r.Auction, ts.UnixMilli()}
		mu.Lock()
		defer mu.Unlock()
		n++
		if _, ok := got[k]; ok {
			dups++
		}
		got[k] = r.N
		total += r.N
		return nil
	})
	if err != nil {
		return n, err
	}
	if n == 0 {
		return 0, errors.New("the windowed count wrote no records")
	}
	bad := 0
	example := ""
	for k, w := range want {
		if got[k] != w {
			bad++
			if example == "" {
				example = fmt.Sprintf("auction %d window %s: got %d, want %d", k.auction, time.UnixMilli(k.start).UTC().Format(time.DateTime), got[k], w)
			}
		}
	}
	if dups > 0 || bad > 0 || int64(len(got)) != int64(len(want)) || total != events {
		return n, fmt.Errorf("WRONG WINDOWED COUNT: %d records (%d duplicate windows), %d windows, want %d; %d windows differ (%s); counts sum to %d, want %d",
			n, dups, len(got), len(want), bad, example, total, events)
	}
	return n, nil
}

// ---------------------------------------------------------------- hand loop

// handLoop copies every record of in to out with kafka-go: one partition
// Reader per partition (or, with batch, a leader connection per partition
// read with Conn.ReadBatch), read up to the end offsets taken at the start, and
// one async Writer (RequireAll, batches of 1,000 like Weir's sink) fed in
// slices of up to 1,000 messages; it returns once the Writer has flushed
// and every batch is acknowledged.
func handLoop(ctx context.Context, cl *kafka.Client, addr, in, out string, partitions int, batch bool) error {
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: out, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil {
		return err
	}
	if err := res.Errors[out]; err != nil {
		return err
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        out,
		Balancer:     &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll,
		Async:        true,
		BatchSize:    1000,
		BatchBytes:   1 << 20,
		BatchTimeout: 5 * time.Millisecond,
		Completion: func(msgs []kafka.Message, err error) {
			if err != nil {
				failed.Add(int64(len(msgs)))
				firstErr.CompareAndSwap(nil, err)
			}
		},
	}
	// Each partition's callback runs in that partition's goroutine only.
	first, _, err := endOffsets(ctx, cl, in)
	if err != nil {
		return err
	}
	pending := make(map[int]*[]kafka.Message, len(first))
	for p := range first {
		buf := make([]kafka.Message, 0, 1000)
		pending[p] = &buf
	}
	read := readAll
	if batch {
		read = readAllBatches
	}
	err = read(ctx, cl, addr, in, func(p int, m kafka.Message) error {
		buf := pending[p]
		*buf = append(*buf, kafka.Message{Value: m.Value})
		if len(*buf) < cap(*buf) {
			return nil
		}
		full := *buf
		*buf = make([]kafka.Message, 0, 1000)
		return w.WriteMessages(ctx, full...)
	})
	if err == nil {
		for _, buf := range pending {
			if len(*buf) > 0 {
				if err = w.WriteMessages(ctx, *buf...); err != nil {
					break
				}
			}
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d records failed: %v", f, firstErr.Load())
	}
	return nil
}
