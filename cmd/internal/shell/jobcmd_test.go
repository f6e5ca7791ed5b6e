package shell

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql"
)

func TestParseJobCommand(t *testing.T) {
	ok := []struct {
		text string
		want jobCommand
	}{
		{"SHOW JOBS", jobCommand{op: "jobs"}},
		{"show jobs -- all of them", jobCommand{op: "jobs"}},
		{"DESCRIBE JOB 'j-abc'", jobCommand{op: "describe", id: "j-abc"}},
		{"desc job j-abc", jobCommand{op: "describe", id: "j-abc"}},
		{"SHOW CHECKPOINTS `j-abc`", jobCommand{op: "checkpoints", id: "j-abc"}},
		{"CREATE SAVEPOINT FOR JOB j-a2c", jobCommand{op: "savepoint", id: "j-a2c"}},
		{"STOP JOB j-abc", jobCommand{op: "stop", id: "j-abc"}},
		{"STOP JOB 'j-abc' WITH SAVEPOINT", jobCommand{op: "stop", id: "j-abc", savepoint: true}},
		{"stop job j-abc with savepoint", jobCommand{op: "stop", id: "j-abc", savepoint: true}},
		{"RESUME JOB j-abc", jobCommand{op: "resume", id: "j-abc"}},
	}
	for _, c := range ok {
		got, err := parseJobCommand(c.text)
		if err != nil || got == nil || *got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.text, got, err, c.want)
		}
	}
	// statements for the engine
	for _, text := range []string{"SHOW TABLES", "DESCRIBE bids", "CREATE TABLE t (a INT)", "SELECT 1", "SHOW VIEWS"} {
		if got, err := parseJobCommand(text); got != nil || err != nil {
			t.Errorf("%q is not a job statement: %+v, %v", text, got, err)
		}
	}
	bad := []struct {
		text     string
		line     int
		col      int
		contains string
	}{
		{"STOP JOB", 1, 9, "expected a job id: STOP JOB 'id' [WITH SAVEPOINT]"},
		{"STOP JOB j-a WITH", 1, 18, "expected SAVEPOINT"},
		{"STOP JOB j-a NOW", 1, 14, `unexpected "NOW"`},
		{"STOP JOB j - a", 1, 12, `unexpected "-"`},
		{"SHOW JOBS\n  extra", 2, 3, "SHOW JOBS takes no arguments"},
		{"CREATE SAVEPOINT j-a", 1, 18, "expected FOR JOB"},
		{"DESCRIBE JOB", 1, 13, "expected a job id: DESCRIBE JOB 'id'"},
	}
	for _, c := range bad {
		_, err := parseJobCommand(c.text)
		var se *sql.SQLError
		if !errors.As(err, &se) || se.Line != c.line || se.Col != c.col || !strings.Contains(se.Msg, c.contains) || !errors.Is(err, sql.ErrSyntax) {
			t.Errorf("%q: %v; want line %d, column %d: …%s…", c.text, err, c.line, c.col, c.contains)
		}
	}
}
