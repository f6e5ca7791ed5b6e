package shell

import (
	"sort"
	"strings"
	"testing"
)

// complete returns the words completion offers for line with the cursor
// at ‸, or at its end: what was typed of the word plus each suffix.
func complete(ts *testShell, line string) []string {
	pos := len([]rune(line))
	if i := strings.Index(line, "‸"); i >= 0 {
		pos = len([]rune(line[:i]))
		line = strings.Replace(line, "‸", "", 1)
	}
	r := []rune(line)
	sufs, n := ts.comp.Do(r, pos)
	typed := string(r[pos-n : pos])
	var out []string
	for _, s := range sufs {
		out = append(out, typed+string(s))
	}
	sort.Strings(out)
	return out
}

func TestComplete(t *testing.T) {
	ts := newTestShell(t, Config{})
	ts.must("CREATE TABLE bids (auction BIGINT, price BIGINT, bidder BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid')")
	ts.must("CREATE TABLE bidders (name VARCHAR, city VARCHAR) WITH ('connector'='nexmark', 'nexmark.table'='person')")
	ts.must("CREATE VIEW big AS SELECT auction, price AS amount FROM bids WHERE price > 1000")

	for _, c := range []struct {
		line string
		want []string
	}{
		// tables and views after FROM, JOIN, DESCRIBE...
		{"SELECT * FROM bi", []string{"bidders ", "bids ", "big "}},
		{"select * from BIDS b JOIN bidd", []string{"bidders "}},
		{"DESCRIBE bi", []string{"bidders ", "bids ", "big "}},
		{"DESCRIBE j", []string{"job "}},
		// columns of a table, an alias, a view
		{"SELECT bids.a", []string{"auction"}},
		{"SELECT bids.", []string{"auction", "bidder", "price"}},
		{"SELECT x.auction FROM bids AS x WHERE x.pr", []string{"price"}},
		{"SELECT b.pr‸ FROM bids b", []string{"price"}},
		{"SELECT big.am", []string{"amount"}},
		// columns of the tables the statement names
		{"SELECT name FROM bidders WHERE ci", []string{"city"}},
		// keywords in the case typed, functions with their parenthesis
		{"sel", []string{"select "}},
		{"SEL", []string{"SELECT "}},
		{"SELECT COUNT(*) FROM bids GROUP", []string{"GROUP "}},
		{"SELECT tumble_st", []string{"tumble_start("}},
		// backslash commands
		{`\j`, []string{`\jobs`}},
		{`\q`, []string{`\q`, `\quit`}},
	} {
		if got := complete(ts, c.line); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: %q, want %q", c.line, got, c.want)
		}
	}

	// the lines typed before the current one count: the statement names
	// bidders
	ts.setPending("SELECT *\nFROM bidders\n")
	if got := complete(ts, "WHERE na"); strings.Join(got, "|") != "name" {
		t.Errorf("continuation line: %q", got)
	}
	ts.setPending("")

	// job ids after JOB, quoted or not
	started := ts.must("CREATE TABLE sink (auction BIGINT) WITH ('connector'='blackhole')")
	_ = started
	id := jobIDRE.FindStringSubmatch(ts.must("INSERT INTO sink SELECT auction FROM bids"))[1]
	for _, line := range []string{"STOP JOB ", "STOP JOB 'j-", "DESCRIBE JOB j", "SHOW CHECKPOINTS "} {
		if got := complete(ts, line); len(got) != 1 || !strings.HasSuffix(id, strings.TrimPrefix(got[0], "'")) || !strings.HasSuffix(got[0], id[len(id)-3:]) {
			t.Errorf("%q: %q, want the id %s", line, got, id)
		}
	}
	ts.must("STOP JOB " + id)

	// a new table is offered after the statement that creates it
	ts.must("CREATE TABLE bidfloor (x BIGINT) WITH ('connector'='blackhole')")
	if got := complete(ts, "INSERT INTO bidf"); strings.Join(got, "|") != "bidfloor " {
		t.Errorf("after CREATE TABLE: %q", got)
	}
}
