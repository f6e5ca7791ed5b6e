package kafka_test

// End-to-end pipeline tests: Kafka → Weir SQL → Kafka against an in-process
// kfake cluster, with every result compared as a multiset against the same
// query run by SQLite (modernc.org/sqlite) over the same rows.

import (
	"context"
	gosql "database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	_ "modernc.org/sqlite"

	_ "github.com/weirsql/weir/connectors/all"
	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

// pipeRow is one input record. k is never NULL (it is a group and primary
// key); g, x and d are NULL sometimes.
type pipeRow struct {
	ID int64
	K  int64
	G  *string
	X  *int64
	D  *float64 // a multiple of 0.25, so sums are exact in float64
	Ts int64    // ms since the epoch
}

// pipeInput makes n rows whose event times advance ~20 ms per row (with a
// few 7 s pauses) plus a jitter in [0, 3000) ms: the disorder stays below
// the 4 s watermark delay, so no row is late.
func pipeInput(n int, seed int64) []pipeRow {
	r := rand.New(rand.NewSource(seed))
	clock := int64(1767225600000) // 2026-01-01 00:00:00 UTC
	groups := []string{"a", "b", "c", "d", "e"}
	out := make([]pipeRow, 0, n)
	for i := 0; i < n; i++ {
		clock += 20
		if r.Intn(300) == 0 {
			clock += 7000
		}
		row := pipeRow{ID: int64(i), K: int64(r.Intn(8)), Ts: clock + int64(r.Intn(3000))}
		if r.Intn(6) > 0 {
			g := groups[r.Intn(len(groups))]
			row.G = &g
		}
		if r.Intn(7) > 0 {
			x := int64(r.Intn(1000)) - 200
			row.X = &x
		}
		if r.Intn(8) > 0 {
			d := float64(r.Intn(4000)) / 4
			row.D = &d
		}
		out = append(out, row)
	}
	return out
}

// json renders the row as a source record value; NULLs are written as null
// or left out, alternately.
func (p pipeRow) json() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `{"id":%d,"k":%d,"ts":"%s"`, p.ID, p.K, time.UnixMilli(p.Ts).UTC().Format(types.TimestampLayout))
	omit := p.ID%2 == 0
	if p.G != nil {
		fmt.Fprintf(&sb, `,"g":%q`, *p.G)
	} else if !omit {
		sb.WriteString(`,"g":null`)
	}
	if p.X != nil {
		fmt.Fprintf(&sb, `,"x":%d`, *p.X)
	} else if !omit {
		sb.WriteString(`,"x":null`)
	}
	if p.D != nil {
		fmt.Fprintf(&sb, `,"d":%s`, strconv.FormatFloat(*p.D, 'f', -1, 64))
	} else if !omit {
		sb.WriteString(`,"d":null`)
	}
	sb.WriteString("}")
	return sb.String()
}

// pipeCluster is a kfake cluster with the input topic filled and the
// output topics created.
type pipeCluster struct {
	c     *kfake.Cluster
	addr  string
	rows  []pipeRow
	db    *gosql.DB
	srcDD string // the source table's DDL
}

const (
	pipeInputTopic = "events"
	pipeRows       = 3000
)

func newPipeCluster(t *testing.T, outTopics ...string) *pipeCluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(4, pipeInputTopic)}
	for _, o := range outTopics {
		opts = append(opts, kfake.SeedTopics(3, o))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	p := &pipeCluster{c: c, addr: c.ListenAddrs()[0], rows: pipeInput(pipeRows, 20260101)}

	// Produce with keys; the default partitioner hashes the key, so every k
	// is spread over all four partitions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(p.rows))
	for i, r := range p.rows {
		recs[i] = &kgo.Record{Topic: pipeInputTopic, Key: []byte(fmt.Sprintf("id-%d", r.ID)), Value: []byte(r.json())}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	parts := map[int32]int{}
	for _, r := range recs {
		parts[r.Partition]++
	}
	if len(parts) != 4 {
		t.Fatalf("input spread over %d partitions, want 4: %v", len(parts), parts)
	}

	p.srcDD = fmt.Sprintf(`
CREATE TABLE events (id BIGINT, k BIGINT, g VARCHAR(8), x BIGINT, d DOUBLE, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)
WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = '%s', 'topic' = '%s',
  'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
`, p.addr, pipeInputTopic)

	// The same rows in SQLite, ts as ms.
	db, err := gosql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	p.db = db
	pipeExec(t, db, `CREATE TABLE t (id INTEGER, k INTEGER, g TEXT, x INTEGER, d REAL, ts INTEGER)`)
	pipeExec(t, db, `CREATE TABLE nums (j INTEGER)`)
	for j := 0; j < 10; j++ {
		pipeExec(t, db, `INSERT INTO nums VALUES (?)`, j)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.rows {
		var g, x, d any
		if r.G != nil {
			g = *r.G
		}
		if r.X != nil {
			x = *r.X
		}
		if r.D != nil {
			d = *r.D
		}
		if _, err := tx.Exec(`INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)`, r.ID, r.K, g, x, d, r.Ts); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return p
}

func pipeExec(t *testing.T, db *gosql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("sqlite: %v\n%s", err, q)
	}
}

// run runs script (after SET parallelism = 2 and the source DDL) in Weir.
func (p *pipeCluster) run(t *testing.T, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	full := "SET parallelism = '2';\n" + p.srcDD + script
	if err := wsql.NewSession().ExecScript(ctx, full, discardResults{}); err != nil {
		t.Fatalf("weir: %v\n%s", err, full)
	}
}

// kafkaRecord is one record read back from an output topic.
type kafkaRecord struct {
	partition int
	offset    int64
	key       []byte
	value     []byte // nil: a tombstone
}

// readTopic reads every record of topic with kafka-go, one partition Reader
// per partition, up to the end offsets taken before reading; the records
// come in partition order, then offset order.
func readTopic(t *testing.T, addr, topic string) []kafkaRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := kafkago.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].ID < parts[j].ID })
	var out []kafkaRecord
	for _, pa := range parts {
		lc, err := kafkago.DialLeader(ctx, "tcp", addr, topic, pa.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := lc.ReadOffsets()
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last <= first {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers: []string{addr}, Topic: topic, Partition: pa.ID,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond,
		})
		if err := r.SetOffset(first); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("reading %s/%d: %v", topic, pa.ID, err)
			}
			rec := kafkaRecord{partition: pa.ID, offset: m.Offset, key: m.Key, value: m.Value}
			out = append(out, rec)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

// colKind says how an output column is rendered for comparison.
type colKind byte

const (
	cInt   colKind = 'i'
	cStr   colKind = 's'
	cFloat colKind = 'f'
	cTs    colKind = 't' // a TIMESTAMP in Weir's JSON, ms in SQLite
)

type outCol struct {
	name string
	kind colKind
}

// renderJSON renders a JSON record value (Weir's sink output) in canonical
// form: columns in order, '|'-separated.
func renderJSON(value []byte, cols []outCol) (string, error) {
	dec := json.NewDecoder(strings.NewReader(string(value)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("%v in %s", err, value)
	}
	if len(m) > len(cols) {
		return "", fmt.Errorf("%d fields, want at most %d: %s", len(m), len(cols), value)
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		v, ok := m[c.name]
		if !ok || v == nil {
			parts[i] = "NULL"
			continue
		}
		switch c.kind {
		case cInt:
			n, ok := v.(json.Number)
			if !ok {
				return "", fmt.Errorf("column %s: %T %v, want a number", c.name, v, v)
			}
			i64, err := n.Int64()
			if err != nil {
				return "", fmt.Errorf("column %s: %v", c.name, err)
			}
			parts[i] = strconv.FormatInt(i64, 10)
		case cFloat:
			n, ok := v.(json.Number)
			if !ok {
				return "", fmt.Errorf("column %s: %T %v, want a number", c.name, v, v)
			}
			f, err := n.Float64()
			if err != nil {
				return "", fmt.Errorf("column %s: %v", c.name, err)
			}
			parts[i] = strconv.FormatFloat(f, 'g', -1, 64)
		case cTs:
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("column %s: %T %v, want a timestamp string", c.name, v, v)
			}
			ms, ok := types.ParseTimestamp(s)
			if !ok {
				return "", fmt.Errorf("column %s: bad timestamp %q", c.name, s)
			}
			parts[i] = strconv.FormatInt(ms, 10)
		default:
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("column %s: %T %v, want a string", c.name, v, v)
			}
			parts[i] = "'" + s + "'"
		}
	}
	return strings.Join(parts, "|"), nil
}

// sqliteRows runs q and renders each row like renderJSON.
func sqliteRows(t *testing.T, db *gosql.DB, q string, cols []outCol) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("sqlite: %v\n%s", err, q)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, c := range cols {
			switch v := vals[i].(type) {
			case nil:
				parts[i] = "NULL"
			case int64:
				if c.kind == cFloat {
					parts[i] = strconv.FormatFloat(float64(v), 'g', -1, 64)
				} else {
					parts[i] = strconv.FormatInt(v, 10)
				}
			case float64:
				if c.kind == cFloat {
					parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
				} else if v == math.Trunc(v) {
					parts[i] = strconv.FormatInt(int64(v), 10)
				} else {
					t.Fatalf("sqlite column %s: non-integral %v", c.name, v)
				}
			case string:
				parts[i] = "'" + v + "'"
			case []byte:
				parts[i] = "'" + string(v) + "'"
			default:
				t.Fatalf("sqlite column %s: unexpected %T", c.name, v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// diffMultiset returns "" when got and want hold the same rows the same
// number of times, else a description of the first differences.
func diffMultiset(got, want []string) string {
	cnt := map[string]int{}
	for _, r := range got {
		cnt[r]++
	}
	for _, r := range want {
		cnt[r]--
	}
	var extra, missing []string
	for r, n := range cnt {
		for ; n > 0; n-- {
			extra = append(extra, r)
		}
		for ; n < 0; n++ {
			missing = append(missing, r)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	sort.Strings(extra)
	sort.Strings(missing)
	show := func(s []string) string {
		if len(s) > 8 {
			return strings.Join(s[:8], "\n    ") + fmt.Sprintf("\n    ... (%d more)", len(s)-8)
		}
		return strings.Join(s, "\n    ")
	}
	return fmt.Sprintf("got %d rows, want %d; %d unexpected:\n    %s\n%d missing:\n    %s",
		len(got), len(want), len(extra), show(extra), len(missing), show(missing))
}

// appendOutput renders every record of an append-only output topic; it
// fails on a tombstone.
func appendOutput(t *testing.T, recs []kafkaRecord, cols []outCol) []string {
	t.Helper()
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		if r.value == nil {
			t.Fatalf("tombstone at partition %d offset %d in an append-only topic", r.partition, r.offset)
		}
		s, err := renderJSON(r.value, cols)
		if err != nil {
			t.Fatalf("partition %d offset %d: %v", r.partition, r.offset, err)
		}
		out = append(out, s)
	}
	return out
}

// sinkDDL declares an output table over topic.
func (p *pipeCluster) sinkDDL(table, cols, extra, topic string) string {
	return fmt.Sprintf(`
CREATE TABLE %s (%s) WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = '%s',
  'topic' = '%s', 'format' = 'json'%s);
`, table, cols, p.addr, topic, extra)
}

// TestPipelineStateless: filter + projection + CASE, Kafka → Kafka, keyed
// by id; compared with SQLite and, when kcat is installed, with what kcat
// reads from the output topic.
func TestPipelineStateless(t *testing.T) {
	p := newPipeCluster(t, "out_a")
	p.run(t, p.sinkDDL("out_a",
		"id BIGINT, k BIGINT, bucket VARCHAR(8), y BIGINT, gg VARCHAR(8), d2 DOUBLE, ts TIMESTAMP(3)",
		", 'key.fields' = 'id'", "out_a")+`
INSERT INTO out_a
SELECT id, k,
  CASE WHEN x IS NULL THEN 'none' WHEN x < 0 THEN 'neg' WHEN x < 400 THEN 'low' ELSE 'high' END AS bucket,
  x * 3 + k AS y, COALESCE(g, 'zz') AS gg, d * 2 AS d2, ts
FROM events
WHERE (k <> 2 OR x > 500) AND (d IS NULL OR d < 900);
`)
	cols := []outCol{{"id", cInt}, {"k", cInt}, {"bucket", cStr}, {"y", cInt}, {"gg", cStr}, {"d2", cFloat}, {"ts", cTs}}
	recs := readTopic(t, p.addr, "out_a")
	got := appendOutput(t, recs, cols)
	want := sqliteRows(t, p.db, `
SELECT id, k,
  CASE WHEN x IS NULL THEN 'none' WHEN x < 0 THEN 'neg' WHEN x < 400 THEN 'low' ELSE 'high' END AS bucket,
  x * 3 + k AS y, COALESCE(g, 'zz') AS gg, d * 2 AS d2, ts
FROM t
WHERE (k <> 2 OR x > 500) AND (d IS NULL OR d < 900)`, cols)
	if len(want) < pipeRows/2 {
		t.Fatalf("oracle has only %d rows: the filter is too selective to be a useful test", len(want))
	}
	if d := diffMultiset(got, want); d != "" {
		t.Fatalf("out_a differs from SQLite: %s", d)
	}
	// The record key is {"id":N}, and a key's records share a partition.
	for _, r := range recs {
		var v, k struct{ ID int64 }
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r.key, &k); err != nil || k.ID != v.ID {
			t.Fatalf("partition %d offset %d: key %q, value id %d", r.partition, r.offset, r.key, v.ID)
		}
	}
	t.Logf("out_a: %d records match SQLite", len(got))

	// Cross-check with a third-party client: kcat's view of the topic must
	// be what kafka-go read.
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed but CI is set: .ci/run must install it")
		}
		t.Log("kcat is not installed (apt-get install kcat): skipping the kcat cross-check")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// %p and %o make every line unique; \x1f separates fields.
	cmd := exec.CommandContext(ctx, kcat, "-b", p.addr, "-C", "-t", "out_a", "-e", "-q",
		"-f", `%p\x1f%o\x1f%k\x1f%s\n`)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	kcatLines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	goLines := make([]string, len(recs))
	for i, r := range recs {
		goLines[i] = fmt.Sprintf("%d\x1f%d\x1f%s\x1f%s", r.partition, r.offset, r.key, r.value)
	}
	sort.Strings(kcatLines)
	sort.Strings(goLines)
	if d := diffMultiset(kcatLines, goLines); d != "" {
		t.Fatalf("kcat and kafka-go read different records of out_a: %s", d)
	}
	t.Logf("kcat read the same %d records", len(kcatLines))
}

// TestPipelineWindowed: a tumbling COUNT/SUM/MAX per key and a HOP per
// group, Kafka → Kafka, compared with SQLite.
func TestPipelineWindowed(t *testing.T) {
	p := newPipeCluster(t, "out_tumble", "out_hop")
	p.run(t,
		p.sinkDDL("out_tumble",
			"k BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, nx BIGINT, sx BIGINT, mx BIGINT, md DOUBLE, sd DOUBLE",
			", 'key.fields' = 'k'", "out_tumble")+
			p.sinkDDL("out_hop", "g VARCHAR(8), ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, sx BIGINT, mnx BIGINT", "", "out_hop")+`
INSERT INTO out_tumble
SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_END(ts, INTERVAL '10' SECOND),
  COUNT(*), COUNT(x), SUM(x), MAX(x), MAX(d), SUM(d)
FROM events GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND);
INSERT INTO out_hop
SELECT g, HOP_START(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND), HOP_END(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND),
  COUNT(*), SUM(x), MIN(x)
FROM events GROUP BY g, HOP(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND);
`)
	const tumble10 = "(ts - (((ts % 10000) + 10000) % 10000))"
	cases := []struct {
		topic  string
		cols   []outCol
		sqlite string
	}{
		{
			"out_tumble",
			[]outCol{{"k", cInt}, {"ws", cTs}, {"we", cTs}, {"n", cInt}, {"nx", cInt}, {"sx", cInt}, {"mx", cInt}, {"md", cFloat}, {"sd", cFloat}},
			`SELECT k, ` + tumble10 + ` AS ws, ` + tumble10 + ` + 10000, COUNT(*), COUNT(x), SUM(x), MAX(x), MAX(d), SUM(d)
			 FROM t GROUP BY k, ws`,
		},
		{
			"out_hop",
			[]outCol{{"g", cStr}, {"ws", cTs}, {"we", cTs}, {"n", cInt}, {"sx", cInt}, {"mnx", cInt}},
			`WITH w AS (SELECT t.*, (ts - (((ts % 3000) + 3000) % 3000)) - nums.j * 3000 AS ws FROM t JOIN nums ON nums.j < 4)
			 SELECT g, ws, ws + 10000, COUNT(*), SUM(x), MIN(x) FROM w WHERE ws + 10000 > ts GROUP BY g, ws`,
		},
	}
	for _, c := range cases {
		got := appendOutput(t, readTopic(t, p.addr, c.topic), c.cols)
		want := sqliteRows(t, p.db, c.sqlite, c.cols)
		if d := diffMultiset(got, want); d != "" {
			t.Errorf("%s differs from SQLite: %s", c.topic, d)
		} else {
			t.Logf("%s: %d windows match SQLite", c.topic, len(got))
		}
	}
}

// compact applies an upsert topic's records in order (a key's records are
// in one partition): the last value per key wins, a tombstone deletes.
// It also returns the number of tombstones seen.
func compact(t *testing.T, recs []kafkaRecord) (map[string][]byte, int) {
	t.Helper()
	view := map[string][]byte{}
	keyPart := map[string]int{}
	tombs := 0
	for _, r := range recs {
		if len(r.key) == 0 {
			t.Fatalf("partition %d offset %d: upsert record without a key", r.partition, r.offset)
		}
		k := string(r.key)
		if p, ok := keyPart[k]; ok && p != r.partition {
			t.Fatalf("key %s in partitions %d and %d", k, p, r.partition)
		}
		keyPart[k] = r.partition
		if r.value == nil {
			tombs++
			delete(view, k)
		} else {
			view[k] = r.value
		}
	}
	return view, tombs
}

// upsertResult is an upsert topic read back and compacted.
type upsertResult struct {
	records, tombstones, keys int
	diff                      string // "" when the compacted view equals SQLite's rows
	unexpected, missing       int
}

// checkUpsert reads topic, compacts it, checks that every record key is the
// primary key (as JSON) of its value, and compares the compacted view with
// SQLite's rows for query.
func checkUpsert(t *testing.T, p *pipeCluster, topic string, cols []outCol, keyCols []string, query string) upsertResult {
	t.Helper()
	recs := readTopic(t, p.addr, topic)
	view, tombs := compact(t, recs)
	var got []string
	for k, v := range view {
		s, err := renderJSON(v, cols)
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		var km, vm map[string]any
		if err := json.Unmarshal([]byte(k), &km); err != nil || len(km) != len(keyCols) {
			t.Fatalf("%s: key %s is not a JSON object of %v", topic, k, keyCols)
		}
		if err := json.Unmarshal(v, &vm); err != nil {
			t.Fatal(err)
		}
		for _, kc := range keyCols {
			if fmt.Sprint(km[kc]) != fmt.Sprint(vm[kc]) {
				t.Fatalf("%s: key %s does not match value %s", topic, k, v)
			}
		}
		got = append(got, s)
	}
	want := sqliteRows(t, p.db, query, cols)
	res := upsertResult{records: len(recs), tombstones: tombs, keys: len(view), diff: diffMultiset(got, want)}
	if res.diff != "" {
		cnt := map[string]int{}
		for _, r := range got {
			cnt[r]++
		}
		for _, r := range want {
			cnt[r]--
		}
		for _, n := range cnt {
			if n > 0 {
				res.unexpected += n
			} else {
				res.missing -= n
			}
		}
	}
	return res
}

// TestPipelineUpsert: a non-windowed GROUP BY into an upsert Kafka table
// (PRIMARY KEY → record key); the compacted topic must equal SQLite's
// GROUP BY.
func TestPipelineUpsert(t *testing.T) {
	p := newPipeCluster(t, "out_agg")
	p.run(t, p.sinkDDL("out_agg",
		"k BIGINT, gg VARCHAR(8), n BIGINT, sx BIGINT, mx BIGINT, md DOUBLE, PRIMARY KEY (k, gg) NOT ENFORCED", "", "out_agg")+`
INSERT INTO out_agg
SELECT k, COALESCE(g, 'zz'), COUNT(*), SUM(x), MAX(x), MAX(d) FROM events GROUP BY k, COALESCE(g, 'zz');
`)
	r := checkUpsert(t, p, "out_agg",
		[]outCol{{"k", cInt}, {"gg", cStr}, {"n", cInt}, {"sx", cInt}, {"mx", cInt}, {"md", cFloat}},
		[]string{"k", "gg"},
		`SELECT k, COALESCE(g, 'zz') AS gg, COUNT(*), SUM(x), MAX(x), MAX(d) FROM t GROUP BY k, gg`)
	if r.diff != "" {
		t.Fatalf("out_agg: the compacted topic (%d records, %d tombstones) differs from SQLite: %s", r.records, r.tombstones, r.diff)
	}
	if r.records <= r.keys {
		t.Errorf("out_agg: %d records for %d keys: expected updates", r.records, r.keys)
	}
	t.Logf("out_agg: %d records (%d tombstones) compact to %d rows matching SQLite", r.records, r.tombstones, r.keys)
}

// TestPipelineUpsertTombstones: GROUP BY with HAVING on a count's parity
// into an upsert table. Each group leaves and re-enters the result as rows
// arrive; leaving arrives at the sink as a -U whose +U the HAVING filter
// dropped, and must become a tombstone.
//
// TestPipelineUpsertTombstones: HAVING over a GROUP BY makes groups leave
// and re-enter the result; the filter turns such update pairs into -D / +I
// (exec.Calc), so the upsert sink writes tombstones and the compacted topic
// equals SQLite's answer.
func TestPipelineUpsertTombstones(t *testing.T) {
	p := newPipeCluster(t, "out_having")
	p.run(t, p.sinkDDL("out_having", "k BIGINT, n BIGINT, sx BIGINT, PRIMARY KEY (k) NOT ENFORCED", "", "out_having")+`
INSERT INTO out_having
SELECT k, COUNT(*), SUM(x) FROM events GROUP BY k HAVING COUNT(*) % 2 = 0;
`)
	r := checkUpsert(t, p, "out_having",
		[]outCol{{"k", cInt}, {"n", cInt}, {"sx", cInt}},
		[]string{"k"},
		`SELECT k, COUNT(*), SUM(x) FROM t GROUP BY k HAVING COUNT(*) % 2 = 0`)
	if r.diff != "" {
		t.Fatalf("out_having: the compacted topic (%d records, %d tombstones) differs from SQLite: %s", r.records, r.tombstones, r.diff)
	}
	if r.tombstones == 0 {
		t.Errorf("out_having: no tombstones in %d records", r.records)
	}
	t.Logf("out_having: %d records (%d tombstones) compact to %d rows matching SQLite", r.records, r.tombstones, r.keys)
}
