package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/weirsql/weir/cmd/internal/server"
	"github.com/weirsql/weir/exec"
)

// parseServeArgs parses 'weir serve' flags into a server configuration.
func parseServeArgs(args []string) (server.Config, error) {
	var c server.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "")
	fs.StringVar(&c.DataDir, "data-dir", "", "")
	fs.StringVar(&c.AuthTokenFile, "auth-token-file", "", "")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "")
	fs.StringVar(&c.TLSKey, "tls-key", "", "")
	fs.DurationVar(&c.QueryExpiry, "query-expiry", 5*time.Minute, "")
	fs.DurationVar(&c.PollWait, "poll-wait", time.Second, "")
	fs.Int64Var(&c.MaxBodyBytes, "max-statement-bytes", 1<<20, "")
	fs.IntVar(&c.ResultBufferBytes, "result-buffer-bytes", 4<<20, "")
	fs.IntVar(&c.MaxRunningQueries, "max-queries", 64, "")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", 10*time.Second, "")
	fs.DurationVar(&c.CheckpointTimeout, "checkpoint-timeout", 10*time.Minute, "")
	fs.IntVar(&c.CheckpointRetain, "checkpoint-retain", 3, "")
	fs.IntVar(&c.CheckpointFullEvery, "checkpoint-full-every", 10, "")
	delivery := fs.String("delivery", "exactly-once", "")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch *delivery {
	case "exactly-once":
		c.Delivery = exec.DeliveryExactlyOnce
	case "at-least-once":
		c.Delivery = exec.DeliveryAtLeastOnce
	default:
		return c, fmt.Errorf("unknown --delivery %q (want exactly-once or at-least-once)", *delivery)
	}
	positive := []struct {
		name string
		ok   bool
	}{
		{"--query-expiry", c.QueryExpiry > 0},
		{"--poll-wait", c.PollWait > 0},
		{"--max-statement-bytes", c.MaxBodyBytes > 0},
		{"--result-buffer-bytes", c.ResultBufferBytes > 0},
		{"--max-queries", c.MaxRunningQueries > 0},
		{"--checkpoint-interval", c.CheckpointInterval >= 10*time.Millisecond},
		{"--checkpoint-timeout", c.CheckpointTimeout > 0},
		{"--checkpoint-retain", c.CheckpointRetain > 0},
		{"--checkpoint-full-every", c.CheckpointFullEvery > 0},
	}
	for _, p := range positive {
		if !p.ok {
			return c, fmt.Errorf("%s must be positive (--checkpoint-interval at least 10ms)", p.name)
		}
	}
	return c, nil
}

func cmdServe(ctx context.Context, args []string, e *env) int {
	cfg, err := parseServeArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, serveHelp())
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "weir serve: %v\nRun 'weir help serve' for usage.\n", err)
		return exitUsage
	}
	cfg.Version = versionString()
	cfg.Log = e.stderr
	ln, err := server.Listen(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "weir serve: %v\n", err)
		return exitError
	}
	srv, err := server.New(cfg)
	if err != nil {
		ln.Close()
		fmt.Fprintf(e.stderr, "weir serve: %v\n", err)
		return exitError
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	data := srv.DataDir()
	if cfg.DataDir == "" {
		data += " (temporary: pass --data-dir to keep the catalog and jobs across restarts)"
	}
	fmt.Fprintf(e.stderr, "weir serve: listening on %s://%s, data in %s\n", scheme, ln.Addr(), data)
	if cfg.AuthTokenFile != "" && cfg.TLSCert == "" {
		fmt.Fprintln(e.stderr, "weir serve: warning: bearer tokens travel in clear text without --tls-cert/--tls-key")
	}
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintf(e.stderr, "weir serve: %v\n", err)
		return exitError
	}
	fmt.Fprintln(e.stderr, "weir serve: stopped")
	return exitOK
}

func serveHelp() string {
	return `Usage:
  weir serve [flags]

Runs a long-running server: one catalog shared by every client (DDL from any
client is visible to all), queries over the Trino client protocol (the Go
database/sql driver github.com/trinodb/trino-go-client works unchanged), and
INSERT INTO jobs that run in the background with checkpoints. Ctrl-C (or
SIGTERM) stops it; running jobs resume from their checkpoints at the next
start with the same --data-dir.

Endpoints:
  POST /v1/statement             run one statement (Trino protocol; GET the
                                 nextUri for pages, DELETE it to cancel)
  GET  /v1/query[/ID]            queries the server holds; DELETE to cancel
  GET  /v1/info                  server information
  GET  /v1/jobs[/ID]             jobs; detail with plan, metrics, events
  POST /v1/jobs/ID/stop          stop (?savepoint=true: with a savepoint)
  POST /v1/jobs/ID/savepoint     take a savepoint
  POST /v1/jobs/ID/resume        restart a stopped, cancelled or failed job
  GET  /v1/jobs/ID/checkpoints   checkpoint history with phase durations
  GET  /metrics                  Prometheus text format

Flags (- and -- are equivalent):
  --listen ADDR                 address to listen on (default 127.0.0.1:8080;
                                port 0 picks a free one). An address reachable
                                beyond this machine needs --auth-token-file
  --data-dir DIR                keep the catalog (its DDL, replayed at start)
                                and the jobs (SQL, state, checkpoints) in DIR
                                (default: a temporary directory)
  --auth-token-file FILE        lines "USER TOKEN" (tokens of 16+ characters):
                                clients send Authorization: Bearer TOKEN, or
                                basic auth USER:TOKEN over TLS
  --tls-cert FILE, --tls-key FILE
                                serve HTTPS
  --query-expiry D              cancel and forget a query nobody polled for D
                                (default 5m)
  --poll-wait D                 how long a poll waits for rows (default 1s)
  --max-statement-bytes N       longest statement accepted (default 1048576)
  --result-buffer-bytes N       rows a query buffers for its client before it
                                pauses (default 4194304)
  --max-queries N               statements running at once (default 64)
  --checkpoint-interval D       jobs' checkpoint interval (default 10s);
                                also --checkpoint-timeout (10m),
                                --checkpoint-retain (3),
                                --checkpoint-full-every (10)
  --delivery MODE               exactly-once (default) or at-least-once

Exit status: 0 after a clean stop; 1 if the server cannot start; 2 usage.
`
}
