package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"

	wexec "github.com/weirsql/weir/exec"
)

// TestSinkExactlyOnceSavepointWhilePending: a savepoint (checkpoint 2) is
// pre-committed before checkpoint 1's Commit arrives. Commit(1) must make
// visible only the rows before barrier 1; after a crash and a restore from
// checkpoint 1, the rows between barriers 1 and 2 must never become visible
// (the source produces them again).
func TestSinkExactlyOnceSavepointWhilePending(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	old, crash := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, old, nil)
	mustWrite(t, old, 0, 20)
	hb1, err := old.PreCommit(1)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, old, 20, 30)                   // after barrier 1
	if _, err := old.PreCommit(2); err != nil { // the savepoint, while 1 is pending
		t.Fatal(err)
	}
	if err := old.Commit(1); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 20) {
		t.Fatalf("after Commit(1) read_committed sees %s, want only the rows before barrier 1", got)
	}
	crash() // checkpoint 2 never completes

	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, []wexec.SinkHandle{{Subtask: 0, Data: hb1}})
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 20) {
		t.Fatalf("after the restore from checkpoint 1 read_committed sees %s", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("the crashed instance's transaction of checkpoint 2 is still open after the restore")
	}
	mustWrite(t, s, 20, 30) // the source replays what followed barrier 1
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 50) {
		t.Fatalf("after the restored run read_committed sees %s, want every row once", got)
	}
}

// TestSinkExactlyOnceRestoreFromLaterCheckpoint: both checkpoints are
// pre-committed, neither Commit arrives before the crash: checkpoint 2's
// handle names both transactions (1 was aborted, or its completion had not
// reached the sink), and the restore from 2 commits both, once; the rows
// after barrier 2 stay invisible.
func TestSinkExactlyOnceRestoreFromLaterCheckpoint(t *testing.T) {
	for _, commit1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("commit1=%v", commit1), func(t *testing.T) {
			c := newTestCluster(t, 2, "eo")
			addr := c.ListenAddrs()[0]
			old, crash := eoSink(t, addr, "eo", 0, 1)
			mustStartEO(t, old, nil)
			mustWrite(t, old, 0, 20)
			if _, err := old.PreCommit(1); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, old, 20, 30)
			hb2, err := old.PreCommit(2)
			if err != nil {
				t.Fatal(err)
			}
			if commit1 {
				if err := old.Commit(1); err != nil {
					t.Fatal(err)
				}
			}
			mustWrite(t, old, 50, 10) // after barrier 2
			if err := old.prod.Flush(); err != nil {
				t.Fatal(err)
			}
			crash()

			s, _ := eoSink(t, addr, "eo", 0, 1)
			mustStartEO(t, s, []wexec.SinkHandle{{Subtask: 0, Data: hb2}})
			want := [2]int{2, 0} // recovery committed, already done
			if commit1 {
				want = [2]int{1, 1}
			}
			if got := [2]int{s.ck.recoverCommitted, s.ck.recoverDone}; got != want {
				t.Fatalf("recovered transactions committed, already done: %v, want %v", got, want)
			}
			if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 50) {
				t.Fatalf("after the restore from checkpoint 2 read_committed sees %s", got)
			}
			if !stable(t, addr, "eo") {
				t.Fatal("the transaction after barrier 2 is still open after the restore")
			}
		})
	}
}

// TestSinkExactlyOncePoolFull: when every transactional id of the subtask
// holds a transaction (txnSlots-1 checkpoints pre-committed without a
// Commit), PreCommit fails, saying why and what the restore does; the
// restore from the last completed checkpoint commits what it names and
// aborts the rest.
func TestSinkExactlyOncePoolFull(t *testing.T) {
	c := newTestCluster(t, 1, "eo")
	addr := c.ListenAddrs()[0]
	old, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, old, nil)
	var handles [][]byte
	for id := 1; id < txnSlots; id++ {
		mustWrite(t, old, (id-1)*10, 10)
		hb, err := old.PreCommit(uint64(id))
		if err != nil {
			t.Fatalf("PreCommit(%d): %v", id, err)
		}
		handles = append(handles, hb)
	}
	if _, err := old.PreCommit(txnSlots); err != nil { // nothing written: no new transaction needed
		t.Fatalf("PreCommit(%d) with nothing written: %v", txnSlots, err)
	}
	mustWrite(t, old, (txnSlots-1)*10, 10)
	_, err := old.PreCommit(txnSlots + 1)
	want := fmt.Sprintf("table out: the Kafka sink cannot pre-commit checkpoint %d: all %d transactional ids of subtask 0 ('weir-eo-0-0' to 'weir-eo-0-%d') hold transactions, %d of them pre-committed for checkpoints 1, 2, ",
		txnSlots+1, txnSlots, txnSlots-1, txnSlots-1)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "so no row is lost or written twice") {
		t.Fatalf("err = %v\nwant it to start with %s", err, want)
	}
	t.Log(err)
	old.Abort() // the job fails

	// checkpoint 3 was the last to complete
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, []wexec.SinkHandle{{Subtask: 0, Data: handles[2]}})
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 30) {
		t.Fatalf("after the restore from checkpoint 3 read_committed sees %s", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("transactions are still open after the restore")
	}
}

// TestSinkExactlyOnceFencesEverySlot: a restore at parallelism 1 aborts
// every transaction the old subtasks left open, in any slot: subtask 1's
// pre-committed transactions of checkpoint 2 (aborted) and its open one,
// and those of subtask 2 of an earlier run at parallelism 3 that has no
// handle (listed by the runtime's sink-parallelism padding).
func TestSinkExactlyOnceFencesEverySlot(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	// an earlier run at parallelism 3: subtask 2 died with a pre-committed
	// transaction and an open one
	gone, crashGone := eoSink(t, addr, "eo", 2, 3)
	mustStartEO(t, gone, nil)
	mustWrite(t, gone, 900, 5)
	if _, err := gone.PreCommit(1); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, gone, 905, 5)
	if err := gone.prod.Flush(); err != nil {
		t.Fatal(err)
	}
	crashGone()

	var handles []wexec.SinkHandle
	for i := 0; i < 2; i++ {
		old, crash := eoSink(t, addr, "eo", i, 2)
		mustStartEO(t, old, nil)
		mustWrite(t, old, i*100, 10)
		hb, err := old.PreCommit(3)
		if err != nil {
			t.Fatal(err)
		}
		handles = append(handles, wexec.SinkHandle{Subtask: i, Data: hb})
		mustWrite(t, old, i*100+10, 10)
		if _, err := old.PreCommit(4); err != nil { // never completes
			t.Fatal(err)
		}
		mustWrite(t, old, i*100+20, 10)
		if err := old.prod.Flush(); err != nil {
			t.Fatal(err)
		}
		crash()
	}
	handles = append(handles, wexec.SinkHandle{Subtask: 2})
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, handles)
	want := idRange(0, 10)
	want = want[:len(want)-1] + " " + idRange(100, 110)[1:]
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != want {
		t.Fatalf("read_committed sees %s, want %s", got, want)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("transactions are still open after the restore")
	}
}

// TestSinkExactlyOnceRecoversVersion1Handle: a checkpoint taken before the
// sink used several transactional ids per subtask has version 1 handles
// naming '<prefix>-<subtask>': the restore commits their transactions and
// aborts what those ids left open.
func TestSinkExactlyOnceRecoversVersion1Handle(t *testing.T) {
	c := newTestCluster(t, 2, "eo")
	addr := c.ListenAddrs()[0]
	old, crash := eoSink(t, addr, "eo", 0, 2)
	ctx := context.Background()
	// what the old sink left: subtask 0 pre-committed 10 rows for
	// checkpoint 3; subtask 1 had pre-committed nothing and then wrote
	// into its transaction
	var handles []wexec.SinkHandle
	for i, rows := range [][2]int{{0, 10}, {100, 5}} {
		txid := fmt.Sprintf("weir-eo-%d", i)
		pid, epoch, err := old.initProducer(ctx, txid, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		tx := newTxnState(txid, "out", "eo", pid, epoch)
		var msgs []kafka.Message
		for id := rows[0]; id < rows[0]+rows[1]; id++ {
			msgs = append(msgs, kafka.Message{Value: fmt.Appendf(nil, `{"id":%d,"name":"n%d"}`, id, id), Time: time.Now()})
		}
		if err := tx.produce(ctx, old.pp.cl, "eo", i, msgs); err != nil {
			t.Fatal(err)
		}
		records := int64(len(msgs))
		if i == 1 {
			records = 0
		}
		h, _ := json.Marshal(map[string]any{"v": 1, "transactional_id": txid, "producer_id": pid, "producer_epoch": epoch,
			"checkpoint": 3, "topic": "eo", "records": records})
		handles = append(handles, wexec.SinkHandle{Subtask: i, Data: h})
	}
	crash()
	if stable(t, addr, "eo") {
		t.Fatal("no transaction open before the restore")
	}
	s, _ := eoSink(t, addr, "eo", 0, 1)
	mustStartEO(t, s, handles)
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 10) {
		t.Fatalf("read_committed sees %s", got)
	}
	if !stable(t, addr, "eo") {
		t.Fatal("the version 1 transactional id's open transaction is still open after the restore")
	}
	mustWrite(t, s, 10, 5)
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readIDs(t, addr, "eo", true)); got != idRange(0, 15) {
		t.Fatalf("read_committed sees %s", got)
	}
}
