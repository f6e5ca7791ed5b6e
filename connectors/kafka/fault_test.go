package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Fault tests (issue 3, item 4): broker restarts, leader moves and back
// pressure, against kfake in-process. Every wait is bounded by a deadline
// that fails the test.

// restartable is a one-broker kfake cluster on a fixed port with a data
// directory, so that it can be stopped and started again (a broker
// restart) without losing records.
type restartable struct {
	t     *testing.T
	port  int
	dir   string
	parts int32
	topic string
	mu    sync.Mutex
	c     *kfake.Cluster
}

func newRestartable(t *testing.T, parts int32, topic string) *restartable {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &restartable{t: t, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir(), parts: parts, topic: topic}
	l.Close()
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *restartable) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *restartable) start() {
	r.t.Helper()
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for { // the port may take a moment to free
		var c *kfake.Cluster
		if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(r.port), kfake.DataDir(r.dir), kfake.SeedTopics(r.parts, r.topic)); err == nil {
			r.mu.Lock()
			r.c = c
			r.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("restarting the broker: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *restartable) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		r.c.Close()
		r.c = nil
	}
}

// statusLog records a subtask's status changes.
type statusLog struct {
	mu  sync.Mutex
	log []string
}

func (s *statusLog) set(st string) {
	s.mu.Lock()
	s.log = append(s.log, st)
	s.mu.Unlock()
}

func (s *statusLog) last() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) == 0 {
		return "", 0
	}
	return s.log[len(s.log)-1], len(s.log)
}

func (s *statusLog) waited(substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.log {
		if strings.Contains(st, substr) {
			return true
		}
	}
	return false
}

// within runs fn and fails the test when it does not return within d.
func within(t *testing.T, d time.Duration, what string, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- fn() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
		return nil
	}
}

// keyedRows is batch i of rows whose key (column name) is one of 50 keys:
// id is the sequence number, so per-key order can be checked.
func keyedRows(from, n int) *types.Batch {
	var b types.Batch
	for i := from; i < from+n; i++ {
		b.Append(row(int64(i), fmt.Sprintf("k%d", i%50)), types.Insert)
	}
	return &b
}

// checkDelivered reads the topic back and checks that every id in [0, n)
// is there (at least once) and that per key the first occurrences are in
// the order sent and the last record is the last one sent. It returns the
// number of duplicates.
func checkDelivered(t *testing.T, addr, topic string, n int) int {
	t.Helper()
	seen := make([]int, n)
	dups := 0
	for part, msgs := range readAll(t, addr, topic) {
		lastByKey := map[string]int64{}
		for _, m := range msgs {
			var v struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal(m.Value, &v); err != nil {
				t.Fatalf("partition %d offset %d: %v", part, m.Offset, err)
			}
			if v.ID < 0 || v.ID >= int64(n) {
				t.Fatalf("partition %d offset %d: unexpected id %d", part, m.Offset, v.ID)
			}
			if string(m.Key) != fmt.Sprintf(`{"name":"%s"}`, v.Name) {
				t.Fatalf("partition %d offset %d: key %s for name %s", part, m.Offset, m.Key, v.Name)
			}
			seen[v.ID]++
			if seen[v.ID] > 1 {
				dups++
			} else if prev, ok := lastByKey[v.Name]; ok && v.ID < prev {
				t.Fatalf("key %s: id %d first written after id %d (per-key order broken)", v.Name, v.ID, prev)
			}
			lastByKey[v.Name] = max(lastByKey[v.Name], v.ID)
		}
		// the compacted view: the last record of each key is its last id
		last := map[string]int64{}
		for _, m := range msgs {
			var v struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			_ = json.Unmarshal(m.Value, &v)
			last[v.Name] = v.ID
		}
		for k, id := range last {
			if id != lastByKey[k] {
				t.Fatalf("key %s: last record has id %d, want %d", k, id, lastByKey[k])
			}
		}
	}
	missing := 0
	for id, c := range seen {
		if c == 0 {
			if missing < 5 {
				t.Errorf("id %d was not delivered", id)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d records lost", missing, n)
	}
	return dups
}

func keyedSink(t *testing.T, addr, topic string) (*Sink, *statusLog, context.CancelFunc) {
	t.Helper()
	f := testFactory(t, sinkTable(addr, topic, nil, OptKeyFields, "name", OptSinkBatchSize, "100"))
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	sink := s.(*Sink)
	var st statusLog
	var sa exec.StatusAware = sink
	sa.SetStatusFunc(st.set)
	ctx, cancel := context.WithCancel(context.Background())
	var ca exec.ContextAware = sink
	ca.SetContext(ctx)
	t.Cleanup(func() { cancel(); sink.Abort() })
	return sink, &st, cancel
}

// TestSinkThroughBrokerRestart keeps writing while the broker is down for
// ~10 s (longer than kafka-go's default retries): the sink waits, says so
// in its status, and delivers every record once the broker is back.
func TestSinkThroughBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s outage")
	}
	b := newRestartable(t, 4, "t")
	sink, st, _ := keyedSink(t, b.addr(), "t")
	const batches, per = 60, 100
	var written sync.WaitGroup
	written.Add(1)
	progress := make(chan int, batches)
	var werr error
	go func() {
		defer written.Done()
		for i := 0; i < batches; i++ {
			if werr = sink.Write(keyedRows(i*per, per)); werr != nil {
				return
			}
			progress <- i
			time.Sleep(20 * time.Millisecond)
		}
	}()
	deadline := time.After(20 * time.Second)
	for got := 0; got < 10; got++ { // some records go out before the outage
		select {
		case <-progress:
		case <-deadline:
			t.Fatal("no progress before the outage")
		}
	}
	b.stop()
	outage := time.Now()
	waitFor(t, "the waiting status", func() bool { return st.waited("waiting for Kafka at " + b.addr()) })
	if s, _ := st.last(); s == "" {
		t.Fatalf("status cleared while the broker is down")
	}
	time.Sleep(10*time.Second - time.Since(outage)) // the outage itself, not a wait for a condition
	b.start()
	if err := within(t, 60*time.Second, "writing", func() error { written.Wait(); return werr }); err != nil {
		t.Fatal(err)
	}
	if err := within(t, 30*time.Second, "Finish", sink.Finish); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.last(); s != "" {
		t.Fatalf("status not cleared after the broker came back: %q", s)
	}
	dups := checkDelivered(t, b.addr(), "t", batches*per)
	t.Logf("outage %s; %d records, %d duplicates; statuses: %d changes", time.Since(outage).Round(time.Millisecond), batches*per, dups, len(st.log))
}

// TestSinkLeaderMoves shuffles partition leaders across 3 brokers while the
// sink produces: nothing is lost and per-key order holds.
func TestSinkLeaderMoves(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := strings.Join(c.ListenAddrs(), ",")
	sink, st, _ := keyedSink(t, addrs, "t")
	const batches, per = 40, 100
	err = within(t, 60*time.Second, "writing", func() error {
		for i := 0; i < batches; i++ {
			if err := sink.Write(keyedRows(i*per, per)); err != nil {
				return err
			}
			if i%4 == 0 {
				c.ShufflePartitionLeaders()
			}
			time.Sleep(10 * time.Millisecond)
		}
		return sink.Finish()
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := st.last(); s != "" {
		t.Fatalf("status not cleared: %q", s)
	}
	dups := checkDelivered(t, c.ListenAddrs()[0], "t", batches*per)
	t.Logf("%d records, %d duplicates, %d status changes", batches*per, dups, len(st.log))
}

// TestSinkBackPressureWhileDown: with the broker down, Write blocks once
// the unacknowledged bytes reach the limit (memory stays bounded), and
// resumes when the broker is back; nothing is lost.
func TestSinkBackPressureWhileDown(t *testing.T) {
	b := newRestartable(t, 2, "t")
	f := testFactory(t, sinkTable(b.addr(), "t", nil, OptKeyFields, "name", OptSinkBatchSize, "100"))
	const limit = 64 << 10
	f.maxInflight = limit
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	sink := s.(*Sink)
	var st statusLog
	sink.SetStatusFunc(st.set)
	t.Cleanup(sink.Abort)
	if err := sink.Write(keyedRows(0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := within(t, 10*time.Second, "Flush", sink.pp.Flush); err != nil {
		t.Fatal(err)
	}
	b.stop()

	const batches, per = 200, 100 // ~ 200 × 100 × 100 B: far above the limit
	var mu sync.Mutex
	done := 1
	var maxInflight int64
	errc := make(chan error, 1)
	go func() {
		for i := 1; i < batches; i++ {
			if err := sink.Write(keyedRows(i*per, per)); err != nil {
				errc <- err
				return
			}
			sink.pp.mu.Lock()
			in := sink.pp.inflight
			sink.pp.mu.Unlock()
			mu.Lock()
			done = i + 1
			maxInflight = max(maxInflight, in)
			mu.Unlock()
		}
		errc <- nil
	}()
	// Wait until Write blocks: the written count stops short of the input
	// and the producer holds about the limit.
	var blockedAt int
	waitFor(t, "Write to block", func() bool {
		sink.pp.mu.Lock()
		in := sink.pp.inflight
		sink.pp.mu.Unlock()
		mu.Lock()
		blockedAt = done
		mu.Unlock()
		return in > limit-20<<10
	})
	waitFor(t, "the waiting status", func() bool { return st.waited("waiting for Kafka") })
	time.Sleep(500 * time.Millisecond) // a blocked writer must not advance meanwhile
	mu.Lock()
	after, peak := done, maxInflight
	mu.Unlock()
	if after >= batches || after > blockedAt+1 {
		t.Fatalf("Write did not block while the broker was down: %d of %d batches written (%d when the limit was reached)", after, batches, blockedAt)
	}
	if peak > limit+20<<10 {
		t.Fatalf("%d bytes held, limit %d", peak, limit)
	}
	t.Logf("blocked after %d of %d batches, %d bytes held (limit %d)", after, batches, peak, limit)
	b.start()
	if err := within(t, 60*time.Second, "writing after the restart", func() error { return <-errc }); err != nil {
		t.Fatal(err)
	}
	if err := within(t, 30*time.Second, "Finish", sink.Finish); err != nil {
		t.Fatal(err)
	}
	dups := checkDelivered(t, b.addr(), "t", batches*per)
	t.Logf("%d duplicates", dups)
}

// TestSinkBlockedWriteStopsWithJob: a Write blocked by back pressure during
// an outage returns promptly when the job's context ends.
func TestSinkBlockedWriteStopsWithJob(t *testing.T) {
	b := newRestartable(t, 1, "t")
	f := testFactory(t, sinkTable(b.addr(), "t", nil, OptKeyFields, "name"))
	f.maxInflight = 16 << 10
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	sink := s.(*Sink)
	ctx, cancel := context.WithCancel(context.Background())
	sink.SetContext(ctx)
	if err := sink.Write(keyedRows(0, 10)); err != nil {
		t.Fatal(err)
	}
	b.stop()
	errc := make(chan error, 1)
	go func() {
		for i := 1; ; i++ {
			if err := sink.Write(keyedRows(i*100, 100)); err != nil {
				errc <- err
				return
			}
		}
	}()
	waitFor(t, "Write to block", func() bool {
		sink.pp.mu.Lock()
		defer sink.pp.mu.Unlock()
		return sink.pp.inflight > 8<<10
	})
	cancel()
	err = within(t, 2*time.Second, "a blocked Write after cancellation", func() error { return <-errc })
	if err == nil || !strings.Contains(err.Error(), "'t'") {
		t.Fatalf("want an error naming the topic, got %v", err)
	}
	start := time.Now()
	sink.Abort()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Abort took %s", d)
	}
}

// TestSinkRecordTooLargeFails: a record the broker will never accept
// fails the job with a clear message instead of retrying forever.
func TestSinkRecordTooLargeFails(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "10000"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := testFactory(t, sinkTable(c.ListenAddrs()[0], "t", nil))
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var b types.Batch
	b.Append(row(1, strings.Repeat("x", 50000)), types.Insert)
	err = within(t, 20*time.Second, "Write+Finish", func() error {
		if err := s.Write(&b); err != nil {
			return err
		}
		return s.Finish()
	})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("want a 'too large' error, got %v", err)
	}
	t.Log(err)
}

// TestSourceStatusThroughBrokerRestart complements TestBrokerGoneMidRun
// (source_test.go: no record lost or read twice across a restart) with
// the status: waiting while the broker is down, cleared once it is back.
func TestSourceStatusThroughBrokerRestart(t *testing.T) {
	b := newRestartable(t, 2, "t")
	produceN(t, b.addr(), "t", 2, 50, 0)
	src, _ := create(t, table(b.addr(), "t", idSchema), 0, 1)
	var st statusLog
	var sa exec.StatusAware = src
	sa.SetStatusFunc(st.set)
	out, stop := runAsync(t, src)
	waitFor(t, "100 rows", func() bool { return out.count() == 100 })
	b.stop()
	waitFor(t, "the waiting status", func() bool { return st.waited("waiting for Kafka at " + b.addr()) })
	b.start()
	produceN(t, b.addr(), "t", 2, 50, 100)
	waitFor(t, "200 rows", func() bool { return out.count() >= 200 })
	waitFor(t, "the status to clear", func() bool { s, _ := st.last(); return s == "" })
	if err := stop(); err != context.Canceled {
		t.Fatal(err)
	}
	ids := out.ids()
	if len(ids) != 200 {
		t.Fatalf("got %d rows, want 200", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("record %d read twice", ids[i])
		}
	}
}
