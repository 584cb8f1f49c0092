package lua

import "log/slog"

// Shared holds the process-wide resources that every Engine of a daemon
// uses: the subprocess runner (so the bound on running children holds across
// reloads, when old and new engines run side by side) and the HTTP client of
// the requests module (one connection pool). Create it once with NewShared
// and pass it in Options.Shared; it is safe for concurrent use.
type Shared struct {
	proc *procRunner
	http *httpClient
	mem  *memGuard // nil: no memory guard
}

// NewShared returns the shared resources: at most maxSubprocesses children
// run at once across all engines (<= 0: 4*GOMAXPROCS). m may be nil; when
// set, the subprocess collectors of m are used.
func NewShared(maxSubprocesses int, m *Metrics) *Shared {
	var pm *procMetrics
	if m != nil {
		pm = m.proc
	}
	return &Shared{proc: newProcRunner(maxSubprocesses, pm), http: newHTTPClient()}
}

// GuardMemory starts the memory guard for the engines created with s
// afterwards: when the live Go heap passes 80% of limit bytes, every
// running call is interrupted with ErrMemoryLimit. It also makes limit the
// runtime's soft memory limit unless one is set (GOMEMLIMIT). A limit of 0
// does nothing. Call it once, before creating engines; Close stops it.
func (s *Shared) GuardMemory(limit uint64, logger *slog.Logger) {
	if limit > 0 && s.mem == nil {
		s.mem = newMemGuard(limit, logger)
	}
}

// Close drops the idle connections of the shared HTTP client and stops the
// memory guard. Engines using s keep working afterwards.
func (s *Shared) Close() {
	if s != nil {
		s.http.close()
		if s.mem != nil {
			s.mem.close()
			s.mem = nil
		}
	}
}
