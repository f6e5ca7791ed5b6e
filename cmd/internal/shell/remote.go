package shell

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/weirsql/weir/cmd/internal/server"
	"github.com/weirsql/weir/sql"
)

// remote runs statements in a weir serve over the Trino client protocol
// (POST /v1/statement, then GET each nextUri until there is none; DELETE
// the nextUri to cancel) and controls jobs through its JSON endpoints
// (/v1/jobs/...). It is a client of its own rather than the database/sql
// driver: the shell needs the columns before the first row (a streaming
// query may produce none for a while), the notices (Trino warnings), the
// session settings the server sends back, and a DELETE when Ctrl-C cancels
// a query (the Go driver sends none when its context is cancelled).
type remote struct {
	base   string // scheme://host:port
	user   string
	token  string // bearer token; "" without authentication
	client *http.Client
	// session holds the settings the server asked the client to keep
	// (X-Trino-Set-Session), sent back as X-Trino-Session.
	session map[string]string
}

// RemoteConfig says how to reach a weir serve.
type RemoteConfig struct {
	URL   string // http://host:port or https://host:port
	User  string
	Token string // bearer token
	// CAFile is a PEM file of certificates to trust for https, besides the
	// system's.
	CAFile string
	// Settings are sent with every statement, as SET would set them.
	Settings map[string]string
}

func newRemote(cfg RemoteConfig) (*remote, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http://HOST:PORT or https://HOST:PORT", cfg.URL)
	}
	if cfg.User == "" {
		return nil, errors.New("a user name is needed (--user)")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	r := &remote{base: u.Scheme + "://" + u.Host, user: cfg.User, token: cfg.Token,
		client: &http.Client{Transport: tr}, session: map[string]string{}}
	for k, v := range cfg.Settings {
		r.session[k] = v
	}
	return r, nil
}

func (r *remote) Where() string { return "server " + r.base + " as " + r.user }

func (r *remote) Close() error {
	r.client.CloseIdleConnections()
	return nil
}

// ping checks that the server answers and accepts the credentials.
func (r *remote) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.do(ctx, "HEAD", r.base+"/v1/statement", nil)
	if err != nil {
		return fmt.Errorf("cannot reach the server: %w", err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%s refused the credentials (%s): a server with --auth-token-file needs your token (--token-file FILE or $WEIR_TOKEN) and --user matching it", r.base, resp.Status)
	}
	return fmt.Errorf("%s: %s", r.base, resp.Status)
}

// do sends a request with the user, the token and, for a statement, the
// session settings.
func (r *remote) do(ctx context.Context, method, u string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Trino-User", r.user)
	req.Header.Set("X-Trino-Source", "weir-shell")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if h := r.sessionHeader(); h != "" && method == "POST" && strings.HasSuffix(u, "/v1/statement") {
		req.Header.Set("X-Trino-Session", h)
	}
	return r.client.Do(req)
}

// httpError turns an answer other than 2xx into an error with its text.
func httpError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = resp.Status
	}
	return &remoteError{status: resp.StatusCode, msg: msg}
}

type remoteError struct {
	status int
	msg    string
}

func (e *remoteError) Error() string { return e.msg }

// ---------------------------------------------------------------- statements

// results is what the shell reads of the protocol's QueryResults.
type results struct {
	ID         string                 `json:"id"`
	NextURI    string                 `json:"nextUri"`
	Columns    []resultColumn         `json:"columns"`
	Data       [][]any                `json:"data"`
	Error      *resultError           `json:"error"`
	Warnings   []resultWarning        `json:"warnings"`
	UpdateType string                 `json:"updateType"`
	Stats      struct{ State string } `json:"stats"`
}

type resultColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type resultError struct {
	Message       string `json:"message"`
	ErrorName     string `json:"errorName"`
	ErrorType     string `json:"errorType"`
	ErrorLocation *struct {
		LineNumber   int `json:"lineNumber"`
		ColumnNumber int `json:"columnNumber"`
	} `json:"errorLocation"`
}

type resultWarning struct {
	Message string `json:"message"`
}

// positionRE is the position a *sql.SQLError puts in front of its message.
var positionRE = regexp.MustCompile(`^line \d+, column \d+: `)

// asError turns the protocol's error into a *sql.SQLError when it has a
// position, so that the shell shows it the same way in both modes.
func (e *resultError) asError() error {
	msg := positionRE.ReplaceAllString(e.Message, "")
	if l := e.ErrorLocation; l != nil && l.LineNumber > 0 {
		kind := sql.ErrSemantic
		switch e.ErrorName {
		case "SYNTAX_ERROR":
			kind = sql.ErrSyntax
		case "NOT_SUPPORTED":
			kind = sql.ErrUnsupported
		}
		return &sql.SQLError{Line: l.LineNumber, Col: max(l.ColumnNumber, 1), Msg: msg, Kind: kind}
	}
	if e.ErrorName == "USER_CANCELED" {
		return context.Canceled
	}
	return errors.New(msg)
}

func (r *remote) sessionHeader() string {
	keys := make([]string, 0, len(r.session))
	for k := range r.session {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+url.QueryEscape(r.session[k]))
	}
	return strings.Join(parts, ",")
}

// opColumn is the name weir serve gives the row-kind column it puts first
// in an updating query's result.
const opColumn = "_op"

func (r *remote) Exec(ctx context.Context, text string, out sink) (string, error) {
	resp, err := r.do(ctx, "POST", r.base+"/v1/statement", strings.NewReader(text))
	if err != nil {
		return "", err
	}
	page, err := decodeResults(resp)
	if err != nil {
		return "", err
	}
	var (
		columnsSent bool
		changelog   bool
		explain     bool // one "Query Plan" column: print it as text
		insert      bool // one job_id row: the id of the job started
		jobID       string
		header      http.Header // of the last page: X-Trino-Set-Session
	)
	// A result cut short (an error, Ctrl-C) is not ended with Done: the
	// caller ends it, saying why.
	for {
		if page.Error != nil {
			return jobID, page.Error.asError()
		}
		if len(page.Columns) > 0 && !columnsSent && !explain && !insert {
			cols := page.Columns
			switch {
			case page.UpdateType == "INSERT":
				insert = true
			case len(cols) == 1 && cols[0].Name == "Query Plan" && firstWordIs(text, "EXPLAIN"):
				explain = true
			default:
				if len(cols) > 0 && cols[0].Name == opColumn && cols[0].Type == "varchar(2)" {
					changelog, cols = true, cols[1:]
				}
				sc := make([]Column, len(cols))
				for i, c := range cols {
					sc[i] = Column{Name: c.Name, Type: c.Type, Numeric: numericType(c.Type)}
				}
				if err := out.Columns(sc, changelog); err != nil {
					return "", err
				}
				columnsSent = true
			}
		}
		if len(page.Data) > 0 {
			switch {
			case insert:
				jobID = cell(page.Data[0][0])
			case explain:
				if err := out.Text(cell(page.Data[0][0])); err != nil {
					return "", err
				}
			case columnsSent:
				rows := make([][]string, len(page.Data))
				var kinds []string
				if changelog {
					kinds = make([]string, len(page.Data))
				}
				for i, row := range page.Data {
					if changelog && len(row) > 0 {
						kinds[i], row = cell(row[0]), row[1:]
					}
					cells := make([]string, len(row))
					for j, v := range row {
						cells[j] = cell(v)
					}
					rows[i] = cells
				}
				if err := out.Rows(rows, kinds); err != nil {
					r.cancel(page.NextURI)
					return "", err
				}
			}
		}
		if page.NextURI == "" {
			break
		}
		if page, header, err = r.poll(ctx, page.NextURI); err != nil {
			return jobID, err
		}
	}
	if columnsSent {
		if err := out.Done(); err != nil {
			return jobID, err
		}
	}
	// notices come after the rows (every page repeats them: take the last)
	for _, w := range page.Warnings {
		if insert && strings.HasPrefix(w.Message, "Job "+jobID) {
			continue // the shell says it its own way
		}
		if err := out.Message(w.Message); err != nil {
			return jobID, err
		}
	}
	if header != nil {
		r.setSession(header.Values("X-Trino-Set-Session"))
	}
	return jobID, nil
}

// poll GETs a nextUri. When ctx is cancelled it sends the DELETE that
// cancels the query on the server and returns ctx's error.
func (r *remote) poll(ctx context.Context, next string) (*results, http.Header, error) {
	for attempt := 0; ; attempt++ {
		resp, err := r.do(ctx, "GET", next, nil)
		if ctx.Err() != nil {
			r.cancel(next)
			return nil, nil, ctx.Err()
		}
		if err != nil {
			if attempt < 2 { // the protocol allows a retried GET
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
				}
				continue
			}
			return nil, nil, err
		}
		page, err := decodeResults(resp)
		if err != nil {
			return nil, nil, err
		}
		return page, resp.Header, nil
	}
}

// cancel DELETEs a nextUri, which stops the query on the server.
func (r *remote) cancel(next string) {
	if next == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := r.do(ctx, "DELETE", next, nil); err == nil {
		resp.Body.Close()
	}
}

func decodeResults(resp *http.Response) (*results, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpError(resp)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber() // numbers exactly as the server wrote them
	var res results
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("reading the server's answer: %w", err)
	}
	return &res, nil
}

func (r *remote) setSession(values []string) {
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(e), "=")
			if !ok || name == "" {
				continue
			}
			if dv, err := url.QueryUnescape(value); err == nil {
				value = dv
			}
			r.session[name] = value
		}
	}
}

// cell renders one JSON value of a row: NULL for null, numbers as the
// server wrote them.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func numericType(t string) bool {
	t = strings.ToLower(t)
	for _, n := range []string{"bigint", "integer", "int", "smallint", "tinyint", "double", "real", "decimal"} {
		if t == n || strings.HasPrefix(t, n+"(") {
			return true
		}
	}
	return false
}

func firstWordIs(text, word string) bool {
	for _, t := range sql.Tokens(text) {
		switch t.Kind {
		case sql.TokenSpace, sql.TokenComment:
			continue
		}
		return t.Kind == sql.TokenWord && strings.EqualFold(t.Text, word)
	}
	return false
}

// ---------------------------------------------------------------- jobs

func (r *remote) jobURL(id, suffix string) string {
	return r.base + "/v1/jobs/" + url.PathEscape(id) + suffix
}

// call sends a request to a JSON endpoint and decodes the answer into v.
func (r *remote) call(ctx context.Context, method, u string, v any) (int, error) {
	resp, err := r.do(ctx, method, u, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, httpError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return resp.StatusCode, fmt.Errorf("reading the server's answer: %w", err)
	}
	return resp.StatusCode, nil
}

func (r *remote) Jobs(ctx context.Context) ([]server.JobSummary, error) {
	var out []server.JobSummary
	_, err := r.call(ctx, "GET", r.base+"/v1/jobs", &out)
	return out, err
}

func (r *remote) Job(ctx context.Context, id string) (server.JobDetail, error) {
	var d server.JobDetail
	_, err := r.call(ctx, "GET", r.jobURL(id, ""), &d)
	return d, err
}

func (r *remote) StopJob(ctx context.Context, id string, savepoint bool) (server.JobDetail, error) {
	var d server.JobDetail
	u := r.jobURL(id, "/stop")
	if savepoint {
		u += "?savepoint=true"
	}
	_, err := r.call(ctx, "POST", u, &d)
	return d, err
}

func (r *remote) Savepoint(ctx context.Context, id string) (*server.CheckpointSummary, bool, error) {
	var out struct {
		Savepoint *server.CheckpointSummary `json:"savepoint"`
	}
	status, err := r.call(ctx, "POST", r.jobURL(id, "/savepoint"), &out)
	if err != nil {
		return nil, false, err
	}
	if status == http.StatusAccepted || out.Savepoint == nil {
		return nil, false, nil
	}
	return out.Savepoint, true, nil
}

func (r *remote) ResumeJob(ctx context.Context, id string) (server.JobDetail, error) {
	var d server.JobDetail
	_, err := r.call(ctx, "POST", r.jobURL(id, "/resume"), &d)
	return d, err
}

func (r *remote) Checkpoints(ctx context.Context, id string) ([]*server.CheckpointSummary, error) {
	var out []*server.CheckpointSummary
	_, err := r.call(ctx, "GET", r.jobURL(id, "/checkpoints"), &out)
	return out, err
}

// WaitJob polls the job's state; the server has no endpoint that waits.
func (r *remote) WaitJob(ctx context.Context, id string) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		d, err := r.Job(ctx, id)
		if err != nil {
			return err
		}
		if d.State != server.JobRunning {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
