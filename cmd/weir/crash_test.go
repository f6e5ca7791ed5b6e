package main

// The crash test of issue #4: a Kafka → Kafka job run as a real 'weir run'
// process with checkpoints, killed with SIGKILL at random moments and
// restarted with --restore latest at a random parallelism (1–3) each time,
// against a real broker process ('weir kafka'). Its committed output must
// equal an oracle computed in Go from the produced input. Cases:
//
//   - exactly-once, a tumbling-window COUNT/SUM per user, 20 kills: the
//     committed rows equal the oracle's as a multiset (none lost, none
//     duplicated);
//   - at-least-once, the same query, 5 kills: every oracle row is there,
//     duplicates are counted;
//   - exactly-once, a non-windowed GROUP BY user into an upsert sink, 8
//     kills, with a state memory budget that spills most groups to
//     Badger: the final table equals the oracle's, and every committed
//     update of a user has a larger count than the one before (no replay);
//   - exactly-once, the window job again, 8 kills, with that budget: the
//     (user, window) groups are spilled, reloaded and fired from Badger.
//
// Most of the input is produced at a steady pace over the whole kill phase,
// so records arrive while each run starts, works and is killed. The Kafka
// source is unbounded: after the last kill the test produces the rest and
// one record per partition far in the future (the watermark then passes
// every window), polls the output with a read_committed reader of its own
// until it is complete and stable, and stops the job with SIGINT. The
// output is read twice: by a Go reader that replays each partition's log
// and applies the commit and abort markers itself, and by kcat (librdkafka)
// with isolation.level=read_committed, when kcat is installed.
//
// WEIR_CRASH_SEED=N reruns with another seed (the seed is logged).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/fetch"
)

const (
	crashPartitions = 4
	crashUsers      = 50
	crashWindowMs   = 2000             // tumbling window
	crashStepMs     = 10               // event time advances 10 ms per record
	crashJitterMs   = 500              // disorder, below the 1 s watermark delay
	crashFarFuture  = 24 * 3600 * 1000 // the end-of-input records' offset from the base
	crashBaseMs     = 1798761600000    // 2027-01-01 00:00:00 UTC
	crashTsLayout   = "2006-01-02 15:04:05.000"
)

type crashRecord struct {
	User, Amount int64
	Ts           int64 // ms since the epoch
	Part         int
}

func (r crashRecord) json() []byte {
	return fmt.Appendf(nil, `{"user":%d,"amount":%d,"ts":"%s"}`, r.User, r.Amount,
		time.UnixMilli(r.Ts).UTC().Format(crashTsLayout))
}

// crashInput makes n records: event time increasing by crashStepMs with up
// to crashJitterMs of disorder (less than the watermark delay, so no record
// is late), about crashUsers users, spread over the partitions at random.
func crashInput(rng *rand.Rand, n int) []crashRecord {
	out := make([]crashRecord, n)
	for i := range out {
		out[i] = crashRecord{
			User:   1 + rng.Int64N(crashUsers),
			Amount: rng.Int64N(1000) - 100,
			Ts:     crashBaseMs + int64(i)*crashStepMs + rng.Int64N(crashJitterMs),
			Part:   rng.IntN(crashPartitions),
		}
	}
	return out
}

// crashWindowOracle is the tumbling-window COUNT/SUM per user, rendered as
// crashRow does.
func crashWindowOracle(in []crashRecord) []string {
	type key struct{ user, ws int64 }
	type agg struct{ n, sum int64 }
	m := map[key]*agg{}
	for _, r := range in {
		k := key{r.User, r.Ts - r.Ts%crashWindowMs}
		a := m[k]
		if a == nil {
			a = &agg{}
			m[k] = a
		}
		a.n++
		a.sum += r.Amount
	}
	var rows []string
	for k, a := range m {
		rows = append(rows, fmt.Sprintf("user=%d ws=%s we=%s cnt=%d total=%d", k.user,
			time.UnixMilli(k.ws).UTC().Format(crashTsLayout),
			time.UnixMilli(k.ws+crashWindowMs).UTC().Format(crashTsLayout), a.n, a.sum))
	}
	sort.Strings(rows)
	return rows
}

// crashAggOracle is the non-windowed COUNT/SUM per user (the final table).
func crashAggOracle(in []crashRecord) map[string]string {
	type agg struct{ n, sum int64 }
	m := map[int64]*agg{}
	for _, r := range in {
		a := m[r.User]
		if a == nil {
			a = &agg{}
			m[r.User] = a
		}
		a.n++
		a.sum += r.Amount
	}
	out := map[string]string{}
	for u, a := range m {
		out[strconv.FormatInt(u, 10)] = fmt.Sprintf("user=%d cnt=%d total=%d", u, a.n, a.sum)
	}
	return out
}

// crashRow renders an output record value canonically.
func crashRow(value []byte) (string, error) {
	var v struct {
		User  *int64  `json:"user"`
		WS    *string `json:"window_start"`
		WE    *string `json:"window_end"`
		Cnt   *int64  `json:"cnt"`
		Total *int64  `json:"total"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return "", fmt.Errorf("%v in %q", err, value)
	}
	if v.User == nil || v.Cnt == nil || v.Total == nil {
		return "", fmt.Errorf("missing field in %q", value)
	}
	if v.WS == nil {
		return fmt.Sprintf("user=%d cnt=%d total=%d", *v.User, *v.Cnt, *v.Total), nil
	}
	if v.WE == nil {
		return "", fmt.Errorf("missing window_end in %q", value)
	}
	return fmt.Sprintf("user=%d ws=%s we=%s cnt=%d total=%d", *v.User, *v.WS, *v.WE, *v.Cnt, *v.Total), nil
}

// ---------------------------------------------------------------- broker

type crashBroker struct {
	addr string
	cmd  *exec.Cmd
	errb bytes.Buffer
}

// startCrashBroker runs 'weir kafka' on a free loopback port.
func startCrashBroker(t *testing.T, bin string, topics ...string) *crashBroker {
	t.Helper()
	args := []string{"kafka", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--partitions", strconv.Itoa(crashPartitions)}
	for _, tp := range topics {
		args = append(args, "--topic", tp)
	}
	b := &crashBroker{cmd: exec.Command(bin, args...)}
	b.cmd.Stderr = &b.errb
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		if first {
			close(lines)
		}
	}()
	select {
	case line, ok := <-lines:
		const prefix = "listening on "
		i := strings.Index(line, prefix)
		if !ok || i < 0 {
			t.Fatalf("weir kafka printed %q; stderr: %s", line, b.errb.String())
		}
		b.addr = strings.Fields(line[i+len(prefix):])[0]
		b.addr = strings.TrimSuffix(b.addr, ",")
	case <-time.After(30 * time.Second):
		t.Fatalf("weir kafka did not start within 30 s; stderr: %s", b.errb.String())
	}
	if _, _, err := net.SplitHostPort(b.addr); err != nil {
		t.Fatalf("broker address %q: %v", b.addr, err)
	}
	return b
}

// crashWriter writes records to the partition each names (RequireAll: an
// unacknowledged write must fail, not vanish).
func crashWriter(addr, topic string) *kafkago.Writer {
	return &kafkago.Writer{
		Addr:         kafkago.TCP(addr),
		Topic:        topic,
		RequiredAcks: kafkago.RequireAll,
		Balancer:     kafkago.BalancerFunc(func(m kafkago.Message, _ ...int) int { return m.Partition }),
		BatchSize:    1000,
		BatchTimeout: time.Millisecond,
		MaxAttempts:  20,
	}
}

func crashProduce(ctx context.Context, w *kafkago.Writer, recs []crashRecord) error {
	msgs := make([]kafkago.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafkago.Message{Partition: r.Part, Key: []byte(strconv.FormatInt(r.User, 10)), Value: r.json()}
	}
	return w.WriteMessages(ctx, msgs...)
}

// ---------------------------------------------------------------- read_committed reader

type crashRec struct {
	part       int
	off        int64
	key, value []byte // value nil: a tombstone
}

// readCommittedLog reads every partition of topic to its high watermark
// with read_uncommitted fetches and applies the transaction markers itself:
// a transactional record becomes visible when its producer's next marker in
// that partition is a COMMIT, and is dropped at an ABORT; records of a
// transaction still open are not returned (nor anything after the first
// open one: the last stable offset). This is read_committed computed from
// the raw log, independently of the AbortedTransactions index that Weir's
// source uses.
// logStats counts the records a read_committed reader skips.
type logStats struct{ aborted, open int }

func readCommittedLog(ctx context.Context, addr, topic string) ([]crashRec, logStats, error) {
	var st logStats
	cl := &kafkago.Client{Addr: kafkago.TCP(addr), Timeout: 10 * time.Second}
	md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, st, err
	}
	var parts []int
	for _, tp := range md.Topics {
		if tp.Name == topic {
			if tp.Error != nil {
				return nil, st, tp.Error
			}
			for _, p := range tp.Partitions {
				parts = append(parts, p.ID)
			}
		}
	}
	if len(parts) == 0 {
		return nil, st, fmt.Errorf("topic %s: no partitions", topic)
	}
	sort.Ints(parts)
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	var out []crashRec
	for _, part := range parts {
		recs, err := readCommittedPartition(ctx, tr, addr, topic, part, &st)
		if err != nil {
			return nil, st, err
		}
		out = append(out, recs...)
	}
	return out, st, nil
}

func readCommittedPartition(ctx context.Context, tr *kafkago.Transport, addr, topic string, part int, st *logStats) ([]crashRec, error) {
	type pending struct {
		firstOff int64
		recs     []crashRec
	}
	open := map[int64]*pending{} // producer id → its open transaction
	var done []crashRec          // committed or non-transactional, in offset order of their end
	off := int64(0)
	for {
		req := &fetch.Request{
			ReplicaID: -1, MaxWaitTime: 50, MinBytes: 1, MaxBytes: 16 << 20, SessionEpoch: -1,
			Topics: []fetch.RequestTopic{{Topic: topic, Partitions: []fetch.RequestPartition{{
				Partition: int32(part), CurrentLeaderEpoch: -1, FetchOffset: off, LogStartOffset: -1,
				PartitionMaxBytes: 8 << 20,
			}}}},
		}
		resp, err := tr.RoundTrip(ctx, kafkago.TCP(addr), req)
		if err != nil {
			return nil, fmt.Errorf("fetch %s/%d@%d: %w", topic, part, off, err)
		}
		fr := resp.(*fetch.Response)
		if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			return nil, fmt.Errorf("fetch %s/%d@%d: unexpected response (error %d)", topic, part, off, fr.ErrorCode)
		}
		pr := &fr.Topics[0].Partitions[0]
		if pr.ErrorCode != 0 {
			return nil, fmt.Errorf("fetch %s/%d@%d: %v", topic, part, off, kafkago.Error(pr.ErrorCode))
		}
		hw := pr.HighWatermark
		if off >= hw {
			break
		}
		var readers []protocol.RecordReader
		if st, ok := pr.RecordSet.Records.(*protocol.RecordStream); ok {
			readers = st.Records
		} else if pr.RecordSet.Records != nil {
			readers = []protocol.RecordReader{pr.RecordSet.Records}
		}
		next := off
		for _, rd := range readers {
			var pid int64 = -1
			control := false
			switch b := rd.(type) {
			case *protocol.ControlBatch:
				control, pid = true, b.ProducerID
			case *protocol.RecordBatch:
				if b.Attributes.Transactional() {
					pid = b.ProducerID
				}
			}
			for {
				r, err := rd.ReadRecord()
				if err != nil {
					if err != io.EOF {
						return nil, fmt.Errorf("%s/%d@%d: %v", topic, part, next, err)
					}
					break
				}
				if r.Offset < next {
					closeRecordBytes(r)
					continue
				}
				next = r.Offset + 1
				if control {
					cr, err := protocol.ReadControlRecord(r)
					if err != nil {
						return nil, fmt.Errorf("%s/%d@%d: control record: %v", topic, part, r.Offset, err)
					}
					if p := open[pid]; p != nil {
						if cr.Type == 1 { // COMMIT
							done = append(done, p.recs...)
						} else {
							st.aborted += len(p.recs)
						}
						delete(open, pid)
					}
					continue
				}
				rec := crashRec{part: part, off: r.Offset}
				if rec.key, err = readAllBytes(r.Key); err == nil {
					rec.value, err = readAllBytes(r.Value)
				}
				closeRecordBytes(r)
				if err != nil {
					return nil, err
				}
				if pid < 0 {
					done = append(done, rec)
					continue
				}
				p := open[pid]
				if p == nil {
					p = &pending{firstOff: r.Offset}
					open[pid] = p
				}
				p.recs = append(p.recs, rec)
			}
		}
		if next == off {
			return nil, fmt.Errorf("fetch %s/%d@%d: no progress below high watermark %d", topic, part, off, hw)
		}
		off = next
	}
	// the last stable offset: the first offset of the oldest open transaction
	lso := int64(-1)
	for _, p := range open {
		st.open += len(p.recs)
		if lso < 0 || p.firstOff < lso {
			lso = p.firstOff
		}
	}
	out := done[:0]
	for _, r := range done {
		if lso < 0 || r.off < lso {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].off < out[j].off })
	return out, nil
}

func readAllBytes(b protocol.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	v, err := protocol.ReadAll(b)
	if v == nil {
		v = []byte{}
	}
	return v, err
}

func closeRecordBytes(r *protocol.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

// kcatCommittedValues reads topic with kcat in read_committed mode: the
// values, or ok false when kcat is not installed.
func kcatCommittedValues(t *testing.T, addr, topic string) (values []string, ok bool) {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", topic, "-e", "-q",
		"-X", "isolation.level=read_committed", "-f", `%S %s\n`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		// %S is the value's size (-1 for a tombstone), then the value
		size, val, _ := strings.Cut(line, " ")
		if size == "-1" {
			continue
		}
		values = append(values, val)
	}
	return values, true
}

// ---------------------------------------------------------------- comparison

// multisetDiff returns the rows of want missing from got and the rows of
// got beyond want (duplicates or wrong rows), sorted.
func multisetDiff(got, want []string) (missing, extra []string) {
	n := map[string]int{}
	for _, r := range want {
		n[r]++
	}
	for _, r := range got {
		n[r]--
	}
	for r, c := range n {
		for ; c > 0; c-- {
			missing = append(missing, r)
		}
		for ; c < 0; c++ {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func firstN(rows []string, n int) string {
	if len(rows) > n {
		return strings.Join(rows[:n], "\n  ") + fmt.Sprintf("\n  ... and %d more", len(rows)-n)
	}
	return strings.Join(rows, "\n  ")
}

// renderValues renders record values; tombstones are skipped.
func renderValues(t *testing.T, values [][]byte) []string {
	t.Helper()
	var rows []string
	for _, v := range values {
		if v == nil {
			continue
		}
		r, err := crashRow(v)
		if err != nil {
			t.Fatalf("output record: %v", err)
		}
		rows = append(rows, r)
	}
	return rows
}

func recValues(recs []crashRec) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.value
	}
	return out
}

// compactTable is the upsert table a topic holds: the last value per key,
// a tombstone deleting the key. Records of one key are in one partition.
func compactTable(t *testing.T, recs []crashRec) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range recs {
		var k struct {
			User *int64 `json:"user"`
		}
		if err := json.Unmarshal(r.key, &k); err != nil || k.User == nil {
			t.Fatalf("output key %q: %v", r.key, err)
		}
		ks := strconv.FormatInt(*k.User, 10)
		if r.value == nil {
			delete(m, ks)
			continue
		}
		row, err := crashRow(r.value)
		if err != nil {
			t.Fatalf("output record: %v", err)
		}
		m[ks] = row
	}
	return m
}

func tableDiff(got, want map[string]string) []string {
	var d []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			d = append(d, fmt.Sprintf("key %s: missing, want %s", k, w))
		} else if g != w {
			d = append(d, fmt.Sprintf("key %s: got %s, want %s", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("key %s: unexpected %s", k, g))
		}
	}
	sort.Strings(d)
	return d
}

// ---------------------------------------------------------------- the job process

type crashJob struct {
	cmd  *exec.Cmd
	errb *lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startCrashJob(t *testing.T, bin string, args ...string) *crashJob {
	t.Helper()
	j := &crashJob{cmd: exec.Command(bin, args...), errb: &lockedBuffer{}, done: make(chan struct{})}
	j.cmd.Stdout = io.Discard
	j.cmd.Stderr = j.errb
	if err := j.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { j.err = j.cmd.Wait(); close(j.done) }()
	t.Cleanup(func() {
		select {
		case <-j.done:
		default:
			_ = j.cmd.Process.Kill()
			<-j.done
		}
	})
	return j
}

func (j *crashJob) exited() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the job and waits for it.
func (j *crashJob) kill() {
	_ = j.cmd.Process.Signal(syscall.SIGKILL)
	<-j.done
}

// interrupt stops the job with SIGINT (a clean cancel) and returns its
// exit code.
func (j *crashJob) interrupt(t *testing.T) int {
	t.Helper()
	_ = j.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-j.done:
	case <-time.After(30 * time.Second):
		j.kill()
		t.Fatalf("weir run did not stop within 30 s of SIGINT; stderr:\n%s", j.errb.String())
	}
	var ee *exec.ExitError
	if errors.As(j.err, &ee) {
		return ee.ExitCode()
	}
	if j.err != nil {
		t.Fatal(j.err)
	}
	return 0
}

// ---------------------------------------------------------------- the test

type crashCase struct {
	name     string
	delivery string // exactly-once or at-least-once
	kills    int
	upsert   bool   // non-windowed GROUP BY into an upsert sink
	in, out  string // topics
	records  int
	memory   string // 'state.memory', if set
}

func (c crashCase) script(addr string) string {
	src := fmt.Sprintf(`CREATE TABLE src (
  `+"`user`"+` BIGINT,
  amount BIGINT,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
  'connector' = 'kafka',
  'properties.bootstrap.servers' = '%s',
  'topic' = '%s',
  'format' = 'json',
  'scan.startup.mode' = 'earliest-offset'
);
`, addr, c.in)
	if c.memory != "" {
		src = fmt.Sprintf("SET 'state.memory' = '%s';\n", c.memory) + src
	}
	if c.upsert {
		return src + fmt.Sprintf(`CREATE TABLE sink (
  `+"`user`"+` BIGINT,
  cnt BIGINT,
  total BIGINT,
  PRIMARY KEY (`+"`user`"+`) NOT ENFORCED
) WITH (
  'connector' = 'kafka',
  'properties.bootstrap.servers' = '%s',
  'topic' = '%s',
  'format' = 'json'
);
INSERT INTO sink
SELECT `+"`user`"+`, COUNT(*), SUM(amount) FROM src WHERE `+"`user`"+` > 0 GROUP BY `+"`user`"+`;
`, addr, c.out)
	}
	return src + fmt.Sprintf(`CREATE TABLE sink (
  `+"`user`"+` BIGINT,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  cnt BIGINT,
  total BIGINT
) WITH (
  'connector' = 'kafka',
  'properties.bootstrap.servers' = '%s',
  'topic' = '%s',
  'format' = 'json',
  'key.fields' = 'user'
);
INSERT INTO sink
SELECT `+"`user`"+`, TUMBLE_START(ts, INTERVAL '2' SECOND), TUMBLE_END(ts, INTERVAL '2' SECOND),
       COUNT(*), SUM(amount)
FROM src
GROUP BY `+"`user`"+`, TUMBLE(ts, INTERVAL '2' SECOND);
`, addr, c.out)
}

// TestCrashKafka kills a checkpointing Kafka → Kafka job again and again and
// checks its committed output against an oracle.
func TestCrashKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test runs real processes for about a minute")
	}
	seed := uint64(20261204)
	if s := os.Getenv("WEIR_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WEIR_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with WEIR_CRASH_SEED=%d)", seed, seed)
	bin := buildWeir(t)
	cases := []crashCase{
		{name: "exactly-once-window", delivery: "exactly-once", kills: 20, in: "in", out: "out_win", records: 20000},
		{name: "at-least-once-window", delivery: "at-least-once", kills: 5, in: "in_alo", out: "out_win_alo", records: 8000},
		// room for about ten of the 50 users' groups in memory: the
		// rest is spilled to Badger and reloaded all the time
		{name: "exactly-once-upsert", delivery: "exactly-once", kills: 8, upsert: true, in: "in_agg", out: "out_agg", records: 8000,
			memory: "4kb"},
		// the same for the window job: (user, window) groups are spilled,
		// reloaded and fired from Badger
		{name: "exactly-once-window-spill", delivery: "exactly-once", kills: 8, in: "in_win_spill", out: "out_win_spill", records: 8000,
			memory: "4kb"},
	}
	var topics []string
	for _, c := range cases {
		topics = append(topics, c.in, c.out)
	}
	broker := startCrashBroker(t, bin, topics...)
	t.Logf("broker at %s", broker.addr)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runCrashCase(t, bin, broker.addr, c, seed+uint64(i))
		})
	}
}

func runCrashCase(t *testing.T, bin, addr string, c crashCase, seed uint64) {
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	input := crashInput(rng, c.records)

	dir := t.TempDir()
	script := filepath.Join(dir, "job.sql")
	if err := os.WriteFile(script, []byte(c.script(addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	ckDir := filepath.Join(dir, "checkpoints")
	args := func(p int) []string {
		return []string{"run", "--checkpoint-dir", ckDir, "--checkpoint-interval", "100ms",
			"--restore", "latest", "--delivery", c.delivery, "--parallelism", strconv.Itoa(p), script}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := crashWriter(addr, c.in)
	defer w.Close()

	// Every run's parallelism and kill moment are drawn up front, so that
	// the first part of the input can be produced at a steady pace over the
	// whole kill phase: records arrive while each run starts, works and is
	// killed. The last run gets the rest, then the end-of-input records.
	type plan struct {
		p     int
		after time.Duration
	}
	plans := make([]plan, c.kills+1)
	var total time.Duration
	for i := range plans {
		// mostly 150–600 ms (a first checkpoint completes after ~140 ms);
		// one run in five is killed within 20–150 ms, while it starts,
		// restores and recovers the transactions of the run before
		after := time.Duration(150+rng.IntN(451)) * time.Millisecond
		if rng.IntN(5) == 0 {
			after = time.Duration(20+rng.IntN(130)) * time.Millisecond
		}
		plans[i] = plan{p: 1 + rng.IntN(3), after: after}
		if i < c.kills {
			total += plans[i].after
		}
	}
	paced := len(input) * c.kills / (c.kills + 1)
	produce := func(recs []crashRecord, over time.Duration) <-chan error {
		errc := make(chan error, 1)
		go func() {
			const tick = 10 * time.Millisecond
			chunks := max(int(over/tick), 1)
			size := (len(recs) + chunks - 1) / chunks
			t0 := time.Now()
			for i := 0; len(recs) > 0; i++ {
				if d := time.Until(t0.Add(time.Duration(i) * over / time.Duration(chunks))); d > 0 {
					time.Sleep(d)
				}
				n := min(len(recs), size)
				if err := crashProduce(ctx, w, recs[:n]); err != nil {
					errc <- err
					return
				}
				recs = recs[n:]
			}
			errc <- nil
		}()
		return errc
	}

	prod := produce(input[:paced], total)
	var kills []string
	for run := 0; run < c.kills; run++ {
		p, after := plans[run].p, plans[run].after
		job := startCrashJob(t, bin, args(p)...)
		time.Sleep(after)
		if job.exited() {
			t.Fatalf("run %d (parallelism %d) exited by itself before the kill: %v\n%s", run, p, job.err, job.errb.String())
		}
		job.kill()
		restored := "fresh start"
		for _, line := range strings.Split(job.errb.String(), "\n") {
			switch {
			case strings.HasPrefix(line, "weir: restoring from "):
				restored = strings.TrimPrefix(line, "weir: ")
			case strings.HasPrefix(line, "Table "), strings.HasPrefix(line, "weir: no complete checkpoint"), strings.TrimSpace(line) == "":
			default:
				t.Logf("run %d stderr: %s", run, line)
			}
		}
		kills = append(kills, after.String())
		t.Logf("run %d: parallelism %d, SIGKILL after %v (%s)", run, p, after, restored)
	}
	if err := <-prod; err != nil {
		t.Fatalf("producing the input: %v", err)
	}
	if recs, st, err := readCommittedLog(ctx, addr, c.out); err == nil {
		t.Logf("before the final run: %d committed records in %s, %d in aborted transactions, %d in open ones",
			len(recs), c.out, st.aborted, st.open)
	}

	// the last run: the rest of the input, then the end of input
	p := plans[c.kills].p
	t.Logf("final run: parallelism %d", p)
	job := startCrashJob(t, bin, args(p)...)
	if err := <-produce(input[paced:], 200*time.Millisecond); err != nil {
		t.Fatalf("producing the input: %v", err)
	}
	var sentinels []crashRecord
	for part := range crashPartitions {
		sentinels = append(sentinels, crashRecord{User: 0, Amount: 0, Ts: crashBaseMs + crashFarFuture, Part: part})
	}
	if err := crashProduce(ctx, w, sentinels); err != nil {
		t.Fatalf("producing the end-of-input records: %v", err)
	}

	var wantRows []string
	var wantTable map[string]string
	if c.upsert {
		wantTable = crashAggOracle(input)
	} else {
		wantRows = crashWindowOracle(input)
	}

	// poll the committed output until it is complete and stable
	complete := func(recs []crashRec) bool {
		if c.upsert {
			return len(tableDiff(compactTable(t, recs), wantTable)) == 0
		}
		missing, _ := multisetDiff(renderValues(t, recValues(recs)), wantRows)
		return len(missing) == 0
	}
	deadline := time.Now().Add(45 * time.Second)
	lastN, stableSince := -1, time.Time{}
	for {
		if job.exited() {
			t.Fatalf("the final run exited by itself: %v\n%s", job.err, job.errb.String())
		}
		recs, _, err := readCommittedLog(ctx, addr, c.out)
		if err != nil {
			t.Fatalf("reading %s: %v", c.out, err)
		}
		if complete(recs) {
			if len(recs) != lastN {
				lastN, stableSince = len(recs), time.Now()
			} else if time.Since(stableSince) >= 500*time.Millisecond {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Logf("output incomplete after 45 s; stderr of the final run:\n%s", job.errb.String())
			break // the comparison below says what is missing
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := job.interrupt(t); code != exitCancelled {
		t.Errorf("final run: exit %d after SIGINT, want %d; stderr:\n%s", code, exitCancelled, job.errb.String())
	}
	if c.memory != "" && !strings.Contains(job.errb.String(), "groups in the spill store at the end") {
		t.Errorf("final run with 'state.memory' = '%s' did not report spilling; stderr:\n%s", c.memory, job.errb.String())
	}

	recs, st, err := readCommittedLog(ctx, addr, c.out)
	if err != nil {
		t.Fatalf("reading %s: %v", c.out, err)
	}
	t.Logf("after the final run: %d committed records in %s, %d in aborted transactions, %d in open ones",
		len(recs), c.out, st.aborted, st.open)
	kvalues, haveKcat := kcatCommittedValues(t, addr, c.out)
	if !haveKcat {
		t.Log("kcat is not installed: skipping the cross-check with librdkafka (read_committed)")
	}
	if c.upsert {
		got := compactTable(t, recs)
		if d := tableDiff(got, wantTable); len(d) > 0 {
			t.Fatalf("%s after %d kills: the final table differs from the oracle in %d keys (%d records read):\n  %s",
				c.name, c.kills, len(d), len(recs), firstN(d, 10))
		}
		// Exactly once, every committed update of a user has a larger count
		// than the one before it: an update replayed after a restore would
		// go back.
		last := map[string]int64{}
		var replays []string
		for _, r := range recs {
			var v struct {
				User, Cnt int64
			}
			if r.value == nil || json.Unmarshal(r.value, &v) != nil {
				continue
			}
			k := strconv.FormatInt(v.User, 10)
			if prev, ok := last[k]; ok && v.Cnt <= prev {
				replays = append(replays, fmt.Sprintf("partition %d offset %d: user %d count %d after %d", r.part, r.off, v.User, v.Cnt, prev))
			}
			last[k] = v.Cnt
		}
		if len(replays) > 0 {
			t.Fatalf("%s: %d committed updates do not advance their user's count (replayed output, first 10):\n  %s",
				c.name, len(replays), firstN(replays, 10))
		}
		t.Logf("%s: %d kills; the final table of %d keys equals the oracle (%d committed records); %.1fs",
			c.name, c.kills, len(got), len(recs), time.Since(start).Seconds())
		if haveKcat {
			// kcat does not print keys here; compare the latest value per user
			kt := map[string]string{}
			for _, v := range kvalues {
				r, err := crashRow([]byte(v))
				if err != nil {
					t.Fatalf("kcat output: %v", err)
				}
				u, _, _ := strings.Cut(strings.TrimPrefix(r, "user="), " ")
				kt[u] = r // a topic partition is read in order; a user's records are in one partition
			}
			if d := tableDiff(kt, wantTable); len(d) > 0 {
				t.Fatalf("kcat (read_committed): the final table differs from the oracle in %d keys:\n  %s", len(d), firstN(d, 10))
			}
		}
		return
	}
	got := renderValues(t, recValues(recs))
	missing, extra := multisetDiff(got, wantRows)
	if len(missing) > 0 {
		t.Errorf("%s after %d kills: %d of %d window rows missing from %s (first 10):\n  %s",
			c.name, c.kills, len(missing), len(wantRows), c.out, firstN(missing, 10))
	}
	if c.delivery == "exactly-once" && len(extra) > 0 {
		t.Errorf("%s after %d kills: %d rows duplicated or wrong in %s (first 10):\n  %s",
			c.name, c.kills, len(extra), c.out, firstN(extra, 10))
	}
	if c.delivery == "at-least-once" {
		// duplicates are allowed, wrong rows are not
		want := map[string]bool{}
		for _, r := range wantRows {
			want[r] = true
		}
		var wrong []string
		for _, r := range extra {
			if !want[r] {
				wrong = append(wrong, r)
			}
		}
		if len(wrong) > 0 {
			t.Errorf("%s: %d rows in %s that the oracle does not have (first 10):\n  %s", c.name, len(wrong), c.out, firstN(wrong, 10))
		}
		t.Logf("%s: %d duplicates of %d window rows", c.name, len(extra), len(wantRows))
	}
	if haveKcat {
		km, ke := multisetDiff(renderValues(t, toBytes(kvalues)), got)
		if len(km) > 0 || len(ke) > 0 {
			t.Errorf("kcat (read_committed) disagrees with the Go reader: %d rows only in the Go reader, %d only in kcat:\n  %s\n  --\n  %s",
				len(km), len(ke), firstN(km, 10), firstN(ke, 10))
		}
	}
	t.Logf("%s: %d kills (after %s), %d committed window rows, oracle %d rows; %.1fs",
		c.name, c.kills, strings.Join(kills, " "), len(got), len(wantRows), time.Since(start).Seconds())
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
