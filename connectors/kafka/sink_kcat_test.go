package kafka_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/weirsql/weir/connectors/all"
	"github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"

	"github.com/twmb/franz-go/pkg/kfake"
)

type discardResults struct{}

func (discardResults) Columns([]types.Column, bool) error { return nil }
func (discardResults) Rows(*types.Batch) error            { return nil }
func (discardResults) Done() error                        { return nil }
func (discardResults) Message(string) error               { return nil }

// kcatRead returns kcat's '%k\t%s' lines for every record of topic, sorted.
func kcatRead(t *testing.T, addr, topic string) []string {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("kcat is not installed (apt-get install kcat); CI installs it")
		}
		t.Fatal("kcat is not installed but CI is set: .ci/run must install it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", topic, "-e", "-q", "-f", `%k\t%s\n`)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("kcat: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	sort.Strings(lines)
	return lines
}

func TestSinkKcatCrossCheck(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "kc"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	script := fmt.Sprintf(`
CREATE TABLE sinkout (id BIGINT, name VARCHAR(20), price DOUBLE) WITH (
  'connector' = 'kafka', 'properties.bootstrap.servers' = '%s', 'topic' = 'kc',
  'format' = 'json', 'key.fields' = 'id');
INSERT INTO sinkout
  SELECT 1, 'apple', CAST(1.5 AS DOUBLE) UNION ALL SELECT 2, 'pear', CAST(2.25 AS DOUBLE)
  UNION ALL SELECT 3, 'fig', CAST(0.5 AS DOUBLE) UNION ALL SELECT 1, 'apple', CAST(3 AS DOUBLE)
  UNION ALL SELECT 42, 'kiwi', CAST(10 AS DOUBLE);
`, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sql.NewSession().ExecScript(ctx, script, discardResults{}); err != nil {
		t.Fatal(err)
	}
	got := kcatRead(t, addr, "kc")
	want := []string{
		`{"id":1}` + "\t" + `{"id":1,"name":"apple","price":1.5}`,
		`{"id":1}` + "\t" + `{"id":1,"name":"apple","price":3}`,
		`{"id":2}` + "\t" + `{"id":2,"name":"pear","price":2.25}`,
		`{"id":3}` + "\t" + `{"id":3,"name":"fig","price":0.5}`,
		`{"id":42}` + "\t" + `{"id":42,"name":"kiwi","price":10}`,
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kcat read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
