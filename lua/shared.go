package lua

// Shared holds the process-wide resources that every Engine of a daemon
// uses: the subprocess runner (so the bound on running children holds across
// reloads, when old and new engines run side by side) and the HTTP client of
// the requests module (one connection pool). Create it once with NewShared
// and pass it in Options.Shared; it is safe for concurrent use.
type Shared struct {
	proc *procRunner
	http *httpClient
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

// Close drops the idle connections of the shared HTTP client. Engines using
// s keep working afterwards.
func (s *Shared) Close() {
	if s != nil {
		s.http.close()
	}
}
