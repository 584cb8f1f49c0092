package lua

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"
	"time"
)

// TestMemoryGuard: code that grows the heap without bound is interrupted
// with ErrMemoryLimit long before its deadline, the state is not reused,
// the next call runs normally, and Close undoes the soft memory limit.
func TestMemoryGuard(t *testing.T) {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Skip("GOMEMLIMIT is set")
	}
	sh := NewShared(1, NewMetrics(nil))
	const limit = 96 << 20
	sh.GuardMemory(limit, nil)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("soft memory limit %d, want %d", got, limit)
	}
	e := testEngine(t, Options{Shared: sh})
	r := run(t, e, KindWebhook, `
local t, i = {}, 0
while true do
  i = i + 1
  t[i] = string.rep("x", 4000) .. i
end`, func(c *Call) { c.Timeout = time.Minute })
	if !errors.Is(r.Err, ErrMemoryLimit) || r.TimedOut {
		t.Fatalf("runaway call: err %v, timed out %v (want %v)", r.Err, r.TimedOut, ErrMemoryLimit)
	}
	if r := run(t, e, KindWebhook, `result = {exit_code = 0, message = "fine"}`, nil); r.Err != nil || r.Message != "fine" {
		t.Fatalf("next call: %+v", r)
	}
	sh.Close()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("soft memory limit after Close %d, want none", got)
	}
}
