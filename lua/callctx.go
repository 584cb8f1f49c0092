package lua

import (
	"context"
	"sync"
	"time"
)

// callCtx is the context of the calls that run on one state, reused from
// call to call so that a call allocates no context, timer or channel.
//
// Its Done channel is closed only when a call is interrupted (the deadline
// passed or the caller's context ended). A state whose call was interrupted,
// or whose timer could not be stopped before firing, is discarded with its
// callCtx, so a reused callCtx never has a closed channel. Goroutines that a
// helper started during an earlier call may still hold the context; all
// mutable fields are guarded by mu.
type callCtx struct {
	done  chan struct{}
	timer *time.Timer

	mu         sync.Mutex
	parent     context.Context
	deadline   time.Time
	err        error
	stopParent func() bool
}

func newCallCtx() *callCtx {
	c := &callCtx{done: make(chan struct{}), parent: context.Background()}
	c.timer = time.AfterFunc(time.Hour, func() { c.interrupt(context.DeadlineExceeded) })
	c.timer.Stop()
	return c
}

// start arms the context for one call that started at now.
func (c *callCtx) start(parent context.Context, now time.Time, timeout time.Duration) {
	c.mu.Lock()
	c.parent = parent
	c.deadline = now.Add(timeout)
	c.mu.Unlock()
	c.timer.Reset(timeout)
	if parent.Done() != nil {
		stop := context.AfterFunc(parent, func() { c.interrupt(parent.Err()) })
		c.mu.Lock()
		c.stopParent = stop
		c.mu.Unlock()
	}
}

// finish disarms the context and reports whether it (and its state) can
// serve another call: false when the call was interrupted or an interrupt
// is already on its way.
func (c *callCtx) finish() bool {
	ok := c.timer.Stop()
	c.mu.Lock()
	stop := c.stopParent
	c.stopParent = nil
	c.mu.Unlock()
	if stop != nil && !stop() {
		ok = false
	}
	c.mu.Lock()
	if c.err != nil {
		ok = false
	}
	c.parent = context.Background()
	c.mu.Unlock()
	return ok
}

func (c *callCtx) interrupt(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// Deadline returns the current call's deadline.
func (c *callCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, true
}

// Done is closed when the call is interrupted.
func (c *callCtx) Done() <-chan struct{} { return c.done }

// Err is context.DeadlineExceeded after the deadline, the caller's
// context's error after it ended, else nil.
func (c *callCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value returns the caller's context's value for key.
func (c *callCtx) Value(key any) any {
	c.mu.Lock()
	p := c.parent
	c.mu.Unlock()
	return p.Value(key)
}
