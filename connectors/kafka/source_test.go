package kafka

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// ---------------------------------------------------------------- helpers

func newCluster(t *testing.T, partitions int32, topics ...string) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, strings.Join(c.ListenAddrs(), ",")
}

func newKgo(t *testing.T, addrs string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(strings.Split(addrs, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes records (Partition set by the caller) and waits for acks=all.
func produce(t *testing.T, addrs string, recs ...*kgo.Record) {
	t.Helper()
	cl := newKgo(t, addrs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func rec(topic string, p int32, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Value: []byte(value)}
}

// produceN writes n JSON records {"id":..,"p":..} to each of parts partitions.
func produceN(t *testing.T, addrs, topic string, parts, n, base int) {
	t.Helper()
	var recs []*kgo.Record
	for p := 0; p < parts; p++ {
		for i := 0; i < n; i++ {
			recs = append(recs, rec(topic, int32(p), fmt.Sprintf(`{"id":%d,"p":%d}`, base+p*1000+i, p)))
		}
	}
	produce(t, addrs, recs...)
}

var idSchema = types.Schema{Cols: []types.Column{{Name: "id", Type: types.TBigInt, Nullable: true}, {Name: "p", Type: types.TBigInt, Nullable: true}}}

func table(addrs, topic string, schema types.Schema, kv ...string) *connectors.Table {
	opts := map[string]string{"connector": "kafka", "properties.bootstrap.servers": addrs, "topic": topic, "format": "json"}
	for i := 0; i+1 < len(kv); i += 2 {
		opts[kv[i]] = kv[i+1]
	}
	return &connectors.Table{Name: "src", Schema: schema, Options: opts, RowtimeCol: -1}
}

// fakeOut records what a source hands to the runtime.
type fakeOut struct {
	mu    sync.Mutex
	rows  []types.Row
	split []int
	done  map[int]bool
	idle  map[int]int
	added int
	n     int // initial splits
}

func (o *fakeOut) Emit(split int, b *types.Batch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(b.Rows) > DefaultBatchSize {
		return fmt.Errorf("batch of %d rows", len(b.Rows))
	}
	for _, r := range b.Rows {
		o.rows = append(o.rows, r)
		o.split = append(o.split, split)
	}
	return nil
}
func (o *fakeOut) SplitDone(split int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done == nil {
		o.done = map[int]bool{}
	}
	o.done[split] = true
}
func (o *fakeOut) AddSplit() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.added++
	return o.n + o.added - 1
}
func (o *fakeOut) SplitIdle(split int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.idle == nil {
		o.idle = map[int]int{}
	}
	o.idle[split]++
}
func (o *fakeOut) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.rows)
}
func (o *fakeOut) ids() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []int64
	for _, r := range o.rows {
		ids = append(ids, r[0].I)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

var _ exec.SourceOutput = (*fakeOut)(nil)

func create(t *testing.T, tb *connectors.Table, subtask, p int) (*Source, *SourceFactory) {
	t.Helper()
	c, err := connectors.Lookup("kafka")
	if err != nil {
		t.Fatal(err)
	}
	sf, err := c.NewSource(tb)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sf.Create(subtask, p)
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source), sf.(*SourceFactory)
}

// runBounded runs a source to its end.
func runBounded(t *testing.T, src *Source) (*fakeOut, error) {
	t.Helper()
	out := &fakeOut{n: src.Splits()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := src.Run(ctx, out)
	return out, err
}

func mustRunBounded(t *testing.T, src *Source) *fakeOut {
	t.Helper()
	out, err := runBounded(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runAsync runs an unbounded source until the returned stop is called.
func runAsync(t *testing.T, src *Source) (*fakeOut, func() error) {
	out := &fakeOut{n: src.Splits()}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, out) }()
	stop := func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(5 * time.Second):
			return fmt.Errorf("Run did not return within 5 s of cancellation")
		}
	}
	t.Cleanup(func() { cancel() })
	return out, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStarted waits until the source has resolved its start offsets.
func waitStarted(t *testing.T, src *Source) {
	waitFor(t, "start offsets", func() bool { return len(src.Offsets()) == len(src.Partitions()) })
}

// ---------------------------------------------------------------- tests

func TestStartupEarliestBounded(t *testing.T) {
	_, addrs := newCluster(t, 4, "t")
	produceN(t, addrs, "t", 4, 300, 0)
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "batch-size", "100"), 0, 1)
	if src.Splits() != 4 {
		t.Fatalf("splits = %d, want 4", src.Splits())
	}
	out := mustRunBounded(t, src)
	if out.count() != 1200 {
		t.Fatalf("got %d rows, want 1200", out.count())
	}
	if len(out.done) != 4 {
		t.Fatalf("SplitDone for %v, want all 4", out.done)
	}
	// rows of split i come from partition i, in offset order
	last := map[int]int64{}
	for i, r := range out.rows {
		if int64(src.parts[out.split[i]]) != r[1].I {
			t.Fatalf("row %v tagged with split %d", r, out.split[i])
		}
		if r[0].I <= last[out.split[i]] && r[0].I%1000 != 0 {
			t.Fatalf("out of order in split %d: %v after %d", out.split[i], r, last[out.split[i]])
		}
		last[out.split[i]] = r[0].I
	}
	offs := src.Offsets()
	for p := 0; p < 4; p++ {
		if offs[p] != 300 {
			t.Fatalf("offsets = %v, want 300 each", offs)
		}
	}
}

func TestStartupLatest(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	produceN(t, addrs, "t", 2, 10, 0)
	// bounded + latest: nothing to read, ends at once
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "scan.startup.mode", "latest-offset"), 0, 1)
	if out := mustRunBounded(t, src); out.count() != 0 {
		t.Fatalf("got %d rows, want 0", out.count())
	}
	// unbounded + latest: only what is produced after start
	src, _ = create(t, table(addrs, "t", idSchema, "scan.startup.mode", "latest-offset"), 0, 1)
	out, stop := runAsync(t, src)
	waitStarted(t, src)
	produceN(t, addrs, "t", 2, 5, 100)
	waitFor(t, "5+5 rows", func() bool { return out.count() == 10 })
	if err := stop(); err != context.Canceled {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	for _, id := range out.ids() {
		if id%1000 < 100 {
			t.Fatalf("read an old record %d", id)
		}
	}
	if o := src.Offsets(); o[0] != 15 || o[1] != 15 {
		t.Fatalf("offsets = %v", o)
	}
}

func TestStartupTimestamp(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	base := time.UnixMilli(1_700_000_000_000)
	var recs []*kgo.Record
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 10; i++ {
			r := rec("t", p, fmt.Sprintf(`{"id":%d,"p":%d}`, int(p)*1000+i, p))
			r.Timestamp = base.Add(time.Duration(i) * time.Second)
			recs = append(recs, r)
		}
	}
	produce(t, addrs, recs...)
	ms := base.Add(6 * time.Second).UnixMilli()
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset",
		"scan.startup.mode", "timestamp", "scan.startup.timestamp-millis", fmt.Sprint(ms)), 0, 1)
	out := mustRunBounded(t, src)
	got := out.ids()
	want := []int64{6, 7, 8, 9, 1006, 1007, 1008, 1009}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestStartupSpecificOffsets(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	produceN(t, addrs, "t", 2, 10, 0)
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset",
		"scan.startup.mode", "specific-offsets", "scan.startup.specific-offsets", "partition:0,offset:7;partition:1,offset:9"), 0, 1)
	got := mustRunBounded(t, src).ids()
	if want := []int64{7, 8, 9, 1009}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// the restore path overrides the startup mode
	tb := table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "scan.startup.mode", "latest-offset")
	sf, err := NewSourceFactory(tb, map[int]int64{0: 8, 1: 5})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := sf.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	got = mustRunBounded(t, s2.(*Source)).ids()
	if want := []int64{8, 9, 1005, 1006, 1007, 1008, 1009}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restored: got %v, want %v", got, want)
	}
}

func TestGroupOffsets(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	produceN(t, addrs, "t", 2, 10, 0)
	// a first bounded run commits its end offsets (monitoring) ...
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "properties.group.id", "g1"), 0, 1)
	if n := mustRunBounded(t, src).count(); n != 20 {
		t.Fatalf("got %d rows", n)
	}
	produceN(t, addrs, "t", 2, 3, 100)
	// ... which group-offsets mode starts from
	src, _ = create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset",
		"scan.startup.mode", "group-offsets", "properties.group.id", "g1"), 0, 1)
	got := mustRunBounded(t, src).ids()
	if want := []int64{100, 101, 102, 1100, 1101, 1102}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestTwoSubtasksCoverEveryRecordOnce(t *testing.T) {
	_, addrs := newCluster(t, 5, "t")
	produceN(t, addrs, "t", 5, 200, 0)
	tb := table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset")
	var all []int64
	for i := 0; i < 2; i++ {
		src, sf := create(t, tb, i, 2)
		if sf.MaxParallelism() != 5 {
			t.Fatalf("MaxParallelism = %d", sf.MaxParallelism())
		}
		for _, p := range src.Partitions() {
			if p%2 != i {
				t.Fatalf("subtask %d got partition %d", i, p)
			}
		}
		out := mustRunBounded(t, src)
		for _, r := range out.rows {
			if int(r[1].I)%2 != i {
				t.Fatalf("subtask %d read %v", i, r)
			}
		}
		all = append(all, out.ids()...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) != 1000 {
		t.Fatalf("got %d rows, want 1000", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("record %d read twice", all[i])
		}
	}
}

func TestNewPartitionsPickedUp(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	produceN(t, addrs, "t", 2, 3, 0)
	src, _ := create(t, table(addrs, "t", idSchema, "scan.topic-partition-discovery.interval", "100 ms"), 0, 1)
	out, stop := runAsync(t, src)
	waitFor(t, "6 rows", func() bool { return out.count() == 6 })
	cl := &kafka.Client{Addr: kafka.TCP(strings.Split(addrs, ",")...)}
	resp, err := cl.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: "t", Count: 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resp.Errors {
		if e != nil {
			t.Fatal(e)
		}
	}
	produce(t, addrs, rec("t", 3, `{"id":3000,"p":3}`), rec("t", 2, `{"id":2000,"p":2}`))
	waitFor(t, "8 rows", func() bool { return out.count() == 8 })
	if err := stop(); err != context.Canceled {
		t.Fatal(err)
	}
	if out.added != 2 {
		t.Fatalf("AddSplit called %d times, want 2", out.added)
	}
	for i, r := range out.rows {
		if src.parts[out.split[i]] != int(r[1].I) {
			t.Fatalf("row %v on split %d (partitions %v)", r, out.split[i], src.parts)
		}
	}
}

func TestMetadataColumns(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	r := rec("t", 1, `{"v":"hello"}`)
	r.Key = []byte("k1")
	r.Timestamp = time.UnixMilli(1_700_000_000_123)
	r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("x\"y")}}
	produce(t, addrs, rec("t", 1, `{"v":"first"}`), r)
	schema := types.Schema{Cols: []types.Column{
		{Name: "v", Type: types.TVarchar}, {Name: "k", Type: types.TVarchar}, {Name: "tp", Type: types.TVarchar},
		{Name: "part", Type: types.TBigInt}, {Name: "off", Type: types.TBigInt}, {Name: "ts", Type: types.TTimestamp},
		{Name: "hs", Type: types.TVarchar},
	}}
	src, _ := create(t, table(addrs, "t", schema, "scan.bounded.mode", "latest-offset",
		"metadata.columns", "k, tp, part, off, ts, hs",
		"metadata.k", "key", "metadata.tp", "topic", "metadata.part", "partition", "metadata.off", "offset",
		"metadata.ts", "timestamp", "metadata.hs", "headers"), 0, 1)
	out := mustRunBounded(t, src)
	if out.count() != 2 {
		t.Fatalf("got %d rows", out.count())
	}
	got := out.rows[1]
	if got[0].S != "hello" || got[1].S != "k1" || got[2].S != "t" || got[3].I != 1 || got[4].I != 1 ||
		got[5].Kind != types.Timestamp || got[5].I != 1_700_000_000_123 || got[6].S != `{"h":"x\"y"}` {
		t.Fatalf("row = %v", got)
	}
	if !out.rows[0][1].IsNull() || out.rows[0][6].S != "{}" {
		t.Fatalf("first row = %v", out.rows[0])
	}
	// a metadata column of the wrong type is rejected at planning
	c, _ := connectors.Lookup("kafka")
	_, err := c.NewSource(table(addrs, "t", schema, "metadata.columns", "off", "metadata.off", "key"))
	if err == nil || !strings.Contains(err.Error(), "must be VARCHAR") {
		t.Fatalf("err = %v", err)
	}
}

func TestRawFormat(t *testing.T) {
	_, addrs := newCluster(t, 1, "t")
	produce(t, addrs, rec("t", 0, "not json at all"), rec("t", 0, ""))
	schema := types.Schema{Cols: []types.Column{{Name: "line", Type: types.TVarchar}}}
	src, _ := create(t, table(addrs, "t", schema, "format", "raw", "scan.bounded.mode", "latest-offset"), 0, 1)
	out := mustRunBounded(t, src)
	if out.count() != 2 || out.rows[0][0].S != "not json at all" || out.rows[1][0].S != "" {
		t.Fatalf("rows = %v", out.rows)
	}
}

func badRecords(t *testing.T, addrs string) {
	produce(t, addrs, rec("t", 1, `{"id":1,"p":1}`), rec("t", 1, `{"id":2,"p":1}`), rec("t", 1, `{"id":"x"`), rec("t", 1, `{"id":4,"p":1}`))
}

func TestDecodeErrorFails(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	badRecords(t, addrs)
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset"), 0, 1)
	_, err := runBounded(t, src)
	if err == nil || !strings.HasPrefix(err.Error(), "topic t partition 1 offset 2: ") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}

func TestDecodeErrorSkip(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	badRecords(t, addrs)
	src, sf := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "on-error", "skip"), 0, 1)
	out := mustRunBounded(t, src)
	if got := out.ids(); fmt.Sprint(got) != "[1 2 4]" {
		t.Fatalf("ids = %v", got)
	}
	if src.Skipped() != 1 || sf.Skipped() != 1 {
		t.Fatalf("skipped = %d/%d, want 1", src.Skipped(), sf.Skipped())
	}
	if o := src.Offsets(); o[1] != 4 {
		t.Fatalf("offsets = %v", o)
	}
}

func TestDecodeErrorDeadLetter(t *testing.T) {
	_, addrs := newCluster(t, 2, "t", "dlq")
	badRecords(t, addrs)
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset",
		"on-error", "dead-letter", "dead-letter.topic", "dlq"), 0, 1)
	out := mustRunBounded(t, src)
	if got := out.ids(); fmt.Sprint(got) != "[1 2 4]" {
		t.Fatalf("ids = %v", got)
	}
	if src.Skipped() != 1 {
		t.Fatalf("skipped = %d", src.Skipped())
	}
	cl := newKgo(t, addrs, kgo.ConsumeTopics("dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < 1 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	if len(got) != 1 || string(got[0].Value) != `{"id":"x"` {
		t.Fatalf("dead letters = %v", got)
	}
	h := map[string]string{}
	for _, x := range got[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if h["weir.source.topic"] != "t" || h["weir.source.partition"] != "1" || h["weir.source.offset"] != "2" || h["weir.error"] == "" {
		t.Fatalf("headers = %v", h)
	}
}

func TestMissingTopic(t *testing.T) {
	_, addrs := newCluster(t, 1, "t")
	c, _ := connectors.Lookup("kafka")
	sf, err := c.NewSource(table(addrs, "nope", idSchema))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sf.Create(0, 1)
	if err == nil || !strings.Contains(err.Error(), "topic nope does not exist") {
		t.Fatalf("err = %v", err)
	}
	// topic.create makes it
	src, _ := create(t, table(addrs, "made", idSchema, "topic.create", "true", "topic.partitions", "3", "scan.bounded.mode", "latest-offset"), 0, 1)
	if src.Splits() != 3 {
		t.Fatalf("splits = %d", src.Splits())
	}
	mustRunBounded(t, src)
}

func TestUnreachableBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ := connectors.Lookup("kafka")
	sf, err := c.NewSource(table(addr, "t", idSchema))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = sf.Create(0, 1)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Kafka at "+addr+": ") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %v", d)
	}
	t.Log(err)
}

func deleteRecords(t *testing.T, addrs, topic string, p int32, before int64) {
	t.Helper()
	cl := newKgo(t, addrs)
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition = p
	rp.Offset = before
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range resp.Topics {
		for _, pp := range tp.Partitions {
			if pp.ErrorCode != 0 {
				t.Fatalf("delete records: error %d", pp.ErrorCode)
			}
		}
	}
}

func TestOffsetOutOfRange(t *testing.T) {
	_, addrs := newCluster(t, 1, "t")
	produceN(t, addrs, "t", 1, 10, 0)
	deleteRecords(t, addrs, "t", 0, 5)
	opts := []string{"scan.bounded.mode", "latest-offset", "scan.startup.mode", "specific-offsets", "scan.startup.specific-offsets", "partition:0,offset:2"}
	src, _ := create(t, table(addrs, "t", idSchema, opts...), 0, 1)
	_, err := runBounded(t, src)
	if err == nil || !strings.Contains(err.Error(), "topic t partition 0: offset 2 is out of range: the earliest available offset is 5") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
	src, _ = create(t, table(addrs, "t", idSchema, append(opts, "scan.offset-reset", "earliest")...), 0, 1)
	if got := mustRunBounded(t, src).ids(); fmt.Sprint(got) != "[5 6 7 8 9]" {
		t.Fatalf("ids = %v", got)
	}
}

func TestIdlePartition(t *testing.T) {
	_, addrs := newCluster(t, 3, "t")
	src, _ := create(t, table(addrs, "t", idSchema, "scan.watermark.idle-timeout", "200 ms"), 0, 1)
	out, stop := runAsync(t, src)
	waitStarted(t, src)
	// keep partition 0 busy; 1 and 2 get nothing
	deadline := time.Now().Add(700 * time.Millisecond)
	for time.Now().Before(deadline) {
		produce(t, addrs, rec("t", 0, `{"id":1,"p":0}`))
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "idle splits 1 and 2", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.idle[1] > 0 && out.idle[2] > 0
	})
	if err := stop(); err != context.Canceled {
		t.Fatal(err)
	}
	if out.idle[0] != 0 {
		t.Fatalf("busy split 0 reported idle %d times", out.idle[0])
	}
	if out.idle[1] != 1 {
		t.Fatalf("split 1 reported idle %d times, want once", out.idle[1])
	}
}

func TestReadCommitted(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := newKgo(t, addrs, kgo.TransactionalID("tx1"))
	txn := func(commit bool, ids ...int) {
		var rs []*kgo.Record
		for _, id := range ids {
			rs = append(rs, rec("t", int32(id%2), fmt.Sprintf(`{"id":%d,"p":%d}`, id, id%2)))
		}
		produceTxn(ctx, t, cl, commit, rs...)
	}
	txn(true, 1, 2, 3)
	txn(false, 10, 11, 12, 13)
	txn(true, 4, 5)
	txn(false, 20, 21)
	txn(true, 6)
	produce(t, addrs, rec("t", 0, `{"id":100,"p":0}`)) // non-transactional
	src, _ := create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "isolation.level", "read_committed"), 0, 1)
	got := mustRunBounded(t, src).ids()
	if want := "[1 2 3 4 5 6 100]"; fmt.Sprint(got) != want {
		t.Fatalf("read_committed: got %v, want %s", got, want)
	}
	src, _ = create(t, table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset"), 0, 1)
	if got := mustRunBounded(t, src).ids(); len(got) != 13 {
		t.Fatalf("read_uncommitted: got %v, want all 13 data records", got)
	}
}

func TestCancelPrompt(t *testing.T) {
	_, addrs := newCluster(t, 4, "t")
	src, _ := create(t, table(addrs, "t", idSchema), 0, 1)
	_, stop := runAsync(t, src)
	waitStarted(t, src)
	start := time.Now()
	if err := stop(); err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Run took %v to return", d)
	}
}

func TestBadOptions(t *testing.T) {
	c, _ := connectors.Lookup("kafka")
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{[]string{"properties.bootstrap.servers", ""}, "needs option 'properties.bootstrap.servers'"},
		{[]string{"topic", ""}, "needs option 'topic'"},
		{[]string{"format", "avro"}, "unknown format 'avro'"},
		{[]string{"scan.startup.mode", "sometime"}, "option 'scan.startup.mode' must be"},
		{[]string{"scan.startup.mode", "timestamp"}, "needs option 'scan.startup.timestamp-millis'"},
		{[]string{"scan.startup.mode", "specific-offsets", "scan.startup.specific-offsets", "p:1"}, "scan.startup.specific-offsets"},
		{[]string{"on-error", "dead-letter"}, "needs option 'dead-letter.topic'"},
		{[]string{"isolation.level", "serializable"}, "option 'isolation.level' must be"},
		{[]string{"bogus", "1"}, "unknown option 'bogus'"},
	} {
		_, err := c.NewSource(table("127.0.0.1:1", "t", idSchema, tc.kv...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.kv, err, tc.want)
		}
	}
}

// TestBrokerGoneMidRun stops the broker while an unbounded source runs and
// restarts it on the same port and data directory: the source retries and
// reads every record exactly once.
func TestBrokerGoneMidRun(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := func() *kfake.Cluster {
		var c *kfake.Cluster
		var err error
		for i := 0; i < 50; i++ { // the port may take a moment to free
			if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(2, "t")); err == nil {
				return c
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal(err)
		return nil
	}
	c := start()
	addrs := strings.Join(c.ListenAddrs(), ",")
	produceN(t, addrs, "t", 2, 50, 0)
	src, _ := create(t, table(addrs, "t", idSchema), 0, 1)
	out, stop := runAsync(t, src)
	waitFor(t, "100 rows", func() bool { return out.count() == 100 })
	c.Close()
	time.Sleep(500 * time.Millisecond) // the source is retrying now
	c = start()
	defer c.Close()
	produceN(t, addrs, "t", 2, 50, 100)
	waitFor(t, "200 rows", func() bool { return out.count() >= 200 })
	time.Sleep(200 * time.Millisecond)
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
	if o := src.Offsets(); o[0] != 100 || o[1] != 100 {
		t.Fatalf("offsets = %v", o)
	}
}

// TestLeaderMoves shuffles partition leaders across 3 brokers while
// records are produced and read: every record arrives exactly once.
func TestLeaderMoves(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := strings.Join(c.ListenAddrs(), ",")
	src, _ := create(t, table(addrs, "t", idSchema), 0, 1)
	out, stop := runAsync(t, src)
	waitStarted(t, src)
	for round := 0; round < 5; round++ {
		produceN(t, addrs, "t", 4, 50, round*100)
		c.ShufflePartitionLeaders()
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, "1000 rows", func() bool { return out.count() >= 1000 })
	time.Sleep(200 * time.Millisecond)
	if err := stop(); err != context.Canceled {
		t.Fatal(err)
	}
	ids := out.ids()
	if len(ids) != 1000 {
		t.Fatalf("got %d rows, want 1000", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("record %d read twice", ids[i])
		}
	}
}

// produceTxn writes recs in one transaction of cl and commits or aborts it.
func produceTxn(ctx context.Context, t *testing.T, cl *kgo.Client, commit bool, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}
