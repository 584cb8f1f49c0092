package lua

import (
	"errors"
	"log/slog"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// ErrMemoryLimit interrupts the running calls when the daemon's live heap
// passes the memory guard's threshold (see Shared.GuardMemory).
var ErrMemoryLimit = errors.New("memory limit exceeded")

// memGuardEvery is how often the guard samples the live heap.
const memGuardEvery = 20 * time.Millisecond

// memGuardShare is the share of the limit the live heap may reach before
// running calls are interrupted: the rest is room for the request
// pipeline and garbage the collector has not reached yet.
const memGuardShare = 0.8

// memGuard stops runaway code before it takes the process's memory: Lua
// tables and strings built in a loop are bounded by nothing but the call's
// deadline, and gopher-lua cannot account memory per call. The guard makes
// the limit the Go runtime's soft memory limit (so the collector works
// harder as the heap nears it and the live heap it reports stays fresh),
// samples the live heap, and when it passes memGuardShare of the limit
// interrupts every running call with ErrMemoryLimit (the heap is shared,
// so the guard cannot tell which call grew it), then returns the freed
// memory to the OS.
type memGuard struct {
	limit     uint64
	threshold uint64
	logger    *slog.Logger
	setLimit  bool // the guard set the soft memory limit (undone on close)

	mu      sync.Mutex
	running map[*callCtx]struct{}

	stop chan struct{}
	done chan struct{}
}

func newMemGuard(limit uint64, logger *slog.Logger) *memGuard {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &memGuard{
		limit: limit, threshold: uint64(float64(limit) * memGuardShare), logger: logger,
		running: map[*callCtx]struct{}{},
		stop:    make(chan struct{}), done: make(chan struct{}),
	}
	// Only when no limit was set (GOMEMLIMIT): an operator's choice stays.
	if debug.SetMemoryLimit(-1) == math.MaxInt64 && limit < math.MaxInt64 {
		debug.SetMemoryLimit(int64(limit))
		g.setLimit = true
	}
	go g.loop()
	return g
}

// add registers a call that is about to run.
func (g *memGuard) add(c *callCtx) {
	g.mu.Lock()
	g.running[c] = struct{}{}
	g.mu.Unlock()
}

// remove unregisters a call that ended; once it returns, the guard can no
// longer interrupt c (whose state may serve the next call).
func (g *memGuard) remove(c *callCtx) {
	g.mu.Lock()
	delete(g.running, c)
	g.mu.Unlock()
}

func (g *memGuard) loop() {
	defer close(g.done)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(memGuardEvery)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			continue
		}
		live := sample[0].Value.Uint64()
		if live <= g.threshold {
			continue
		}
		if n := g.interruptAll(); n > 0 {
			g.logger.Warn("memory limit: interrupted running code", "calls", n,
				"live_heap_bytes", live, "limit_bytes", g.limit)
			// Let the interrupted calls unwind, then collect their garbage
			// and give the memory back instead of keeping it mapped.
			select {
			case <-g.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			debug.FreeOSMemory()
		}
	}
}

// interruptAll interrupts every running call and returns how many.
func (g *memGuard) interruptAll() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.running {
		c.interrupt(ErrMemoryLimit)
	}
	return len(g.running)
}

// close stops the guard and restores the soft memory limit it replaced.
func (g *memGuard) close() {
	close(g.stop)
	<-g.done
	if g.setLimit {
		debug.SetMemoryLimit(math.MaxInt64)
	}
}
