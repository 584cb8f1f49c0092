package daemon

import (
	"container/list"
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Step 3 of an inline call (README "Delivery"): per-webhook concurrency.
// A webhook with `concurrency: N` runs at most N calls of its code at
// once; further calls wait in arrival order until their deadline, then get
// 503 Too busy with Retry-After. While a call waits it holds no slot of the
// global --max-concurrent bound, so a serialised webhook cannot starve the
// others. (Background jobs wait in their queue instead, jobs.go.)

// limiters holds one FIFO limiter per webhook reference; a limiter lives as
// long as the daemon, so reloads keep the calls waiting on it.
type limiters struct {
	mu sync.Mutex
	m  map[string]*limiter
}

func newLimiters() *limiters { return &limiters{m: map[string]*limiter{}} }

func (ls *limiters) get(ref string) *limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.m[ref]
	if l == nil {
		l = &limiter{}
		ls.m[ref] = l
	}
	return l
}

// limiter admits at most limit holders; waiters are served in order.
type limiter struct {
	mu      sync.Mutex
	running int
	limit   int
	waiters list.List // of chan struct{}, closed when handed a slot
}

// tryAcquire takes a slot if one is free and nobody waits.
func (l *limiter) tryAcquire(limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = limit
	if l.running < limit && l.waiters.Len() == 0 {
		l.running++
		return true
	}
	return false
}

// acquire waits in line for a slot until deadline or ctx ends.
func (l *limiter) acquire(ctx context.Context, limit int, deadline time.Time) bool {
	if l.tryAcquire(limit) {
		return true
	}
	l.mu.Lock()
	if l.running < limit && l.waiters.Len() == 0 {
		l.running++
		l.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	el := l.waiters.PushBack(ch)
	l.mu.Unlock()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-ch: // handed a slot just now: pass it on
		l.releaseLocked()
	default:
		l.waiters.Remove(el)
	}
	return false
}

// release gives the slot to the first waiter, or frees it.
func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked()
}

func (l *limiter) releaseLocked() {
	if front := l.waiters.Front(); front != nil && l.running <= l.limit {
		l.waiters.Remove(front)
		close(front.Value.(chan struct{}))
		return
	}
	l.running--
}

// waitTurn is the call's concurrency step: it takes a run slot of the
// webhook (waiting in line, without a global slot) and reports whether
// the code may run; otherwise it answered 503 Too busy.
func (c *callState) waitTurn() bool {
	limit := c.rt.wh.Delivery.Concurrency
	if limit <= 0 || c.p.limits == nil {
		return true
	}
	ref := c.rt.wh.Reference
	l := c.p.limits.get(ref)
	if !l.tryAcquire(limit) {
		c.p.metrics.delivery.concurrencyWaits.WithLabelValues(ref).Inc()
		c.leaveSlot()
		deadline := c.start.Add(c.rt.timeout)
		if !l.acquire(c.r.Context(), limit, deadline) {
			c.tooBusy(int(c.rt.timeout.Seconds()))
			return false
		}
		if !c.p.enter(c.r.Context()) {
			l.release()
			c.tooBusy(1)
			return false
		}
		c.holdsSlot = true
	}
	c.turn = l
	return true
}

// leaveTurn gives the webhook's run slot back (once).
func (c *callState) leaveTurn() {
	if c.turn != nil {
		c.turn.release()
		c.turn = nil
	}
}

// tooBusy answers 503 Too busy with a Retry-After of at least a second.
func (c *callState) tooBusy(retryAfter int) {
	c.rec.ErrorMessage = msgTooBusy
	c.w.Header().Set("Retry-After", strconv.Itoa(max(retryAfter, 1)))
	c.finish(http.StatusServiceUnavailable, msgTooBusy, nil)
}
