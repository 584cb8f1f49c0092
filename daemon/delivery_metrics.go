package daemon

import (
	"github.com/prometheus/client_golang/prometheus"

	"towerhook/logs"
)

// deliveryMetrics are the collectors of README "Delivery".
type deliveryMetrics struct {
	jobs             *prometheus.GaugeVec
	attempts         *prometheus.CounterVec
	wait             *prometheus.HistogramVec
	dedup            *prometheus.CounterVec
	concurrencyWaits *prometheus.CounterVec
}

func newDeliveryMetrics() *deliveryMetrics {
	m := &deliveryMetrics{
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "towerhook_jobs",
			Help: "Background jobs stored, by state (queued, running, retrying, succeeded, dead, superseded, canceled).",
		}, []string{"state"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_job_attempts_total",
			Help: "Background job attempts, by webhook and result (success, failure).",
		}, []string{"webhook", "result"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "towerhook_job_wait_seconds",
			Help:    "Time from queueing a background job to its first attempt.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"webhook"}),
		dedup: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_dedup_total",
			Help: "Calls of webhooks with dedup that carried a delivery id, by result (new, duplicate, in_progress).",
		}, []string{"webhook", "result"}),
		concurrencyWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_concurrency_waits_total",
			Help: "Inline calls that waited for a run slot of their webhook (concurrency).",
		}, []string{"webhook"}),
	}
	for _, st := range logs.JobStates {
		m.jobs.WithLabelValues(st)
	}
	return m
}

func (m *deliveryMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.jobs, m.attempts, m.wait, m.dedup, m.concurrencyWaits}
}

// forgetWebhook deletes the delivery series of a webhook that is gone.
func (m *deliveryMetrics) forgetWebhook(ref string) {
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.attempts, m.wait, m.dedup, m.concurrencyWaits} {
		v.DeletePartialMatch(prometheus.Labels{"webhook": ref})
	}
}
