package sql_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/weirsql/weir/connectors/all"
	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

// messages is a ResultSink that keeps notices and counts rows.
type messages struct {
	notes []string
	rows  int
}

func (m *messages) Columns([]types.Column, bool) error { return nil }
func (m *messages) Rows(b *types.Batch) error          { m.rows += b.Len(); return nil }
func (m *messages) Done() error                        { return nil }
func (m *messages) Message(s string) error             { m.notes = append(m.notes, s); return nil }

// TestLateRowsReportedPerOperator: late.json has one row (a=4 at 2s) that
// arrives after the watermark passed 14s, so window [0s,10s) has fired.
func TestLateRowsReportedPerOperator(t *testing.T) {
	abs, err := filepath.Abs("../testdata/sql/late.json")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "late_rows.json")
	for _, tc := range []struct{ name, extra, setup, want string }{
		{name: "drop", want: "WindowAggregate#3: 1 late rows dropped."},
		{name: "late-data table",
			setup: "CREATE TABLE late_rows (a BIGINT, ts TIMESTAMP(3)) WITH ('connector'='file','path'='" + out + "','format'='json');",
			extra: ",'late-data'='late_rows'",
			want:  "WindowAggregate#3: 1 late rows sent to late_rows."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := tc.setup + `
CREATE TABLE late_in (a BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector'='file','path'='` + abs + `','format'='json','batch-size'='1'` + tc.extra + `);
SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE late_in, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;`
			m := &messages{}
			if err := wsql.NewSession().ExecScript(context.Background(), script, m); err != nil {
				t.Fatal(err)
			}
			if m.rows != 3 {
				t.Fatalf("got %d window results, want 3", m.rows)
			}
			last := m.notes[len(m.notes)-1]
			if last != tc.want {
				t.Fatalf("late report %q, want %q (all notes: %s)", last, tc.want, strings.Join(m.notes, " | "))
			}
		})
	}
}
