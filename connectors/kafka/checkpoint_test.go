package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	wexec "github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Checkpointing tests (issue 4): source positions and Resume, the
// transactional sink's two-phase commit, recovery and fencing, against
// kfake in-process. Waits poll with a deadline.

// ---------------------------------------------------------------- source

// posOut is a SourceOutput that implements exec.PositionOutput: it records
// every position and checks that positions never go back.
type posOut struct {
	fakeOut
	pmu      sync.Mutex
	pos      map[int]int64 // split → position
	emits    []posEmit
	names    map[int]string // splits added by AddNamedSplit
	plain    int            // Emit calls without a position (must stay 0)
	backward []string
}

type posEmit struct {
	split int
	next  int64
	rows  []types.Row
}

func newPosOut(splits int) *posOut {
	return &posOut{fakeOut: fakeOut{n: splits}, pos: map[int]int64{}, names: map[int]string{}}
}

func (o *posOut) Emit(split int, b *types.Batch) error {
	o.pmu.Lock()
	o.plain++
	o.pmu.Unlock()
	return o.fakeOut.Emit(split, b)
}

func (o *posOut) EmitAt(split int, b *types.Batch, next int64) error {
	if err := o.fakeOut.Emit(split, b); err != nil {
		return err
	}
	o.pmu.Lock()
	defer o.pmu.Unlock()
	o.setLocked(split, next)
	o.emits = append(o.emits, posEmit{split: split, next: next, rows: append([]types.Row(nil), b.Rows...)})
	return nil
}

func (o *posOut) SetPosition(split int, next int64) {
	o.pmu.Lock()
	defer o.pmu.Unlock()
	o.setLocked(split, next)
}

func (o *posOut) setLocked(split int, next int64) {
	if prev, ok := o.pos[split]; ok && next < prev {
		o.backward = append(o.backward, fmt.Sprintf("split %d: %d after %d", split, next, prev))
	}
	o.pos[split] = next
}

func (o *posOut) AddNamedSplit(name string) int {
	split := o.fakeOut.AddSplit()
	o.pmu.Lock()
	o.names[split] = name
	o.pmu.Unlock()
	return split
}

func (o *posOut) position(split int) (int64, bool) {
	o.pmu.Lock()
	defer o.pmu.Unlock()
	p, ok := o.pos[split]
	return p, ok
}

func (o *posOut) check(t *testing.T) {
	t.Helper()
	o.pmu.Lock()
	defer o.pmu.Unlock()
	if o.plain != 0 {
		t.Errorf("%d batches emitted without a position (Emit instead of EmitAt)", o.plain)
	}
	if len(o.backward) > 0 {
		t.Errorf("positions went back: %v", o.backward)
	}
}

var _ wexec.PositionOutput = (*posOut)(nil)

func runPos(t *testing.T, src *Source) (*posOut, error) {
	t.Helper()
	out := newPosOut(src.Splits())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := src.Run(ctx, out)
	return out, err
}

var offSchema = types.Schema{Cols: []types.Column{
	{Name: "id", Type: types.TBigInt, Nullable: true}, {Name: "p", Type: types.TBigInt, Nullable: true},
	{Name: "off", Type: types.TBigInt}}}

// TestSourcePositions: every batch is emitted with EmitAt and the offset
// after its last record; a skipped bad record advances the position too.
func TestSourcePositions(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	produceN(t, addrs, "t", 2, 25, 0)
	produce(t, addrs, rec("t", 1, `{"id":"x"`)) // offset 25 of partition 1: skipped
	src, _ := create(t, table(addrs, "t", offSchema, "scan.bounded.mode", "latest-offset", "batch-size", "7",
		"on-error", "skip", "metadata.columns", "off", "metadata.off", "offset"), 0, 1)
	if got := fmt.Sprint(src.SplitNames()); got != "[0 1]" {
		t.Fatalf("SplitNames = %s", got)
	}
	out, err := runPos(t, src)
	if err != nil {
		t.Fatal(err)
	}
	out.check(t)
	if out.count() != 50 {
		t.Fatalf("got %d rows, want 50", out.count())
	}
	for _, e := range out.emits {
		last := e.rows[len(e.rows)-1][2].I
		if e.split == 0 && e.next != last+1 {
			t.Fatalf("split 0: batch ending at offset %d emitted with position %d", last, e.next)
		}
		if e.next <= last {
			t.Fatalf("split %d: batch ending at offset %d emitted with position %d", e.split, last, e.next)
		}
		if len(e.rows) > 7 {
			t.Fatalf("batch of %d rows", len(e.rows))
		}
	}
	if p, _ := out.position(0); p != 25 {
		t.Fatalf("partition 0 position %d, want 25", p)
	}
	if p, _ := out.position(1); p != 26 {
		t.Fatalf("partition 1 position %d, want 26 (after the skipped record)", p)
	}
}

// TestSourcePositionsPastTxnMarkers reads a transactional topic
// read_committed: aborted records and commit/abort markers give no rows
// but move the position to the end of the log.
func TestSourcePositionsPastTxnMarkers(t *testing.T) {
	_, addrs := newCluster(t, 1, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := newKgo(t, addrs, kgo.TransactionalID("tx-pos"))
	txn := func(commit bool, ids ...int) {
		var rs []*kgo.Record
		for _, id := range ids {
			rs = append(rs, rec("t", 0, fmt.Sprintf(`{"id":%d,"p":0}`, id)))
		}
		produceTxn(ctx, t, cl, commit, rs...)
	}
	txn(true, 1, 2, 3) // offsets 0-2, commit marker 3
	txn(false, 10, 11) // 4-5, abort marker 6
	txn(true, 4)       // 7, commit marker 8
	hw := endOffsets(t, addrs, "t", false)[0]
	if hw != 9 {
		t.Fatalf("high watermark %d, want 9", hw)
	}
	src, _ := create(t, table(addrs, "t", idSchema, "isolation.level", "read_committed"), 0, 1)
	out := newPosOut(src.Splits())
	rctx, rcancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- src.Run(rctx, out) }()
	waitFor(t, "position 9", func() bool { p, _ := out.position(0); return p == 9 })
	rcancel()
	if err := <-errc; err != context.Canceled {
		t.Fatal(err)
	}
	out.check(t)
	if got := fmt.Sprint(out.ids()); got != "[1 2 3 4]" {
		t.Fatalf("rows %s, want [1 2 3 4]", got)
	}
}

// TestSourceDiscoveredSplitsNamed: partitions found while running are
// added with their names.
func TestSourceDiscoveredSplitsNamed(t *testing.T) {
	_, addrs := newCluster(t, 1, "t")
	src, _ := create(t, table(addrs, "t", idSchema, "scan.topic-partition-discovery.interval", "100 ms"), 0, 1)
	out := newPosOut(src.Splits())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, out) }()
	waitFor(t, "start", func() bool { _, ok := out.position(0); return ok })
	cl := &kafka.Client{Addr: kafka.TCP(strings.Split(addrs, ",")...)}
	if _, err := cl.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: "t", Count: 3}}}); err != nil {
		t.Fatal(err)
	}
	produce(t, addrs, rec("t", 2, `{"id":2000,"p":2}`))
	waitFor(t, "the row of partition 2", func() bool { return out.count() == 1 })
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatal(err)
	}
	out.check(t)
	if fmt.Sprint(out.names) != "map[1:1 2:2]" {
		t.Fatalf("named splits %v, want map[1:1 2:2]", out.names)
	}
	if p, _ := out.position(2); p != 1 {
		t.Fatalf("split 2 (partition 2) position %d, want 1", p)
	}
}

// TestSourceResume: each subtask takes the positions of its own
// partitions from all recorded ones, overriding the startup mode.
func TestSourceResume(t *testing.T) {
	_, addrs := newCluster(t, 2, "t")
	produceN(t, addrs, "t", 2, 10, 0)
	tb := table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "scan.startup.mode", "latest-offset")
	pos := map[string]int64{"0": 3, "1": 6}
	want := []string{"[3 4 5 6 7 8 9]", "[1006 1007 1008 1009]"}
	for i := 0; i < 2; i++ {
		src, sf := create(t, tb, i, 2)
		if err := src.Resume(pos); err != nil {
			t.Fatal(err)
		}
		if sf.Config().StartOffsets != nil {
			t.Fatalf("Resume changed the factory's configuration: %v", sf.Config().StartOffsets)
		}
		if got := fmt.Sprint(src.SplitNames()); got != fmt.Sprintf("[%d]", i) {
			t.Fatalf("subtask %d: SplitNames = %s", i, got)
		}
		out, err := runPos(t, src)
		if err != nil {
			t.Fatal(err)
		}
		out.check(t)
		if got := fmt.Sprint(out.ids()); got != want[i] {
			t.Fatalf("subtask %d read %s, want %s", i, got, want[i])
		}
		if p, _ := out.position(0); p != 10 {
			t.Fatalf("subtask %d: position %d, want 10", i, p)
		}
	}
	// a recorded partition the topic does not have: its owner fails
	src, _ := create(t, tb, 1, 2)
	err := src.Resume(map[string]int64{"0": 1, "1": 1, "5": 7})
	var gone *OffsetGoneError
	if !errors.As(err, &gone) || gone.Partition != 5 || gone.Offset != 7 || gone.Earliest != -1 {
		t.Fatalf("err = %v, want an OffsetGoneError for partition 5", err)
	}
	t.Log(err)
	src, _ = create(t, tb, 0, 2)
	if err := src.Resume(map[string]int64{"5": 7}); err != nil {
		t.Fatalf("subtask 0 does not own partition 5: %v", err)
	}
	if err := src.Resume(map[string]int64{"data.csv": 7}); err == nil || !strings.Contains(err.Error(), "not a partition number") {
		t.Fatalf("err = %v", err)
	}
}

// TestSourceResumeOffsetGone: a checkpointed offset below the log start
// (deleted by retention) or above the high watermark fails the source
// with an OffsetGoneError naming topic, partition, offset and range.
func TestSourceResumeOffsetGone(t *testing.T) {
	_, addrs := newCluster(t, 1, "t")
	produceN(t, addrs, "t", 1, 10, 0)
	deleteRecords(t, addrs, "t", 0, 5)
	tb := table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset", "scan.offset-reset", "earliest")
	for _, tc := range []struct {
		off  int64
		want string
	}{
		{2, "kafka source src: checkpoint offset 2 of partition 0 is no longer in the topic (available 5..10): topic t deleted the records before offset 5"},
		{50, "kafka source src: checkpoint offset 50 of partition 0 is no longer in the topic (available 5..10): it is beyond the end of topic t"},
	} {
		src, _ := create(t, tb, 0, 1)
		if err := src.Resume(map[string]int64{"0": tc.off}); err != nil {
			t.Fatal(err)
		}
		out, err := runPos(t, src)
		var gone *OffsetGoneError
		if !errors.As(err, &gone) {
			t.Fatalf("offset %d: err = %v, want an OffsetGoneError", tc.off, err)
		}
		if gone.Topic != "t" || gone.Partition != 0 || gone.Offset != tc.off || gone.Earliest != 5 || gone.Latest != 10 {
			t.Fatalf("offset %d: %+v", tc.off, *gone)
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Fatalf("offset %d: err = %q, want prefix %q", tc.off, err, tc.want)
		}
		if out.count() != 0 {
			t.Fatalf("offset %d: read %d rows before failing", tc.off, out.count())
		}
	}
	// the ends of the range are fine
	for off, want := range map[int64]string{5: "[5 6 7 8 9]", 10: "[]"} {
		src, _ := create(t, tb, 0, 1)
		if err := src.Resume(map[string]int64{"0": off}); err != nil {
			t.Fatal(err)
		}
		out, err := runPos(t, src)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		if got := fmt.Sprint(out.ids()); got != want {
			t.Fatalf("offset %d: read %s, want %s", off, got, want)
		}
	}
}

// ---------------------------------------------------------------- sink

var sinkSchema = types.Schema{Cols: []types.Column{{Name: "id", Type: types.TBigInt}, {Name: "name", Type: types.TVarchar, Nullable: true}}}

// eoSink makes subtask i of p of a new sink factory (a new job instance);
// cancel stops its producer without Abort (a crash).
func eoSink(t *testing.T, addr, topic string, i, p int, opts ...string) (s *Sink, cancel context.CancelFunc) {
	t.Helper()
	f := testFactory(t, sinkTable(addr, topic, nil, opts...))
	sk, err := f.Create(i, p)
	if err != nil {
		t.Fatal(err)
	}
	s = sk.(*Sink)
	ctx, cancel := context.WithCancel(context.Background())
	s.SetContext(ctx)
	t.Cleanup(cancel)
	return s, cancel
}

func rowsBatch(from, n int) *types.Batch {
	var b types.Batch
	for i := from; i < from+n; i++ {
		b.Append(row(int64(i), fmt.Sprintf("n%d", i)), types.Insert)
	}
	return &b
}

func mustWrite(t *testing.T, s *Sink, from, n int) {
	t.Helper()
	if err := s.Write(rowsBatch(from, n)); err != nil {
		t.Fatal(err)
	}
}

// idRange is "[from .. to-1]" as fmt prints a sorted []int64.
func idRange(from, to int) string {
	ids := make([]int64, 0, to-from)
	for i := from; i < to; i++ {
		ids = append(ids, int64(i))
	}
	return fmt.Sprint(ids)
}

// readIDs reads the topic to its end with Weir's own source: committed
// (read_committed, up to the last stable offset) or everything.
func readIDs(t *testing.T, addr, topic string, committed bool) []int64 {
	t.Helper()
	iso := "read_uncommitted"
	if committed {
		iso = "read_committed"
	}
	src, _ := create(t, table(addr, topic, sinkSchema, "scan.bounded.mode", "latest-offset", "isolation.level", iso), 0, 1)
	return mustRunBounded(t, src).ids()
}

// endOffsets returns every partition's high watermark, or with committed
// its last stable offset.
func endOffsets(t *testing.T, addr, topic string, committed bool) map[int]int64 {
	t.Helper()
	m := newMetaClient(commonConfig{Table: "check", Brokers: strings.Split(addr, ","), Topic: topic})
	defer m.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	parts, err := m.partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := m.listOffsets(ctx, parts, offLatest, 0, committed)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

// stable reports whether every partition's last stable offset has reached
// its high watermark (no transaction open).
func stable(t *testing.T, addr, topic string) bool {
	hw, lso := endOffsets(t, addr, topic, false), endOffsets(t, addr, topic, true)
	for p := range hw {
		if lso[p] != hw[p] {
			return false
		}
	}
	return true
}

// kcatCommitted reads the topic with kcat (librdkafka) in read_committed
// mode and returns the values, sorted.
func kcatCommitted(t *testing.T, addr, topic string) []string {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Log("kcat is not installed: no cross-check with librdkafka")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", topic, "-e", "-q",
		"-X", "isolation.level=read_committed", "-f", `%s\n`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	s := strings.TrimRight(string(outb), "\n")
	if s == "" {
		return []string{}
	}
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return lines
}

func handleOf(t *testing.T, data []byte) txnHandle {
	t.Helper()
	h, err := decodeHandle(data)
	if err != nil {
		t.Fatalf("handle %s: %v", data, err)
	}
	return h
}

// TestEncodeTxnBatch checks the patched record batch with franz-go's
// decoder: producer id, epoch, base sequence, transactional attribute and
// a valid CRC-32C.
func TestEncodeTxnBatch(t *testing.T) {
	msgs := []kafka.Message{{Key: []byte("k"), Value: []byte("v1"), Time: time.UnixMilli(1_700_000_000_000)}, {Value: []byte("v2"), Time: time.UnixMilli(1_700_000_000_001)}}
	raw, err := encodeTxnBatch(msgs, 123456789, 7, 42)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(raw.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if n := int(binary.BigEndian.Uint32(data)); n != len(data)-4 {
		t.Fatalf("record set size %d, have %d bytes", n, len(data)-4)
	}
	var b kmsg.RecordBatch
	if err := b.ReadFrom(data[4:]); err != nil {
		t.Fatal(err)
	}
	if b.ProducerID != 123456789 || b.ProducerEpoch != 7 || b.FirstSequence != 42 || b.NumRecords != 2 || b.Attributes&0x10 == 0 {
		t.Fatalf("batch header %+v", b)
	}
	if crc := int32(crc32.Checksum(data[4+21:], crc32.MakeTable(crc32.Castagnoli))); crc != b.CRC {
		t.Fatalf("CRC %x, computed %x", b.CRC, crc)
	}
	if nextSeq(1<<31-2, 3) != 1 {
		t.Fatalf("sequence does not wrap: %d", nextSeq(1<<31-2, 3))
	}
}

// TestSinkExactlyOnceCommit: pre-committed rows are durable but invisible
// to read_committed readers (Weir's source, kcat) until Commit; rows
// written between PreCommit and Commit go at once into the next
// transaction, under the subtask's next transactional id.
func TestSinkExactlyOnceCommit(t *testing.T) {
	c := newTestCluster(t, 3, "eo")
	addr := c.ListenAddrs()[0]
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, nil)
	mustWrite(t, s, 0, 100)
	hb, err := s.PreCommit(1)
	if err != nil {
		t.Fatal(err)
	}
	h := handleOf(t, hb)
	if h.V != 2 || h.Checkpoint != 1 || h.Topic != "eo" || h.Slots != txnSlots || len(h.Txns) != 1 ||
		h.Txns[0] != (txnRef{TxID: "weir-eo-0-0", ProducerID: h.Txns[0].ProducerID, Epoch: h.Txns[0].Epoch, Checkpoint: 1, Records: 100}) ||
		h.Txns[0].ProducerID < 0 {
		t.Fatalf("handle %s", hb)
	}
	if n := len(readIDs(t, addr, "eo", false)); n != 100 {
		t.Fatalf("after PreCommit %d records are in the topic, want 100", n)
	}
	if got := readIDs(t, addr, "eo", true); len(got) != 0 {
		t.Fatalf("read_committed sees %d records before Commit", len(got))
	}
	if stable(t, addr, "eo") {
		t.Fatal("the last stable offset is at the high watermark while a transaction is open")
	}
	if got := kcatCommitted(t, addr, "eo"); got != nil && len(got) != 0 {
		t.Fatalf("kcat read_committed sees %d records before Commit", len(got))
	}

	mustWrite(t, s, 100, 50) // after the barrier: the next transaction
	if err := s.prod.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(readIDs(t, addr, "eo", false)); n != 150 {
		t.Fatalf("%d records in the topic, want 150 (rows after the pre-commit are sent)", n)
	}
	if err := s.Commit(1); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 100) {
		t.Fatalf("after Commit(1) read_committed sees %s", got)
	}
	if err := s.Commit(1); err != nil { // idempotent
		t.Fatal(err)
	}
	hb2, err := s.PreCommit(2)
	if err != nil {
		t.Fatal(err)
	}
	h2 := handleOf(t, hb2)
	if len(h2.Txns) != 1 || h2.Txns[0].Records != 50 || h2.Txns[0].TxID != "weir-eo-0-1" || h2.Txns[0].ProducerID == h.Txns[0].ProducerID {
		t.Fatalf("second transaction's handle %s (first %s): want 50 records under the next transactional id", hb2, hb)
	}
	if err := s.Commit(2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 150) {
		t.Fatalf("after Commit(2) read_committed sees %s", got)
	}
	mustWrite(t, s, 150, 10)
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 160) {
		t.Fatalf("after Finish read_committed sees %s", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("a transaction is still open after Finish")
	}
	if got := kcatCommitted(t, addr, "eo"); got != nil {
		if len(got) != 160 {
			t.Fatalf("kcat read_committed sees %d records, want 160", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				t.Fatalf("kcat sees %s twice", got[i])
			}
		}
	}
	if s.ck.commits != 3 {
		t.Fatalf("%d transactions committed, want 3", s.ck.commits)
	}
}

// TestSinkExactlyOnceAbortedCheckpoint: checkpoint 1 is aborted (no
// Commit(1)): checkpoint 2's handle names both pre-committed
// transactions, and Commit(2) commits both, but not the rows written
// after barrier 2.
func TestSinkExactlyOnceAbortedCheckpoint(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, nil)
	mustWrite(t, s, 0, 20)
	hb1, err := s.PreCommit(1)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s, 20, 30)
	hb2, err := s.PreCommit(2)
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := handleOf(t, hb1), handleOf(t, hb2)
	if len(h1.Txns) != 1 || len(h2.Txns) != 2 || h2.Checkpoint != 2 || h2.Txns[0] != h1.Txns[0] ||
		h2.Txns[1].Checkpoint != 2 || h2.Txns[1].Records != 30 || h2.Txns[1].TxID == h1.Txns[0].TxID {
		t.Fatalf("handles %s and %s: want checkpoint 1's transaction, then one of 30 records", hb1, hb2)
	}
	mustWrite(t, s, 50, 10) // after barrier 2
	if err := s.prod.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readIDs(t, addr, "eo", true); len(got) != 0 {
		t.Fatalf("read_committed sees %d records before Commit", len(got))
	}
	if err := s.Commit(2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 50) {
		t.Fatalf("after Commit(2) read_committed sees %s", got)
	}
	if err := s.Commit(1); err != nil { // late, older: nothing to do
		t.Fatal(err)
	}
	if s.ck.commits != 2 {
		t.Fatalf("%d transactions committed, want 2", s.ck.commits)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 60) {
		t.Fatalf("after Finish read_committed sees %s", got)
	}
}

// TestSinkExactlyOnceAbortsLeftoverOnRestart: a transaction left open by
// a crashed instance (never pre-committed) is aborted when a new instance
// with the same transactional id starts, and only the new rows appear.
func TestSinkExactlyOnceAbortsLeftoverOnRestart(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	old, crash := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, old, nil)
	mustWrite(t, old, 0, 40)
	if err := old.prod.Flush(); err != nil { // the records reach the broker
		t.Fatal(err)
	}
	crash()
	if n := len(readIDs(t, addr, "eo", false)); n != 40 {
		t.Fatalf("%d records in the topic, want 40", n)
	}
	if stable(t, addr, "eo") {
		t.Fatal("no transaction open after the crash")
	}

	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, []wexec.SinkHandle{{Subtask: 0}})
	if !stable(t, addr, "eo") {
		t.Fatal("the leftover transaction is still open after the new instance started")
	}
	if got := readIDs(t, addr, "eo", true); len(got) != 0 {
		t.Fatalf("read_committed sees %v: the leftover transaction was committed", got)
	}
	mustWrite(t, s, 1000, 5)
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(1000, 1005) {
		t.Fatalf("read_committed sees %s", got)
	}
}

// TestSinkExactlyOnceRecoverCommits: the instance crashes after its
// pre-commit (the checkpoint completed, Commit never came); the restored
// instance commits the transaction from the handle. A second restore from
// the same checkpoint, after the restored instance wrote more and crashed
// too, commits nothing more: its transaction has its own epoch.
func TestSinkExactlyOnceRecoverCommits(t *testing.T) {
	c := newTestCluster(t, 3, "eo")
	addr := c.ListenAddrs()[0]
	old, crash := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, old, nil)
	mustWrite(t, old, 0, 60)
	hb, err := old.PreCommit(5)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, old, 60, 10) // the next transaction: aborted by the restore, replayed by the source
	if err := old.prod.Flush(); err != nil {
		t.Fatal(err)
	}
	crash()
	if got := readIDs(t, addr, "eo", true); len(got) != 0 {
		t.Fatalf("read_committed sees %d records before the restore", len(got))
	}

	handles := []wexec.SinkHandle{{Subtask: 0, Data: hb}}
	s, crash2 := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, handles)
	if s.ck.recoverCommitted != 1 {
		t.Fatalf("recovered commits %d, want 1", s.ck.recoverCommitted)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 60) {
		t.Fatalf("after recovery read_committed sees %s", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("the crashed instance's open transaction is still open after the recovery")
	}
	// the restored instance writes (replays) and crashes before a checkpoint
	mustWrite(t, s, 60, 30)
	if err := s.prod.Flush(); err != nil {
		t.Fatal(err)
	}
	crash2()

	s3, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s3, handles)
	if s3.ck.recoverCommitted != 0 || s3.ck.recoverDone != 1 {
		t.Fatalf("second recovery: committed %d, already done %d; want 0 and 1", s3.ck.recoverCommitted, s3.ck.recoverDone)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 60) {
		t.Fatalf("after the second recovery read_committed sees %s (the crashed instance's open transaction must not be committed)", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("a transaction is still open after the second recovery")
	}
}

// TestSinkExactlyOnceRecoverAfterCommit: the handle of a checkpoint
// whose transaction was committed normally does not commit the next
// transaction, which the crash left open under the same transactional id.
func TestSinkExactlyOnceRecoverAfterCommit(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	old, crash := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, old, nil)
	mustWrite(t, old, 0, 10)
	hb, err := old.PreCommit(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Commit(1); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, old, 10, 10)
	if err := old.prod.Flush(); err != nil {
		t.Fatal(err)
	}
	crash()
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, []wexec.SinkHandle{{Subtask: 0, Data: hb}})
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 10) {
		t.Fatalf("read_committed sees %s, want only checkpoint 1's rows", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("the crashed instance's transaction is still open")
	}
}

// TestSinkExactlyOnceRescaleRecovery: restored at parallelism 1 from two
// old subtasks, the sink commits both handles and fences both ids.
func TestSinkExactlyOnceRescaleRecovery(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	var handles []wexec.SinkHandle
	for i := 0; i < 2; i++ {
		old, crash := eoSink(t, addr, "eo", i, 2)
		if err := old.StartCheckpointing(wexec.DeliveryExactlyOnce, nil); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, old, i*100, 10)
		hb, err := old.PreCommit(3)
		if err != nil {
			t.Fatal(err)
		}
		handles = append(handles, wexec.SinkHandle{Subtask: i, Data: hb})
		crash()
	}
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, handles)
	got := readIDs(t, addr, "eo", true)
	want := append(func() []int64 {
		var ids []int64
		for i := 0; i < 10; i++ {
			ids = append(ids, int64(i))
		}
		return ids
	}(), 100, 101, 102, 103, 104, 105, 106, 107, 108, 109)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read_committed sees %v", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("a transaction is still open")
	}
}

// TestSinkExactlyOnceZombieFenced: once a new instance has started with
// the same transactional id, the old one's commit and writes fail at once
// with a ProducerFencedError, without retrying.
func TestSinkExactlyOnceZombieFenced(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	zombie, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, zombie, nil)
	mustWrite(t, zombie, 0, 10)
	if _, err := zombie.PreCommit(1); err != nil {
		t.Fatal(err)
	}
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, []wexec.SinkHandle{{Subtask: 0}})
	start := time.Now()
	err := zombie.Commit(1)
	var fenced *ProducerFencedError
	if !errors.As(err, &fenced) || fenced.TransactionalID != "weir-eo-0-0" {
		t.Fatalf("zombie Commit: err = %v, want a ProducerFencedError", err)
	}
	if !strings.Contains(err.Error(), "was fenced: another producer with transactional id 'weir-eo-0-0' has started") {
		t.Fatalf("message: %v", err)
	}
	t.Log(err)
	zombie.Abort()

	// a zombie that keeps writing: its produce requests are refused
	z, _ := eoSink(t, addr, "eo", 1, 2, OptTransactionalIDPrefix, "zz")
	mustStartEO(t, z, nil)
	mustWrite(t, z, 0, 10)
	if _, err := z.PreCommit(1); err != nil {
		t.Fatal(err)
	}
	if err := z.Commit(1); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, z, 10, 10)
	if err := z.prod.Flush(); err != nil {
		t.Fatal(err)
	}
	n, _ := eoSink(t, addr, "eo", 1, 2, OptTransactionalIDPrefix, "zz")
	mustStartEO(t, n, nil)
	werr := z.Write(rowsBatch(20, 10))
	if werr == nil {
		_, werr = z.PreCommit(2)
	}
	if !errors.As(werr, &fenced) || fenced.TransactionalID != "zz-1-1" {
		t.Fatalf("zombie write: err = %v, want a ProducerFencedError", werr)
	}
	t.Log(werr)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("fencing took %v to surface", d)
	}
	z.Abort()
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 10) {
		t.Fatalf("read_committed sees %s, want the zombie's committed first transaction only", got)
	}
}

// TestSinkAtLeastOnceCheckpointing: PreCommit flushes (no handle), Commit
// does nothing, and no transaction is involved.
func TestSinkAtLeastOnceCheckpointing(t *testing.T) {
	c := newTestCluster(t, 2, "alo")
	addr := c.ListenAddrs()[0]
	// a long linger: without the flush nothing would be sent for a minute
	s, _ := eoSink(t, addr, "alo", 0, 1, OptSinkBatchTimeout, "1m", OptSinkBatchSize, "100000")
	if err := s.StartCheckpointing(wexec.DeliveryAtLeastOnce, nil); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s, 0, 30)
	h, err := s.PreCommit(1)
	if err != nil || h != nil {
		t.Fatalf("PreCommit = %q, %v; want no handle", h, err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "alo", false)); got != idRange(0, 30) {
		t.Fatalf("after PreCommit the topic holds %s", got)
	}
	if got := fmt.Sprint(readIDs(t, addr, "alo", true)); got != idRange(0, 30) {
		t.Fatalf("not transactional: read_committed must see everything, got %s", got)
	}
	if err := s.Commit(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}

	// 'at-least-once' on the table wins over an exactly-once job
	s2, _ := eoSink(t, addr, "alo", 0, 1, OptDeliveryGuarantee, "at-least-once")
	mustStartEO(t, s2, nil)
	mustWrite(t, s2, 30, 5)
	if h, err := s2.PreCommit(1); err != nil || h != nil {
		t.Fatalf("PreCommit = %q, %v", h, err)
	}
	if got := len(readIDs(t, addr, "alo", true)); got != 35 {
		t.Fatalf("read_committed sees %d records, want 35", got)
	}
	s2.Abort()

	// 'exactly-once' on the table needs exactly-once checkpoints
	s3, _ := eoSink(t, addr, "alo", 0, 1, OptDeliveryGuarantee, "exactly-once")
	if err := s3.StartCheckpointing(wexec.DeliveryAtLeastOnce, nil); err == nil || !strings.Contains(err.Error(), "needs exactly-once checkpoints") {
		t.Fatalf("err = %v", err)
	}
	s4, _ := eoSink(t, addr, "alo", 0, 1, OptDeliveryGuarantee, "exactly-once")
	if err := s4.Write(rowsBatch(0, 1)); err == nil || !strings.Contains(err.Error(), "this job does not checkpoint") {
		t.Fatalf("err = %v", err)
	}
	s4.Abort()
}

// TestSinkAtLeastOnceRestoreCommitsHandles: a job that checkpointed
// exactly-once and is restored at-least-once still commits the
// pre-committed transactions its checkpoint names.
func TestSinkAtLeastOnceRestoreCommitsHandles(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	old, crash := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, old, nil)
	mustWrite(t, old, 0, 10)
	hb, err := old.PreCommit(7)
	if err != nil {
		t.Fatal(err)
	}
	crash()
	s, _ := eoSink(t, addr, "eo", 0, 1)
	if err := s.StartCheckpointing(wexec.DeliveryAtLeastOnce, []wexec.SinkHandle{{Subtask: 0, Data: hb}}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 10) {
		t.Fatalf("read_committed sees %s", got)
	}
	mustWrite(t, s, 10, 5)
	if h, err := s.PreCommit(8); err != nil || h != nil {
		t.Fatalf("PreCommit = %q, %v", h, err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 15) {
		t.Fatalf("read_committed sees %s", got)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
}

// mustStartEO starts exactly-once checkpointing on s, recovering handles.
func mustStartEO(t *testing.T, s *Sink, handles []wexec.SinkHandle) {
	t.Helper()
	if err := s.StartCheckpointing(wexec.DeliveryExactlyOnce, handles); err != nil {
		t.Fatal(err)
	}
}

// lagOut blocks the source at its first batch until released.
type lagOut struct {
	*posOut
	first   chan struct{}
	release chan struct{}
	once    sync.Once
}

func (o *lagOut) EmitAt(split int, b *types.Batch, next int64) error {
	o.once.Do(func() {
		close(o.first)
		<-o.release
	})
	return o.posOut.EmitAt(split, b, next)
}

// TestSourceLag: the lag is what the partition's log holds beyond what
// the source emitted, as of its last fetch: 7 records while the first
// batch (from offset 3) is still being handed over, 0 at the end.
func TestSourceLag(t *testing.T) {
	_, addrs := newCluster(t, 1, "t")
	produceN(t, addrs, "t", 1, 10, 0)
	tb := table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset")
	src, _ := create(t, tb, 0, 1)
	if _, ok := src.Lag(); ok {
		t.Fatal("a lag before the first fetch")
	}
	if err := src.Resume(map[string]int64{"0": 3}); err != nil {
		t.Fatal(err)
	}
	out := &lagOut{posOut: newPosOut(src.Splits()), first: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), out) }()
	select {
	case <-out.first:
	case err := <-done:
		t.Fatalf("the source ended before emitting: %v", err)
	}
	if lag, ok := src.Lag(); !ok || lag != 7 {
		t.Errorf("lag while the first batch is emitted = %d, %v; want 7", lag, ok)
	}
	close(out.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if lag, ok := src.Lag(); !ok || lag != 0 {
		t.Errorf("lag at the end = %d, %v; want 0", lag, ok)
	}
}
