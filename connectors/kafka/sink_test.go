package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

func newTestCluster(t *testing.T, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func sinkTable(addr, topic string, pk []int, opts ...string) *connectors.Table {
	t := &connectors.Table{
		Name: "out",
		Schema: types.Schema{Cols: []types.Column{
			{Name: "id", Type: types.TBigInt}, {Name: "name", Type: types.TVarchar, Nullable: true}}},
		Options: map[string]string{
			"connector": "kafka", OptBootstrap: addr, OptTopic: topic, OptFormat: "json"},
		PrimaryKey: pk,
		RowtimeCol: -1,
	}
	for i := 0; i+1 < len(opts); i += 2 {
		t.Options[opts[i]] = opts[i+1]
	}
	return t
}

func testFactory(t *testing.T, tbl *connectors.Table) *SinkFactory {
	t.Helper()
	c, err := parseCommon(tbl)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newSinkFactory(tbl, c)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*SinkFactory)
}

func row(id int64, name string) types.Row {
	return types.Row{types.BigIntValue(id), types.StringValue(name)}
}

// readAll reads every record of topic, per partition, up to the high
// watermark at the time of the call.
func readAll(t *testing.T, addr, topic string) map[int][]kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := &kafkago.Client{Addr: kafkago.TCP(addr)}
	md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]kafkago.Message{}
	for _, p := range md.Topics[0].Partitions {
		conn, err := kafkago.DialLeader(ctx, "tcp", addr, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		if err := r.SetOffset(0); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading %s/%d: %v", topic, p.ID, err)
			}
			out[p.ID] = append(out[p.ID], m)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

func TestSinkAppendKeysAndPartitions(t *testing.T) {
	c := newTestCluster(t, 4, "t")
	addr := c.ListenAddrs()[0]
	f := testFactory(t, sinkTable(addr, "t", nil, OptKeyFields, "id"))
	if f.AcceptsUpdates() {
		t.Fatal("append sink accepts updates")
	}
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for b := 0; b < 5; b++ {
		var batch types.Batch
		for i := 0; i < 200; i++ {
			id := int64(i % 37)
			name := fmt.Sprintf("n%d_%d", b, i)
			batch.Append(row(id, name), types.Insert)
			k := fmt.Sprintf(`{"id":%d}`, id)
			want[k] = append(want[k], fmt.Sprintf(`{"id":%d,"name":"%s"}`, id, name))
		}
		if err := s.Write(&batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	partOf := map[string]int{}
	n := 0
	for p, msgs := range readAll(t, addr, "t") {
		for _, m := range msgs {
			k := string(m.Key)
			if q, ok := partOf[k]; ok && q != p {
				t.Fatalf("key %s in partitions %d and %d", k, q, p)
			}
			partOf[k] = p
			// Java-compatible: murmur2(key) mod partitions
			if e := (kafkago.Murmur2Balancer{}).Balance(kafkago.Message{Key: m.Key}, 0, 1, 2, 3); e != p {
				t.Fatalf("key %s in partition %d, murmur2 says %d", k, p, e)
			}
			got[k] = append(got[k], string(m.Value))
			n++
		}
	}
	if n != 1000 {
		t.Fatalf("read %d records, want 1000", n)
	}
	used := map[int]bool{}
	for k, w := range want {
		if strings.Join(got[k], "\n") != strings.Join(w, "\n") {
			t.Fatalf("key %s: got %v want %v", k, got[k], w)
		}
		used[partOf[k]] = true
	}
	if len(used) < 2 {
		t.Fatalf("37 keys went to %d partition(s)", len(used))
	}
}

func TestSinkAppendNoKeyRoundRobin(t *testing.T) {
	c := newTestCluster(t, 3, "t")
	addr := c.ListenAddrs()[0]
	f := testFactory(t, sinkTable(addr, "t", nil, OptFormat, "csv", OptSinkBatchTimeout, "2ms"))
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var batch types.Batch
	for i := 0; i < 30; i++ {
		batch.Append(row(int64(i), "x"), types.Insert)
	}
	if err := s.Write(&batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	all := readAll(t, addr, "t")
	for p := 0; p < 3; p++ {
		if len(all[p]) != 10 {
			t.Fatalf("partition %d has %d records, want 10", p, len(all[p]))
		}
		for _, m := range all[p] {
			if m.Key != nil || !strings.HasSuffix(string(m.Value), ",x") {
				t.Fatalf("record key %q value %q", m.Key, m.Value)
			}
		}
	}
}

func TestSinkUpsertCompactedView(t *testing.T) {
	c := newTestCluster(t, 2, "u")
	addr := c.ListenAddrs()[0]
	f := testFactory(t, sinkTable(addr, "u", []int{0}))
	if !f.AcceptsUpdates() {
		t.Fatal("upsert sink does not accept updates")
	}
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var b1, b2 types.Batch
	b1.Append(row(1, "a"), types.Insert)
	b1.Append(row(2, "b"), types.Insert)
	b1.Append(row(3, "c"), types.Insert)
	b1.Append(row(1, "a"), types.UpdateBefore)
	b1.Append(row(1, "a2"), types.UpdateAfter)
	if err := s.Write(&b1); err != nil {
		t.Fatal(err)
	}
	b2.Append(row(2, "b"), types.Delete)
	b2.Append(row(3, "c"), types.UpdateBefore)
	b2.Append(row(3, "c2"), types.UpdateAfter)
	b2.Append(row(4, "d"), types.Insert)
	b2.Append(row(4, "d"), types.Delete)
	b2.Append(row(5, "e"), types.Insert)
	if err := s.Write(&b2); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	view := map[string]string{}
	n, tombs := 0, 0
	for _, msgs := range readAll(t, addr, "u") {
		for _, m := range msgs {
			n++
			if m.Value == nil {
				tombs++
				delete(view, string(m.Key))
			} else {
				view[string(m.Key)] = string(m.Value)
			}
		}
	}
	want := map[string]string{
		`{"id":1}`: `{"id":1,"name":"a2"}`,
		`{"id":3}`: `{"id":3,"name":"c2"}`,
		`{"id":5}`: `{"id":5,"name":"e"}`,
	}
	if fmt.Sprint(view) != fmt.Sprint(want) {
		t.Fatalf("compacted view\n got %v\nwant %v", view, want)
	}
	if n != 9 || tombs != 2 { // -U rows are skipped
		t.Fatalf("%d records, %d tombstones; want 9 and 2", n, tombs)
	}
}

func TestSinkAppendRejectsRetractions(t *testing.T) {
	c := newTestCluster(t, 1, "t")
	f := testFactory(t, sinkTable(c.ListenAddrs()[0], "t", nil))
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	var b types.Batch
	b.Append(row(1, "a"), types.Delete)
	if err := s.Write(&b); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("got %v", err)
	}
}

func TestSinkDeliveryFailureSurfaces(t *testing.T) {
	c := newTestCluster(t, 2, "f")
	addr := c.ListenAddrs()[0]
	f := testFactory(t, sinkTable(addr, "f", nil, OptKeyFields, "id"))
	f.maxAttempts = 2
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	write := func(from int) error {
		var b types.Batch
		for i := 0; i < 100; i++ {
			b.Append(row(int64(from+i), "v"), types.Insert)
		}
		return s.Write(&b)
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	if err := s.(*Sink).prod.Flush(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var werr error
	for i := 1; i < 50 && werr == nil; i++ {
		werr = write(i * 100)
		time.Sleep(5 * time.Millisecond)
	}
	ferr := s.Finish()
	err = werr
	if err == nil {
		err = ferr
	}
	if err == nil {
		t.Fatal("writes to a closed cluster succeeded silently")
	}
	if ferr == nil {
		t.Fatalf("Finish succeeded after a failed write (%v)", werr)
	}
	if !strings.Contains(err.Error(), "'f'") {
		t.Fatalf("error does not name the topic: %v", err)
	}
	t.Logf("write error: %v; finish error: %v", werr, ferr)
}

func TestSinkMissingTopic(t *testing.T) {
	c := newTestCluster(t, 1, "other")
	addr := c.ListenAddrs()[0]
	f := testFactory(t, sinkTable(addr, "nope", nil))
	_, err := f.Create(0, 1)
	if err == nil || !strings.Contains(err.Error(), "topic 'nope' does not exist") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v", err)
	}

	// topic.create makes it
	f = testFactory(t, sinkTable(addr, "made", nil, OptTopicCreate, "true", OptTopicPartitions, "3"))
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var b types.Batch
	b.Append(row(1, "a"), types.Insert)
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.PartitionInfos("made")); n != 3 {
		t.Fatalf("created topic has %d partitions, want 3", n)
	}
}

func TestSinkBrokersUnreachable(t *testing.T) {
	f := testFactory(t, sinkTable("127.0.0.1:1", "t", nil))
	f.metaAttempts = 2
	f.metaBackoff = 10 * time.Millisecond
	_, err := f.Create(0, 1)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Kafka brokers 127.0.0.1:1") {
		t.Fatalf("got %v", err)
	}
}

func TestSinkOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		pk   []int
		opts []string
		want string
	}{
		{nil, []string{OptTransactionalIDPrefix, " "}, "must not be empty"},
		{nil, []string{OptTransactionTimeout, "forever"}, "must be a duration between 1 s and 24 h"},
		{nil, []string{OptDeliveryGuarantee, "maybe"}, "must be 'at-least-once' or 'exactly-once'"},
		{nil, []string{"sink.bogus", "1"}, "unknown option 'sink.bogus'"},
		{nil, []string{OptTopicPartitions, "0"}, "between 1 and"},
		{nil, []string{OptSinkBatchTimeout, "soon"}, "must be a duration"},
		{[]int{0}, []string{OptKeyFields, "name"}, "record key is the primary key (id)"},
		{nil, []string{OptKeyFields, "name", OptKeyFormat, "raw", OptFormat, "raw"}, "format 'raw' needs exactly one column"},
	} {
		tbl := sinkTable("127.0.0.1:1", "t", tc.pk, tc.opts...)
		c, err := parseCommon(tbl)
		if err == nil {
			_, err = newSinkFactory(tbl, c)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
	// raw key is fine for one column
	tbl := sinkTable("127.0.0.1:1", "t", nil, OptKeyFields, "name", OptKeyFormat, "raw", OptSinkParallelism, "2")
	f := testFactory(t, tbl)
	if f.MaxParallelism() != 2 {
		t.Fatal(f.MaxParallelism())
	}
}

func TestSinkBackPressureAndAbort(t *testing.T) {
	c := newTestCluster(t, 1, "t")
	f := testFactory(t, sinkTable(c.ListenAddrs()[0], "t", nil))
	f.abortWaitTime = 200 * time.Millisecond
	s, err := f.Create(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var b types.Batch
	b.Append(row(1, "a"), types.Insert)
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Abort()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Abort took %s", d)
	}
}
