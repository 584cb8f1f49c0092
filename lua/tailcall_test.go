package lua

import (
	"strings"
	"testing"
	"time"
)

// TestNoProperTailCalls: tail calls are plain calls. Results (several
// values, varargs, methods) are unchanged; runaway tail recursion ends at
// once with a stack overflow instead of running into its deadline.
func TestNoProperTailCalls(t *testing.T) {
	e := testEngine(t, Options{})
	ok := []string{
		`local function two() return 1, 2 end
		 local function f() return two() end
		 local a, b = f(); assert(a == 1 and b == 2)`,
		`local function pass(...) return select("#", ...), ... end
		 local function f(...) return pass(...) end
		 local n, x, y = f("a", nil); assert(n == 2 and x == "a" and y == nil)`,
		`local o = {v = 7}; function o:get() return self.v end
		 local function f() return o:get() end; assert(f() == 7)`,
		`local function count(i, n) if i == n then return i end return count(i + 1, n) end
		 assert(count(1, 150) == 150)`,
		`local f = function() return string.format("%d-%s", 4, "x") end; assert(f() == "4-x")`,
	}
	for _, code := range ok {
		if r := run(t, e, KindWebhook, code, nil); r.Err != nil {
			t.Errorf("%s: %v", code, r.Err)
		}
	}
	start := time.Now()
	r := run(t, e, KindWebhook, `local function f(n) return f(n + 1) end f(1)`, func(c *Call) { c.Timeout = 30 * time.Second })
	if r.Err == nil || !strings.Contains(r.Err.Error(), "stack overflow") || r.TimedOut {
		t.Fatalf("runaway tail recursion: %v (timed out %v) after %v", r.Err, r.TimedOut, time.Since(start))
	}
}
