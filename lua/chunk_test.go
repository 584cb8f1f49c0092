package lua

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestChunkReuse: a script's function, kept by the state between calls,
// never carries a global, a closure's environment or a result into the
// next call, and scripts beyond the state's cache still run.
func TestChunkReuse(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 1})
	s := mustCompile(t, `
assert(seen == nil, "a global of the last call is visible")
seen = request.id
keep = function() return seen end
result = {exit_code = 0, message = keep()}`)
	for i := range 3 {
		id := fmt.Sprint("call-", i)
		r := e.Run(context.Background(), &Call{Kind: KindWebhook, Script: s, Reference: "ref",
			Timeout: 5 * time.Second, Request: Request{ID: id}})
		if r.Err != nil || r.Message != id {
			t.Fatalf("call %d: %v %q", i, r.Err, r.Message)
		}
	}
	for i := range maxStateChunks + 10 {
		code := fmt.Sprintf("result = {exit_code = 0, message = %q}", fmt.Sprint(i))
		if r := run(t, e, KindWebhook, code, nil); r.Err != nil || r.Message != fmt.Sprint(i) {
			t.Fatalf("script %d: %v %q", i, r.Err, r.Message)
		}
	}
}
