package checkpoint

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock hands out one ticker whose ticks the test sends by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	c       chan time.Time
	stopped chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: epoch, c: make(chan time.Time), stopped: make(chan struct{})}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTicker(time.Duration) Ticker { return fakeTicker{f} }

// tick sets the time and delivers a tick; it returns once Run received it.
func (f *fakeClock) tick(at time.Duration) {
	f.mu.Lock()
	f.now = epoch.Add(at)
	f.mu.Unlock()
	f.c <- f.now
}

type fakeTicker struct{ f *fakeClock }

func (t fakeTicker) C() <-chan time.Time { return t.f.c }
func (t fakeTicker) Stop()               { close(t.f.stopped) }

type driverRig struct {
	clock    *fakeClock
	d        *Driver
	events   chan string
	done     chan error
	cancel   context.CancelFunc
	complete func(Complete) error
}

// newRig starts a driver over a coordinator with tasks a/0 and b/0. Every
// action is reported on events; OnTrigger acks from a/0 at once, from inside
// the callback (the event methods must not block).
func newRig(t *testing.T, cfg Config) *driverRig {
	t.Helper()
	cfg.Tasks = []TaskID{{"a", 0}, {"b", 0}}
	c, err := NewCoordinator(cfg, epoch)
	if err != nil {
		t.Fatal(err)
	}
	r := &driverRig{clock: newFakeClock(), events: make(chan string, 100), done: make(chan error, 1)}
	r.d = NewDriver(c, r.clock, time.Second, Callbacks{
		OnTrigger: func(tr Trigger) {
			r.events <- "trigger " + tr.Kind.String()
			if err := r.d.Ack(tr.ID, TaskID{"a", 0}, AckInfo{}); err != nil {
				t.Error(err)
			}
		},
		OnComplete: func(c Complete) error {
			r.events <- "complete " + c.Metadata.Kind.String()
			if r.complete != nil {
				return r.complete(c)
			}
			return nil
		},
		OnAbort: func(a Abort) { r.events <- "abort: " + a.Reason },
		OnFail:  func(f Fail) { r.events <- "fail" },
		OnStop:  func(s Stop) { r.events <- "stop" },
	})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	t.Cleanup(cancel)
	return r
}

func (r *driverRig) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-r.events:
			if got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %q", w)
		}
	}
}

func (r *driverRig) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		select {
		case <-r.clock.stopped:
		default:
			t.Fatal("Run returned without stopping its ticker")
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestDriverCycleAndCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newRig(t, Config{Interval: 10 * time.Second, Timeout: 5 * time.Second, TolerableFailures: 5})
	r.clock.tick(5 * time.Second)
	r.clock.tick(10 * time.Second)
	r.expect(t, "trigger checkpoint")
	if err := r.d.Ack(1, TaskID{"b", 0}, AckInfo{Bytes: 3}); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "complete checkpoint")
	// a checkpoint that is not acked by b/0 times out
	r.clock.tick(20 * time.Second)
	r.expect(t, "trigger checkpoint")
	r.clock.tick(25 * time.Second)
	r.expect(t, "abort: timed out after 5s")

	r.cancel()
	if err := r.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if err := r.d.Savepoint(); !errors.Is(err, ErrDriverStopped) {
		t.Fatalf("Savepoint after Run: %v", err)
	}
	// No goroutine left behind: Run started none, and it has returned.
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestDriverCompletionFailure(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, Timeout: 5 * time.Second, TolerableFailures: 1})
	r.complete = func(Complete) error { return errors.New("disk full") }
	r.clock.tick(10 * time.Second)
	r.expect(t, "trigger checkpoint")
	r.d.Ack(1, TaskID{"b", 0}, AckInfo{})
	r.expect(t, "complete checkpoint", "abort: metadata not persisted: disk full")
	r.clock.tick(20 * time.Second)
	r.expect(t, "trigger checkpoint")
	r.d.Ack(2, TaskID{"b", 0}, AckInfo{})
	r.expect(t, "complete checkpoint", "abort: metadata not persisted: disk full", "fail")
	var fe *FailError
	if err := r.wait(t); !errors.As(err, &fe) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestDriverStopWithSavepoint(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, Timeout: 5 * time.Second})
	if err := r.d.StopWithSavepoint(); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "trigger savepoint")
	r.d.Ack(1, TaskID{"b", 0}, AckInfo{})
	r.expect(t, "complete savepoint", "stop")
	if err := r.wait(t); err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

func TestDriverStopSavepointNotPersisted(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, Timeout: 5 * time.Second})
	r.complete = func(Complete) error { return errors.New("read-only file system") }
	r.d.StopWithSavepoint()
	r.expect(t, "trigger savepoint")
	r.d.Ack(1, TaskID{"b", 0}, AckInfo{})
	r.expect(t, "complete savepoint")
	if err := r.wait(t); err == nil {
		t.Fatal("Run returned nil although the stop savepoint was not persisted")
	}
}
