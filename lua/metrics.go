package lua

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the runtime's Prometheus collectors.
type Metrics struct {
	duration      *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	statesCreated prometheus.Counter
	proc          *procMetrics
}

// NewMetrics registers the runtime's collectors with reg (nil: not registered):
// towerhook_lua_duration_seconds{kind,reference},
// towerhook_lua_errors_total{kind,reason} (reason: error|timeout|memory|result_type; canceled too, never initialised),
// towerhook_lua_states_created_total and the subprocess collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "towerhook_lua_duration_seconds",
			Help:    "Duration of Lua executions.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900},
		}, []string{"kind", "reference"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_lua_errors_total",
			Help: "Lua executions that failed, by reason.",
		}, []string{"kind", "reason"}),
		statesCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "towerhook_lua_states_created_total",
			Help: "Sandboxed Lua states created (pool misses and replacements).",
		}),
		proc: newProcMetrics(reg),
	}
	// Every label set is known: the series exist (at 0) before the first
	// error, so rate() and alerts see them from the start.
	for _, kind := range []Kind{KindWebhook, KindAuthenticator} {
		for _, reason := range errorReasons() {
			m.errors.WithLabelValues(kind.String(), reason)
		}
	}
	if reg != nil {
		m.duration = procRegister(reg, m.duration)
		m.errors = procRegister(reg, m.errors)
		m.statesCreated = procRegister(reg, m.statesCreated)
	}
	return m
}

func (m *Metrics) observe(kind Kind, reference string, d time.Duration, reason string) {
	m.duration.WithLabelValues(kind.String(), reference).Observe(d.Seconds())
	if reason != "" {
		m.errors.WithLabelValues(kind.String(), reason).Inc()
	}
}

// errorReasons are the reason label values of towerhook_lua_errors_total
// (engine.go sets them).
func errorReasons() []string { return []string{"error", "timeout", "memory", "result_type"} }

// Init creates the duration series of a loaded reference (empty until its
// first run), so that it is exported before the first call.
func (m *Metrics) Init(kind Kind, reference string) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(kind.String(), reference)
}

// Forget deletes the series of a reference that is no longer loaded.
func (m *Metrics) Forget(kind Kind, reference string) {
	if m == nil {
		return
	}
	m.duration.DeleteLabelValues(kind.String(), reference)
	m.proc.forget(reference)
}
