package server

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

// querySink receives a statement's results (sql.ResultSink) and hands them
// to the query's pages. Calls come from one goroutine: the statement's, or
// the Collect task of its job.
type querySink struct {
	q         *query
	changelog bool
	seen      bool // Columns was called
}

var (
	_ sql.ResultSink = (*querySink)(nil)
	_ sql.TextSink   = (*querySink)(nil)
)

func (s *querySink) Columns(cols []types.Column, changelog bool) error {
	wire := make([]wireColumn, 0, len(cols)+1)
	if changelog {
		wire = append(wire, opColumn)
	}
	for _, c := range cols {
		wire = append(wire, columnOf(c.Name, c.Type))
	}
	s.changelog, s.seen = changelog, true
	s.q.setColumns(wire)
	return nil
}

func (s *querySink) Rows(b *types.Batch) error { return s.q.pushBatch(b, s.changelog) }

func (s *querySink) Done() error { return nil }

func (s *querySink) Message(text string) error {
	s.q.addWarning(text)
	return nil
}

// Text is a text result (EXPLAIN): one row of one column, as Trino answers
// EXPLAIN.
func (s *querySink) Text(text string) error {
	s.q.setColumns([]wireColumn{columnOf("Query Plan", types.TVarchar)})
	return s.q.pushBatch(&types.Batch{Rows: []types.Row{{types.StringValue(text)}}}, false)
}

// execute runs one parsed statement for q and returns what it returned and
// the X-Trino-Set-Session values a SET produced. A panic (a bug in Weir)
// becomes the statement's error rather than the end of the server.
func (s *Server) execute(ctx context.Context, q *query, st *sql.Statement, props []string) (setSession []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			setSession, err = nil, fmt.Errorf("%w: internal error in Weir while running this statement (please report it): %v", sql.ErrInternal, p)
		}
	}()
	sink := &querySink{q: q}
	q.mu.Lock()
	q.updateType = st.UpdateType()
	q.mu.Unlock()
	q.setStarted()

	newSession := func(cat *sql.Catalog) (*sql.Session, error) {
		sess := sql.NewSessionWithCatalog(cat)
		if err := applySessionProperties(sess, props); err != nil {
			return nil, err
		}
		return sess, nil
	}
	switch st.Kind() {
	case sql.KindDDL:
		return nil, s.cat.ddl(q.owner, st.Text, func(cat *sql.Catalog) error {
			sess, err := newSession(cat)
			if err != nil {
				return err
			}
			return sess.Exec(ctx, st, sink)
		})
	case sql.KindInsert:
		cat, version, err := s.cat.snapshot()
		if err != nil {
			return nil, err
		}
		sess, err := newSession(cat)
		if err != nil {
			return nil, err
		}
		plan, err := sess.PlanInsert(st)
		if err != nil {
			return nil, err
		}
		j, err := s.jobs.submit(q.owner, st.Text, sess.Settings(), version, plan)
		if err != nil {
			return nil, err
		}
		if err := sink.Columns([]types.Column{{Name: "job_id", Type: types.TVarchar}}, false); err != nil {
			return nil, err
		}
		if err := sink.Rows(&types.Batch{Rows: []types.Row{{types.StringValue(j.id)}}}); err != nil {
			return nil, err
		}
		return nil, sink.Message(fmt.Sprintf("Job %s started: GET /v1/jobs/%s shows it; POST /v1/jobs/%s/stop stops it.", j.id, j.id, j.id))
	}
	cat, _, err := s.cat.snapshot()
	if err != nil {
		return nil, err
	}
	sess, err := newSession(cat)
	if err != nil {
		return nil, err
	}
	before := sess.Settings()
	if err := sess.Exec(ctx, st, sink); err != nil {
		return nil, err
	}
	if !sink.seen && st.Kind() == sql.KindQuery {
		// cannot happen: a query announces its columns
		return nil, fmt.Errorf("internal error: the query produced no columns")
	}
	return changedSettings(before, sess.Settings()), nil
}

// applySessionProperties applies X-Trino-Session entries ("name=value",
// values URL-encoded) to a new session.
func applySessionProperties(sess *sql.Session, props []string) error {
	for _, p := range props {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("session property %q: want name=value", p)
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return fmt.Errorf("session property %s: %w", name, err)
		}
		if err := sess.Set(strings.TrimSpace(name), v); err != nil {
			return fmt.Errorf("session property: %w", err)
		}
	}
	return nil
}

// sessionProperties splits X-Trino-Session headers into entries.
func sessionProperties(values []string) []string {
	var out []string
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// changedSettings returns "name=value" entries (value URL-encoded) for the
// settings a SET or RESET changed, for X-Trino-Set-Session.
func changedSettings(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, k+"="+url.QueryEscape(v))
		}
	}
	sort.Strings(out)
	return out
}
