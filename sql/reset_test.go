package sql

import "testing"

// A bare RESET resets every setting (it used to list them, as a bare SET
// does).
func TestBareReset(t *testing.T) {
	s := NewSession()
	execAll(t, s, "SET parallelism = 3; SET 'pipeline.max-parallelism' = '64'; RESET;")
	if got := s.Settings(); got["parallelism"] != "1" || got["max-key-groups"] != "128" {
		t.Fatalf("after RESET: %v", got)
	}
}
