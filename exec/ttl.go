package exec

import (
	"fmt"
	"time"
)

// stateTTL is the processing-time state TTL of an operator (regular joins,
// GroupAgg): 'table.exec.state.ttl'. ms is 0 without one.
type stateTTL struct {
	ms  int64
	now func() int64 // the clock, in ms
}

// newStateTTL checks a configured TTL; now nil is the wall clock.
func newStateTTL(what string, ttl time.Duration, now func() int64) (stateTTL, error) {
	if ttl < 0 {
		return stateTTL{}, fmt.Errorf("%s: negative state TTL %v", what, ttl)
	}
	if ttl == 0 {
		return stateTTL{}, nil
	}
	if now == nil {
		now = func() int64 { return time.Now().UnixMilli() }
	}
	return stateTTL{ms: max(ttl.Milliseconds(), 1), now: now}, nil
}

// tickInterval is how often the TTL sweep runs: a few times per TTL, at
// most once a second; 0 (no ticks) without a TTL.
func (s stateTTL) tickInterval() time.Duration {
	if s.ms <= 0 {
		return 0
	}
	return min(max(time.Duration(s.ms)*time.Millisecond/4, 10*time.Millisecond), time.Second)
}
