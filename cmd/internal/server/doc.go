// Package server is 'weir serve': a long-running process holding one
// catalog, the queries clients are reading, and background INSERT jobs,
// reached over HTTP.
//
// # The Trino client protocol
//
// Existing Trino clients (the Go database/sql driver
// github.com/trinodb/trino-go-client, the npm trino-client) work unchanged:
//
//	POST /v1/statement                      body = one statement
//	  → {id, infoUri, nextUri, stats}       no rows (clients drop them)
//	GET  nextUri                            the next page: columns, data,
//	  → {..., columns, data, nextUri}       stats, warnings; no nextUri on
//	                                        the last page
//	DELETE nextUri, DELETE /v1/query/{id}   cancel → 204
//	GET  /v1/info, HEAD /v1/statement       what db.Ping sends
//
// A statement runs on its own goroutine from the POST on; its rows are
// encoded as they come (protocol.go: Weir's types as Trino type signatures)
// into the query's buffer (query.go), and each GET of a nextUri takes up to
// a page of them, waiting up to PollWait for some: a streaming query's
// client polls without spinning, and a finished query's last page comes as
// soon as it is ready. The buffer is bounded (ResultBufferBytes): when the
// client reads slower than the query produces, the sink blocks and back
// pressure pauses the query's operators through the runtime's channels.
// Only the last page is kept, so that a retried GET (the Go driver retries
// on network errors) gets the same page; any other old page is gone (410).
// An updating query's rows carry their kind as an extra first column,
// _op (+I, -U, +U, -D). Notices ("Table t created.") come as warnings;
// EXPLAIN as one row of a "Query Plan" column; INSERT as one row of a
// job_id column.
//
// Errors come as HTTP 200 with error{message, errorName, errorCode,
// errorType, errorLocation} and stats.state FAILED: a statement that does
// not parse in the POST answer itself, anything later on a page. They say
// who is to blame (protocol.go, errorOf): the user's SQL (USER_ERROR, with
// the line and column of sql.SQLError), Weir (INTERNAL_ERROR), or what a
// running job met (EXTERNAL).
//
// A query nobody polls for QueryExpiry is cancelled and forgotten (the Go
// driver sends no DELETE when its context is cancelled); cancelling a query
// cancels its statement's context, which stops its job. Query ids and the
// secret part of nextUri come from crypto/rand.
//
// # One catalog, many sessions
//
// Every statement gets its own sql.Session over a private copy of the
// shared catalog (catalog.go; sql.Catalog.Clone re-parses views so that no
// two sessions walk the same AST). A DDL statement runs on a copy that
// replaces the shared catalog when it succeeds; DDL statements are
// serialized and appended (fsynced) to catalog.jsonl in the data directory,
// which is replayed at start. Session settings (SET parallelism = 2) follow
// Trino's session protocol: the answer carries X-Trino-Set-Session, the
// client sends it back as X-Trino-Session on its next statements.
//
// # Jobs
//
// INSERT INTO is planned at once (errors come back to the client) and then
// runs in the background as a job that outlives the client (jobs.go), always
// with checkpoints, in <data>/jobs/<id>/. A job records the catalog version
// it was planned against; after a restart the server plans it again against
// that version and resumes it from its newest complete checkpoint, as
// 'weir run --restore latest' does. A clean shutdown cancels jobs but
// leaves them RUNNING on disk, so they resume too. JSON endpoints
// (jobs_http.go) list jobs, show one (SQL, state, the plan as EXPLAIN
// prints it, per-vertex record counters, subtask statuses, checkpoint
// figures, recent events), stop it (with or without a savepoint), take a
// savepoint, resume it, and list its checkpoints with their synchronous,
// asynchronous and alignment durations and sizes. The same job manager is
// exported without the HTTP server as Jobs (jobs_api.go), for the
// in-process jobs of 'weir shell', together with the documents the
// endpoints answer (JobSummary, JobDetail, CheckpointSummary), which the
// shell also decodes when it talks to a server. /metrics has the same
// figures in the Prometheus text format (metrics.go, which names what the
// runtime does not expose yet).
//
// # Security
//
// Listen refuses an address beyond loopback unless a token file is given.
// With one (auth.go), every request but /v1/info needs a bearer token (or
// basic auth with the token as password, over TLS only), and queries and
// jobs may be touched by their owner only. Without one, a poll that names a
// user other than the owner is refused, and a poll that names none (the Go
// driver's) is authorized by the unguessable nextUri. Browsers cannot be
// used against the server: cross-site POSTs and DELETEs are refused
// (http.CrossOriginProtection) and, without authentication, so is any
// request whose Host is not a loopback name (DNS rebinding). Statement
// bodies are bounded (MaxBodyBytes), and so are result buffers, pages and
// the number of statements running at once.
//
// # Example
//
//	$ weir serve --data-dir /var/lib/weir &
//	weir serve: listening on http://127.0.0.1:8080, data in /var/lib/weir
//
//	db, _ := sql.Open("trino", "http://alice@127.0.0.1:8080?catalog=weir&schema=default")
//	db.Exec(`CREATE TABLE bid (...) WITH ('connector'='nexmark', 'nexmark.table'='bid')`)
//	rows, _ := db.Query("SELECT auction, price FROM bid WHERE price > 1000") // unbounded: rows keep coming
//	var job string
//	db.QueryRow("INSERT INTO big_bids SELECT ...").Scan(&job) // runs on after the program exits
//
//	$ curl -s localhost:8080/v1/jobs/$job              # plan, metrics, checkpoints
//	$ curl -s -XPOST 'localhost:8080/v1/jobs/'$job'/stop?savepoint=true'
package server
