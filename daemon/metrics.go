package daemon

import (
	"encoding/hex"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// unmatched is the webhook label for requests that match no configured webhook.
const unmatched = "_unmatched"

// metrics are the daemon's own collectors (the lua and logs packages
// register theirs on the same registry).
type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	inFlight        prometheus.Gauge
	authResults     *prometheus.CounterVec
	reloadOK        prometheus.Gauge
	reloadOKTime    prometheus.Gauge
	reloads         *prometheus.CounterVec
	configHash      prometheus.Gauge
	definitions     *prometheus.GaugeVec
	codeStatusCache [600]string
	delivery        *deliveryMetrics
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_http_requests_total",
			Help: "Webhook requests answered, by webhook reference and HTTP status code.",
		}, []string{"webhook", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "towerhook_http_request_duration_seconds",
			Help: "Time from request to answer, including the call log commit.",
			// Up to the longest timeout a webhook may have (15 minutes).
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900},
		}, []string{"webhook"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_http_requests_in_flight",
			Help: "Webhook requests being served.",
		}),
		authResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_auth_results_total",
			Help: "Authenticator outcomes: allowed, denied, ip_denied, error.",
		}, []string{"authenticator", "result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_config_last_reload_successful",
			Help: "Whether the last definitions reload succeeded (1) or failed (0).",
		}),
		reloadOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful definitions reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_config_reloads_total",
			Help: "Definitions reloads by result: success, failure, unchanged.",
		}, []string{"result"}),
		configHash: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_config_hash",
			Help: "Hash of the serving definitions (first 48 bits of the content hash).",
		}),
		definitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "towerhook_definitions_loaded",
			Help: "Definitions being served, by kind (webhook, webhook_enabled, authenticator).",
		}, []string{"kind"}),
		delivery: newDeliveryMetrics(),
	}
	for _, r := range []string{"success", "failure", "unchanged"} {
		m.reloads.WithLabelValues(r)
	}
	for i := range m.codeStatusCache {
		m.codeStatusCache[i] = strconv.Itoa(i)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.inFlight, m.authResults, m.reloadOK,
			m.reloadOKTime, m.reloads, m.configHash, m.definitions)
		reg.MustRegister(m.delivery.collectors()...)
	}
	return m
}

// code returns the status code as a label value without allocating.
func (m *metrics) code(status int) string {
	if status >= 0 && status < len(m.codeStatusCache) {
		return m.codeStatusCache[status]
	}
	return strconv.Itoa(status)
}

// hashValue turns a hex content hash into an exact float64 gauge value.
func hashValue(h string) float64 {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) < 6 {
		return 0
	}
	var v uint64
	for _, c := range b[:6] {
		v = v<<8 | uint64(c)
	}
	return float64(v)
}

// forget deletes the series of a webhook or authenticator that is gone.
func (m *metrics) forgetWebhook(ref string) {
	m.requests.DeletePartialMatch(prometheus.Labels{"webhook": ref})
	m.duration.DeletePartialMatch(prometheus.Labels{"webhook": ref})
	m.delivery.forgetWebhook(ref)
}

func (m *metrics) forgetAuthenticator(ref string) {
	m.authResults.DeletePartialMatch(prometheus.Labels{"authenticator": ref})
}
