package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/weirsql/weir/connectors/all" // register connectors
)

// lockedBuffer collects the server's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs a Server behind httptest on 127.0.0.1. cfg.DataDir
// defaults to a temporary directory.
func startServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	logs := &lockedBuffer{}
	cfg.Log = logs
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		s.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return s, hs
}

// results is a protocol document as a client decodes it.
type results struct {
	ID         string          `json:"id"`
	InfoURI    string          `json:"infoUri"`
	NextURI    string          `json:"nextUri"`
	Columns    []wireColumn    `json:"columns"`
	Data       [][]any         `json:"data"`
	Stats      wireStats       `json:"stats"`
	Error      *wireError      `json:"error"`
	Warnings   []wireWarning   `json:"warnings"`
	UpdateType string          `json:"updateType"`
	raw        json.RawMessage // the body
	header     http.Header
}

// client speaks the protocol as the Go driver does: user and token on the
// POST; on polls, the token only (the driver sends an empty X-Trino-User).
type client struct {
	t     *testing.T
	base  string
	user  string
	token string
	props []string // X-Trino-Session values
}

func (c *client) request(method, url, body string, pollUser string) *http.Request {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Trino-User", pollUser)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req
}

// do sends req and returns the status and body.
func (c *client) do(req *http.Request) (int, []byte, http.Header) {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

func decode(t *testing.T, body []byte) results {
	t.Helper()
	var r results
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	r.raw = body
	return r
}

// post submits a statement and returns the answer.
func (c *client) post(sqlText string) results {
	c.t.Helper()
	req := c.request("POST", c.base+"/v1/statement", sqlText, c.user)
	for _, p := range c.props {
		req.Header.Add("X-Trino-Session", p)
	}
	status, body, h := c.do(req)
	if status != http.StatusOK {
		c.t.Fatalf("POST %q: %d %s", sqlText, status, body)
	}
	r := decode(c.t, body)
	r.header = h
	return r
}

// get polls a nextUri as the Go driver does (empty X-Trino-User).
func (c *client) get(uri string) results {
	c.t.Helper()
	status, body, h := c.do(c.request("GET", uri, "", ""))
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", uri, status, body)
	}
	r := decode(c.t, body)
	r.header = h
	return r
}

// query runs a statement to its end and returns every page.
func (c *client) query(sqlText string) (pages []results) {
	c.t.Helper()
	r := c.post(sqlText)
	pages = append(pages, r)
	for r.NextURI != "" {
		r = c.get(r.NextURI)
		pages = append(pages, r)
	}
	return pages
}

// rows runs a statement and returns its columns' names and rows; it fails
// the test on an error.
func (c *client) rows(sqlText string) ([]string, [][]any) {
	c.t.Helper()
	var names []string
	var rows [][]any
	pages := c.query(sqlText)
	for _, p := range pages {
		if p.Error != nil {
			c.t.Fatalf("%s: %s: %s", sqlText, p.Error.ErrorName, p.Error.Message)
		}
		if names == nil && p.Columns != nil {
			for _, col := range p.Columns {
				names = append(names, col.Name)
			}
		}
		rows = append(rows, p.Data...)
	}
	return names, rows
}

// mustError runs a statement that must fail and returns the error.
func (c *client) mustError(sqlText string) *wireError {
	c.t.Helper()
	pages := c.query(sqlText)
	last := pages[len(pages)-1]
	if last.Error == nil {
		c.t.Fatalf("%s: no error; last page %s", sqlText, last.raw)
	}
	if last.Stats.State != stateFailed {
		c.t.Fatalf("%s: state %s with an error", sqlText, last.Stats.State)
	}
	return last.Error
}

// getJSON GETs a JSON endpoint into v and returns the status.
func (c *client) getJSON(path string, v any) int {
	c.t.Helper()
	status, body, _ := c.do(c.request("GET", c.base+path, "", c.user))
	if status == http.StatusOK && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			c.t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return status
}

// postJSON POSTs to a JSON endpoint and returns the status and body.
func (c *client) postJSON(path string, v any) (int, string) {
	c.t.Helper()
	status, body, _ := c.do(c.request("POST", c.base+path, "", c.user))
	if status < 300 && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			c.t.Fatalf("POST %s: %v in %s", path, err, body)
		}
	}
	return status, string(body)
}

// waitFor polls cond until it holds, failing the test after timeout. No
// sleeps to wait for things: the condition is checked every few
// milliseconds until the deadline.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "NULL"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
