package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// Query states, as stats.state reports them.
const (
	stateQueued   = "QUEUED"
	stateRunning  = "RUNNING"
	stateFinished = "FINISHED"
	stateFailed   = "FAILED"
)

// Why a query's context was cancelled (context.Cause).
var (
	errCanceled  = errors.New("query cancelled by the client")
	errAbandoned = errors.New("query abandoned: no client polled it")
	errShutdown  = errors.New("the server is shutting down")
)

// query is one statement submitted with POST /v1/statement: the producer
// side (the statement's goroutine, through querySink) appends encoded rows;
// the consumer side (GET of a nextUri) turns them into pages.
//
// Memory is bounded twice: the rows waiting for a poll are at most
// bufferBytes (plus one chunk), beyond which the producer blocks (back
// pressure reaches the query's operators through the runtime's channels);
// a page carries at most pageBytes (plus one chunk). Only the last page
// served is kept, so that a client retrying a GET gets the same page.
type query struct {
	id      string // public id (DELETE /v1/query/{id}); unguessable
	slug    string // the secret part of nextUri
	owner   string
	sql     string
	created time.Time

	ctx    context.Context // cancelled with a cause when the query ends early
	cancel context.CancelCauseFunc
	exited chan struct{} // closed when the statement's goroutine has returned

	limits queryLimits

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every change (a broadcast)
	started      bool
	columns      []wireColumn
	updateType   string
	pending      []chunk
	pendingBytes int
	warnings     []wireWarning
	setSession   []string // X-Trino-Set-Session values, sent with the last page
	done         bool     // the statement has returned
	err          *wireError
	rowsProduced int64
	rowsPaged    int64
	lastAccess   time.Time
	polling      int  // polls in progress
	final        bool // the last page has been built

	pollMu sync.Mutex // serializes polls
	last   *page      // the page served last, for retries
	next   uint64     // token of the next page
}

// queryLimits bound one query's memory and polls.
type queryLimits struct {
	bufferBytes int           // rows waiting for a poll before the producer blocks
	pageBytes   int           // rows per page
	pollWait    time.Duration // how long a poll waits for rows
}

// chunk is encoded rows, comma-separated, ready to be put in a page's data
// array.
type chunk struct {
	buf  []byte
	rows int
}

const chunkBytes = 64 << 10

// page is one answer to a GET of a nextUri, encoded.
type page struct {
	token  uint64
	body   []byte
	header map[string][]string
}

func newQuery(parent context.Context, id, slug, owner, text string, limits queryLimits, now time.Time) *query {
	ctx, cancel := context.WithCancelCause(parent)
	return &query{id: id, slug: slug, owner: owner, sql: text, created: now, ctx: ctx, cancel: cancel,
		exited: make(chan struct{}), limits: limits, changed: make(chan struct{}), lastAccess: now}
}

// signal wakes everyone waiting for a change. Callers hold q.mu.
func (q *query) signal() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// checkSlug compares the secret in constant time.
func (q *query) checkSlug(slug string) bool {
	return subtle.ConstantTimeCompare([]byte(q.slug), []byte(slug)) == 1
}

// ---------------------------------------------------------------- producer

func (q *query) setStarted() {
	q.mu.Lock()
	q.started = true
	q.signal()
	q.mu.Unlock()
}

func (q *query) setColumns(cols []wireColumn) {
	q.mu.Lock()
	q.columns = cols
	q.signal()
	q.mu.Unlock()
}

func (q *query) addWarning(msg string) {
	q.mu.Lock()
	q.warnings = append(q.warnings, wireWarning{WarningCode: noticeWarning, Message: msg})
	q.signal()
	q.mu.Unlock()
}

// push appends encoded rows, blocking while bufferBytes are waiting. It
// returns the cause of the query's cancellation if it ends meanwhile.
func (q *query) push(c chunk) error {
	q.mu.Lock()
	for q.pendingBytes >= q.limits.bufferBytes {
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-q.ctx.Done():
			return context.Cause(q.ctx)
		}
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	if err := q.ctx.Err(); err != nil {
		return context.Cause(q.ctx)
	}
	q.pending = append(q.pending, c)
	q.pendingBytes += len(c.buf)
	q.rowsProduced += int64(c.rows)
	q.signal()
	return nil
}

// pushBatch encodes a batch into chunks and pushes them; op says whether
// rows carry their kind as a first column.
func (q *query) pushBatch(b *types.Batch, op bool) error {
	var c chunk
	for i, row := range b.Rows {
		if c.rows > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = appendRow(c.buf, row, op, b.Kind(i))
		c.rows++
		if len(c.buf) >= chunkBytes {
			if err := q.push(c); err != nil {
				return err
			}
			c = chunk{}
		}
	}
	if c.rows > 0 {
		return q.push(c)
	}
	return nil
}

// finish records the statement's end. err is what it returned; when the
// query was cancelled, the cause wins over the error it provoked.
func (q *query) finish(err error, setSession []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return
	}
	q.done = true
	q.setSession = setSession
	if q.ctx.Err() != nil {
		err = context.Cause(q.ctx)
	}
	switch {
	case err == nil:
	case errors.Is(err, errCanceled):
		q.err = newError(codeUserCanceled, nameUserCanceled, errorTypeUser, "Query was canceled")
	case errors.Is(err, errAbandoned):
		q.err = newError(codeAbandoned, nameAbandonedQuery, errorTypeUser, err.Error())
	case errors.Is(err, errShutdown):
		q.err = newError(codeGenericInternal, "SERVER_SHUTTING_DOWN", errorTypeInternal, err.Error())
	default:
		q.err = errorOf(err)
	}
	q.signal()
}

// stop cancels the query with cause (errCanceled, errAbandoned,
// errShutdown): a producer blocked in push returns, the statement's job is
// cancelled, and a poll waiting for rows answers at once.
func (q *query) stop(cause error) {
	q.cancel(cause)
	q.finish(cause, nil)
}

// ---------------------------------------------------------------- consumer

// errGone: a token that is neither the last page (a retry) nor the next.
var errGone = errors.New("this page is gone: poll the nextUri of the last page received")

// poll returns page token, waiting up to pollWait for rows. base is the
// URL prefix of nextUri and infoUri ("http://host:port").
func (q *query) poll(ctx context.Context, token uint64, base string, now func() time.Time) (*page, error) {
	q.pollMu.Lock()
	defer q.pollMu.Unlock()
	q.access(now(), 1)
	defer func() { q.access(now(), -1) }()

	if q.last != nil && token == q.last.token {
		return q.last, nil
	}
	if token != q.next || q.final {
		return nil, errGone
	}
	timer := time.NewTimer(q.limits.pollWait)
	defer timer.Stop()
	q.mu.Lock()
	for waiting := true; waiting && len(q.pending) == 0 && !q.done; {
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			waiting = false
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		q.mu.Lock()
	}
	p := q.buildPage(token, base, now())
	q.mu.Unlock()
	q.last = p
	q.next = token + 1
	return p, nil
}

// buildPage takes up to pageBytes of rows. Callers hold q.mu.
func (q *query) buildPage(token uint64, base string, now time.Time) *page {
	r := queryResults{ID: q.id, InfoURI: base + "/v1/query/" + q.id, Columns: q.columns,
		UpdateType: q.updateType, Warnings: q.warnings}
	if r.Warnings == nil {
		r.Warnings = []wireWarning{}
	}
	var data []byte
	n := 0
	for len(q.pending) > 0 && (n == 0 || len(data)+len(q.pending[0].buf) <= q.limits.pageBytes) {
		c := q.pending[0]
		q.pending[0] = chunk{}
		q.pending = q.pending[1:]
		q.pendingBytes -= len(c.buf)
		if n > 0 {
			data = append(data, ',')
		} else {
			data = append(data, '[')
		}
		data = append(data, c.buf...)
		n += c.rows
	}
	if n > 0 {
		data = append(data, ']')
		q.rowsPaged += int64(n)
		q.signal() // room for the producer
	}
	p := &page{token: token}
	// rows come before an error, never with it
	if q.done && len(q.pending) == 0 && (q.err == nil || n == 0) {
		q.final = true
		r.Stats.State = stateFinished
		if q.err != nil {
			r.Stats.State = stateFailed
			r.Error = q.err
		}
		if len(q.setSession) > 0 {
			p.header = map[string][]string{"X-Trino-Set-Session": q.setSession}
		}
	} else {
		r.Stats.State = stateRunning
		if !q.started {
			r.Stats.State = stateQueued
			r.Stats.Queued = true
		}
		r.NextURI = q.nextURI(base, token+1)
	}
	r.Stats.Scheduled = q.started
	r.Stats.Nodes = 1
	r.Stats.ProcessedRows = q.rowsProduced
	r.Stats.ElapsedMillis = now.Sub(q.created).Milliseconds()
	r.Stats.WallTimeMillis = r.Stats.ElapsedMillis
	body, err := json.Marshal(r)
	if err != nil { // cannot happen: plain structs
		panic(err)
	}
	if n > 0 {
		// splice the rows in rather than have encoding/json re-scan them
		body = append(body[:len(body)-1], `,"data":`...)
		body = append(append(body, data...), '}')
	}
	p.body = body
	return p
}

func (q *query) nextURI(base string, token uint64) string {
	return base + "/v1/statement/executing/" + q.id + "/" + q.slug + "/" + strconv.FormatUint(token, 10)
}

// firstResponse is the answer to the POST: id, infoUri, nextUri and stats,
// no rows (both reference clients drop rows sent with it).
func (q *query) firstResponse(base string) []byte {
	r := queryResults{ID: q.id, InfoURI: base + "/v1/query/" + q.id, NextURI: q.nextURI(base, 0),
		Warnings: []wireWarning{}}
	r.Stats.State = stateQueued
	r.Stats.Queued = true
	body, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return body
}

func (q *query) access(now time.Time, polling int) {
	q.mu.Lock()
	q.lastAccess = now
	q.polling += polling
	q.mu.Unlock()
}

// queryInfo is a query as GET /v1/query lists it.
type queryInfo struct {
	QueryID       string    `json:"queryId"`
	State         string    `json:"state"`
	User          string    `json:"user"`
	Query         string    `json:"query"`
	Created       time.Time `json:"created"`
	LastAccess    time.Time `json:"lastAccess"`
	RowsProduced  int64     `json:"rowsProduced"`
	RowsDelivered int64     `json:"rowsDelivered"`
	BufferedBytes int       `json:"bufferedBytes"`
	Error         string    `json:"error,omitempty"`
}

func (q *query) info() queryInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := stateRunning
	switch {
	case !q.started && !q.done:
		st = stateQueued
	case q.done && q.err != nil:
		st = stateFailed
	case q.final:
		st = stateFinished
	case q.done:
		st = "FINISHING" // rows remain to be polled
	}
	in := queryInfo{QueryID: q.id, State: st, User: q.owner, Query: q.sql, Created: q.created,
		LastAccess: q.lastAccess, RowsProduced: q.rowsProduced, RowsDelivered: q.rowsPaged, BufferedBytes: q.pendingBytes}
	if q.err != nil {
		in.Error = q.err.Message
	}
	return in
}

// ---------------------------------------------------------------- registry

// registry holds the queries by id. It forgets a query nobody polled for
// expiry (cancelling it) or, once its last page was served, for
// min(expiry, finishedTTL).
type registry struct {
	mu     sync.Mutex
	byID   map[string]*query
	expiry time.Duration
	total  int64
}

const finishedTTL = time.Minute

func newRegistry(expiry time.Duration) *registry {
	return &registry{byID: map[string]*query{}, expiry: expiry}
}

func (r *registry) add(q *query) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID[q.id] = q
	r.total++
}

func (r *registry) get(id string) *query {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

func (r *registry) remove(id string) {
	r.mu.Lock()
	delete(r.byID, id)
	r.mu.Unlock()
}

// list returns the queries sorted by creation time.
func (r *registry) list() []*query {
	r.mu.Lock()
	out := make([]*query, 0, len(r.byID))
	for _, q := range r.byID {
		out = append(out, q)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].id < out[j].id
	})
	return out
}

// expire cancels and forgets queries idle too long at now; it returns them.
func (r *registry) expire(now time.Time) []*query {
	var gone []*query
	r.mu.Lock()
	for id, q := range r.byID {
		q.mu.Lock()
		ttl := r.expiry
		if q.final {
			ttl = min(ttl, finishedTTL)
		}
		idle := q.polling == 0 && now.Sub(q.lastAccess) > ttl
		q.mu.Unlock()
		if idle {
			delete(r.byID, id)
			gone = append(gone, q)
		}
	}
	r.mu.Unlock()
	for _, q := range gone {
		q.stop(errAbandoned)
	}
	return gone
}

// stopAll cancels every query (server shutdown).
func (r *registry) stopAll(cause error) {
	for _, q := range r.list() {
		q.stop(cause)
	}
}

// counts returns the number of queries registered, and the total ever
// registered.
func (r *registry) counts() (registered int, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID), r.total
}
