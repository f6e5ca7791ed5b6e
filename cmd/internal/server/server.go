package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql"
)

// Config configures a server. Zero values take the defaults in brackets.
type Config struct {
	// Listen is the address to listen on [127.0.0.1:8080].
	Listen string
	// DataDir holds the catalog and the jobs across restarts; "" keeps
	// them in a temporary directory removed by Close.
	DataDir string
	// AuthTokenFile holds "USER TOKEN" lines (auth.go); required when
	// Listen is not a loopback address.
	AuthTokenFile string
	// TLSCert and TLSKey (PEM files) turn on HTTPS; both or neither.
	TLSCert, TLSKey string

	// QueryExpiry: a query nobody polls for this long is cancelled and
	// forgotten [5m].
	QueryExpiry time.Duration
	// PollWait: how long a poll waits for rows before answering an empty
	// page [1s].
	PollWait time.Duration
	// MaxBodyBytes bounds a statement's text [1 MiB].
	MaxBodyBytes int64
	// ResultBufferBytes: encoded rows a query buffers for its client before
	// the query is paused (back pressure) [4 MiB].
	ResultBufferBytes int
	// PageBytes: encoded rows per page [1 MiB].
	PageBytes int
	// MaxRunningQueries: statements running at once [64].
	MaxRunningQueries int

	// Checkpoint settings of INSERT jobs: interval [10s], timeout [10m],
	// complete checkpoints kept [3], every K-th full [10], delivery
	// [exactly-once].
	CheckpointInterval  time.Duration
	CheckpointTimeout   time.Duration
	CheckpointRetain    int
	CheckpointFullEvery int
	Delivery            exec.DeliveryMode

	// Version is reported by /v1/info.
	Version string
	// Log receives the server's own messages [os.Stderr].
	Log io.Writer
}

const (
	defaultListen = "127.0.0.1:8080"
	maxBodyLimit  = 64 << 20
)

func (c *Config) defaults() error {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.QueryExpiry <= 0 {
		c.QueryExpiry = 5 * time.Minute
	}
	if c.PollWait <= 0 {
		c.PollWait = time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxBodyBytes > maxBodyLimit {
		return fmt.Errorf("the statement size limit must be at most %d bytes", maxBodyLimit)
	}
	if c.ResultBufferBytes <= 0 {
		c.ResultBufferBytes = 4 << 20
	}
	if c.PageBytes <= 0 {
		c.PageBytes = 1 << 20
	}
	if c.MaxRunningQueries <= 0 {
		c.MaxRunningQueries = 64
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 10 * time.Second
	}
	if c.CheckpointTimeout <= 0 {
		c.CheckpointTimeout = 10 * time.Minute
	}
	if c.CheckpointRetain <= 0 {
		c.CheckpointRetain = 3
	}
	if c.CheckpointFullEvery <= 0 {
		c.CheckpointFullEvery = 10
	}
	if c.Version == "" {
		c.Version = "devel"
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	return nil
}

// Server is a running weir serve: the catalog, the queries, the jobs.
type Server struct {
	cfg     Config
	auth    *authenticator // nil: no authentication
	tls     bool
	cat     *catalogStore
	queries *registry
	jobs    *jobManager
	started time.Time
	now     func() time.Time

	dataDir  string
	tempData bool
	lock     *os.File

	ctx    context.Context // parent of every query
	cancel context.CancelCauseFunc

	janitorStop chan struct{}
	janitorDone chan struct{}
	closeOnce   sync.Once
	seq         atomic.Uint64
	executing   atomic.Int64 // statements whose goroutine has not returned
}

// Listen opens cfg.Listen, refusing an address beyond loopback without
// authentication, and wraps it in TLS when configured.
func Listen(cfg Config) (net.Listener, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	addr, _ := ln.Addr().(*net.TCPAddr)
	if (addr == nil || !addr.IP.IsLoopback()) && cfg.AuthTokenFile == "" {
		ln.Close()
		return nil, fmt.Errorf("refusing to listen on %s without authentication: it is reachable beyond this machine; "+
			"pass --auth-token-file FILE (and --tls-cert/--tls-key), or listen on 127.0.0.1", cfg.Listen)
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("loading the TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	return ln, nil
}

// New opens the data directory (locking it against a second server),
// rebuilds the catalog from it and resumes the jobs that were running.
func New(cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, started: time.Now(), now: time.Now, tls: cfg.TLSCert != "",
		janitorStop: make(chan struct{}), janitorDone: make(chan struct{})}
	if cfg.AuthTokenFile != "" {
		a, err := loadTokens(cfg.AuthTokenFile)
		if err != nil {
			return nil, err
		}
		s.auth = a
	}
	s.dataDir = cfg.DataDir
	if s.dataDir == "" {
		d, err := os.MkdirTemp("", "weir-serve-")
		if err != nil {
			return nil, err
		}
		s.dataDir, s.tempData = d, true
	}
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return nil, err
	}
	lock, err := lockDir(s.dataDir)
	if err != nil {
		s.removeTemp()
		return nil, err
	}
	s.lock = lock
	fail := func(err error) (*Server, error) {
		s.lock.Close()
		s.removeTemp()
		return nil, err
	}

	s.cat = newCatalogStore(filepath.Join(s.dataDir, "catalog.jsonl"), cfg.Log)
	if _, err := s.cat.replay(); err != nil {
		return fail(err)
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.queries = newRegistry(cfg.QueryExpiry)
	jm, err := newJobManager(filepath.Join(s.dataDir, "jobs"), jobOptions{interval: cfg.CheckpointInterval,
		timeout: cfg.CheckpointTimeout, retain: cfg.CheckpointRetain, fullEvery: cfg.CheckpointFullEvery,
		delivery: cfg.Delivery}, cfg.Log)
	if err != nil {
		return fail(err)
	}
	s.jobs = jm
	n, err := jm.load(s.planJob)
	if err != nil {
		jm.shutdown(time.Minute)
		return fail(err)
	}
	if n > 0 {
		fmt.Fprintf(cfg.Log, "weir serve: resumed %d job(s) from their checkpoints\n", n)
	}
	go s.janitor()
	return s, nil
}

// planJob plans a job's INSERT again from its SQL and settings, against
// the catalog it was first planned against.
func (s *Server) planJob(rec jobRecord) (*planner.Plan, error) {
	st, err := sql.ParseOne(rec.SQL)
	if err != nil {
		return nil, err
	}
	cat, err := s.cat.catalogAt(rec.CatalogVersion)
	if err != nil {
		return nil, err
	}
	sess := sql.NewSessionWithCatalog(cat)
	for k, v := range rec.Settings {
		if err := sess.Set(k, v); err != nil {
			return nil, err
		}
	}
	return sess.PlanInsert(st)
}

// DataDir is where the catalog and jobs live.
func (s *Server) DataDir() string { return s.dataDir }

// Serve answers requests on ln until ctx is cancelled, then shuts down:
// requests in flight get a few seconds to finish, then Close runs.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(s.cfg.Log, "weir serve: http: ", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = hs.Shutdown(sctx)
		cancel()
	}
	s.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close cancels every query and job (jobs stay RUNNING on disk and resume
// at the next start) and releases the data directory.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.janitorStop)
		<-s.janitorDone
		s.cancel(errShutdown)
		s.queries.stopAll(errShutdown)
		if !s.jobs.shutdown(30 * time.Second) {
			fmt.Fprintln(s.cfg.Log, "weir serve: some jobs did not stop within 30s")
		}
		s.lock.Close()
		s.removeTemp()
	})
}

func (s *Server) removeTemp() {
	if s.tempData {
		_ = os.RemoveAll(s.dataDir)
	}
}

// janitor expires queries nobody polls.
func (s *Server) janitor() {
	defer close(s.janitorDone)
	every := min(max(s.cfg.QueryExpiry/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.janitorStop:
			return
		case <-t.C:
			s.queries.expire(s.now())
		}
	}
}

// lockDir takes an exclusive lock on dir/.lock, so that two servers never
// share a data directory. The kernel drops it when the process dies.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another weir serve: %w", dir, err)
	}
	return f, nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID returns n random bytes from crypto/rand, base32-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return idEncoding.EncodeToString(b)
}

// newQueryID returns an id shaped like Trino's (time, sequence) with 128
// random bits appended: it names the query in DELETE /v1/query/{id}, which
// the Go driver sends without credentials of its own when the server has
// no authentication.
func (s *Server) newQueryID(now time.Time) string {
	return fmt.Sprintf("%s_%05d_%s", now.UTC().Format("20060102_150405"), s.seq.Add(1)%100000, randomID(16))
}

// ---------------------------------------------------------------- HTTP

// Handler routes the server's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/statement", s.handleStatement)
	mux.HandleFunc("HEAD /v1/statement", s.handleStatementHead)
	mux.HandleFunc("GET /v1/statement/executing/{id}/{slug}/{token}", s.handlePoll)
	mux.HandleFunc("DELETE /v1/statement/executing/{id}/{slug}/{token}", s.handlePollCancel)
	mux.HandleFunc("GET /v1/query", s.handleQueryList)
	mux.HandleFunc("GET /v1/query/{id}", s.handleQueryInfo)
	mux.HandleFunc("DELETE /v1/query/{id}", s.handleQueryCancel)
	mux.HandleFunc("GET /v1/info", s.handleInfo)
	mux.HandleFunc("GET /v1/jobs", s.handleJobList)
	mux.HandleFunc("GET /v1/jobs/{id}", s.handleJob)
	mux.HandleFunc("POST /v1/jobs/{id}/stop", s.handleJobStop)
	mux.HandleFunc("POST /v1/jobs/{id}/savepoint", s.handleJobSavepoint)
	mux.HandleFunc("POST /v1/jobs/{id}/resume", s.handleJobResume)
	mux.HandleFunc("GET /v1/jobs/{id}/checkpoints", s.handleJobCheckpoints)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	// Browsers: refuse cross-site POST/DELETE (a web page must not run SQL
	// or stop jobs on a server it can reach) and, without authentication,
	// requests whose Host is not a loopback name (DNS rebinding).
	return http.NewCrossOriginProtection().Handler(s.checkHost(mux))
}

func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.auth == nil && !loopbackHost(r.Host) {
			http.Error(w, "Host "+r.Host+" is not a loopback address: a server without authentication answers only requests for 127.0.0.1, ::1 or localhost", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// base is the scheme and host that nextUri and infoUri start with.
func (s *Server) base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// writeJSON answers v, indented for people reading curl's output.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // SQL has < and >
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeResults(w http.ResponseWriter, body []byte, header map[string][]string) {
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// handleStatement: POST /v1/statement. The body is one statement. The
// answer has the query's id and first nextUri and no rows; the statement
// runs in the background. A statement that does not parse, or a full
// server, is answered at once with the error.
func (s *Server) handleStatement(w http.ResponseWriter, r *http.Request) {
	user, aerr := s.identify(r)
	if aerr != nil {
		s.refuse(w, aerr)
		return
	}
	if user == "" {
		http.Error(w, "X-Trino-User must be set (the Go driver: http://USER@host:port)", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("the statement is longer than %d bytes", tooBig.Limit), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "reading the statement: "+err.Error(), http.StatusBadRequest)
		return
	}
	text := string(body)
	now := s.now()
	q := newQuery(s.ctx, s.newQueryID(now), randomID(16), user, text,
		queryLimits{bufferBytes: s.cfg.ResultBufferBytes, pageBytes: s.cfg.PageBytes, pollWait: s.cfg.PollWait}, now)
	base := s.base(r)
	failNow := func(e *wireError) {
		q.cancel(nil)
		res := queryResults{ID: q.id, InfoURI: base + "/v1/query/" + q.id, Error: e, Warnings: []wireWarning{}}
		res.Stats.State = stateFailed
		body, err := json.Marshal(res)
		if err != nil {
			panic(err) // plain structs
		}
		writeResults(w, body, nil)
	}
	st, err := sql.ParseOne(text)
	if err != nil {
		failNow(errorOf(err))
		return
	}
	if !s.reserve() {
		failNow(newError(codeQueryQueueFull, nameQueryQueueFull, errorTypeResources,
			fmt.Sprintf("too many statements running (%d); try again later", s.cfg.MaxRunningQueries)))
		return
	}
	s.queries.add(q)
	props := sessionProperties(r.Header.Values("X-Trino-Session"))
	go func() {
		defer close(q.exited)
		setSession, err := s.execute(q.ctx, q, st, props)
		s.executing.Add(-1) // before the last page can be served
		q.finish(err, setSession)
	}()
	writeResults(w, q.firstResponse(base), nil)
}

// reserve counts a statement about to run, unless MaxRunningQueries run.
// A cancelled statement counts until its goroutine has returned.
func (s *Server) reserve() bool {
	for {
		n := s.executing.Load()
		if n >= int64(s.cfg.MaxRunningQueries) {
			return false
		}
		if s.executing.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// handleStatementHead: HEAD /v1/statement, which the Go driver's Ping
// sends to check the credentials.
func (s *Server) handleStatementHead(w http.ResponseWriter, r *http.Request) {
	if _, aerr := s.identify(r); aerr != nil {
		s.refuse(w, aerr)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// pollTarget finds the query of a nextUri and checks who asks.
func (s *Server) pollTarget(w http.ResponseWriter, r *http.Request) *query {
	user, aerr := s.identify(r)
	if aerr != nil {
		s.refuse(w, aerr)
		return nil
	}
	q := s.queries.get(r.PathValue("id"))
	if q == nil || !q.checkSlug(r.PathValue("slug")) {
		http.Error(w, "no such query: it finished, was cancelled or expired", http.StatusNotFound)
		return nil
	}
	if aerr := s.authorize(user, q.owner, "query "+q.id); aerr != nil {
		s.refuse(w, aerr)
		return nil
	}
	return q
}

// handlePoll: GET of a nextUri.
func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request) {
	q := s.pollTarget(w, r)
	if q == nil {
		return
	}
	token, err := strconv.ParseUint(r.PathValue("token"), 10, 64)
	if err != nil {
		http.Error(w, "bad page token", http.StatusBadRequest)
		return
	}
	p, err := q.poll(r.Context(), token, s.base(r), s.now)
	switch {
	case errors.Is(err, errGone):
		http.Error(w, err.Error(), http.StatusGone)
		return
	case err != nil: // the client went away
		return
	}
	writeResults(w, p.body, p.header)
}

// handlePollCancel: DELETE of a nextUri.
func (s *Server) handlePollCancel(w http.ResponseWriter, r *http.Request) {
	q := s.pollTarget(w, r)
	if q == nil {
		return
	}
	s.cancelQuery(q)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) cancelQuery(q *query) {
	s.queries.remove(q.id)
	q.stop(errCanceled)
}

// queryTarget finds the query of /v1/query/{id} and checks who asks.
func (s *Server) queryTarget(w http.ResponseWriter, r *http.Request) *query {
	user, aerr := s.identify(r)
	if aerr != nil {
		s.refuse(w, aerr)
		return nil
	}
	q := s.queries.get(r.PathValue("id"))
	if q == nil {
		http.Error(w, "no such query: it finished, was cancelled or expired", http.StatusNotFound)
		return nil
	}
	if aerr := s.authorize(user, q.owner, "query "+q.id); aerr != nil {
		s.refuse(w, aerr)
		return nil
	}
	return q
}

// handleQueryCancel: DELETE /v1/query/{id}.
func (s *Server) handleQueryCancel(w http.ResponseWriter, r *http.Request) {
	if q := s.queryTarget(w, r); q != nil {
		s.cancelQuery(q)
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleQueryInfo: GET /v1/query/{id}.
func (s *Server) handleQueryInfo(w http.ResponseWriter, r *http.Request) {
	if q := s.queryTarget(w, r); q != nil {
		writeJSON(w, http.StatusOK, q.info())
	}
}

// handleQueryList: GET /v1/query lists the queries the server holds:
// running ones, and finished ones until they expire. With authentication,
// only the caller's own; without, those of the X-Trino-User named, or all.
func (s *Server) handleQueryList(w http.ResponseWriter, r *http.Request) {
	user, aerr := s.identify(r)
	if aerr != nil {
		s.refuse(w, aerr)
		return
	}
	out := []queryInfo{}
	for _, q := range s.queries.list() {
		if user == "" || q.owner == user {
			out = append(out, q.info())
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleInfo: GET /v1/info (no authentication, as in Trino).
func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"nodeVersion": map[string]string{"version": s.cfg.Version},
		"environment": "weir",
		"coordinator": true,
		"starting":    false,
		"uptime":      fmt.Sprintf("%.2fs", s.now().Sub(s.started).Seconds()),
	})
}
