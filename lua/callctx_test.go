package lua

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestCallCtx(t *testing.T) {
	for _, tc := range []struct {
		name     string
		parent   func() (context.Context, context.CancelFunc)
		timeout  time.Duration
		wait     bool // wait for Done before finish
		reusable bool
		err      error
	}{
		{"finished in time", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, time.Hour, false, true, nil},
		{"cancellable parent, in time", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, time.Hour, false, true, nil},
		{"deadline", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, time.Millisecond, true, false, context.DeadlineExceeded},
		{"parent canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, time.Hour, true, false, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCallCtx()
			parent, cancel := tc.parent()
			defer cancel()
			parent = context.WithValue(parent, ctxKey{}, "v")
			for i := 0; i < 3; i++ {
				c.start(parent, time.Now(), tc.timeout)
				if c.Value(ctxKey{}) != "v" {
					t.Fatal("value not passed through")
				}
				if d, ok := c.Deadline(); !ok || time.Until(d) > tc.timeout {
					t.Fatalf("deadline %v", d)
				}
				if tc.wait {
					select {
					case <-c.Done():
					case <-time.After(time.Minute):
						t.Fatal("never interrupted")
					}
				}
				if got := c.finish(); got != tc.reusable {
					t.Fatalf("reusable=%v want %v", got, tc.reusable)
				}
				if !errors.Is(c.Err(), tc.err) || (tc.err == nil) != (c.Err() == nil) {
					t.Fatalf("err %v want %v", c.Err(), tc.err)
				}
				if !tc.reusable {
					return
				}
			}
		})
	}
}

// TestStateReuse: a state is pooled (with its context and environment)
// after a normal call and replaced after a timeout.
func TestStateReuse(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 1})
	run(t, e, KindWebhook, `x = 1`, nil)
	st := <-e.pool
	e.pool <- st
	run(t, e, KindWebhook, `assert(x == nil)`, nil)
	if st2 := <-e.pool; st2 != st {
		t.Fatal("state not reused after a normal call")
	} else {
		e.pool <- st2
	}
	r := run(t, e, KindWebhook, `while true do end`, func(c *Call) { c.Timeout = 50 * time.Millisecond })
	if !r.TimedOut {
		t.Fatalf("%+v", r)
	}
	if r := run(t, e, KindWebhook, `result.message = "ok"`, nil); r.Err != nil || r.Message != "ok" {
		t.Fatalf("%+v", r)
	}
	if st3 := <-e.pool; st3 == st {
		t.Fatal("timed-out state was pooled")
	}
}
