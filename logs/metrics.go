package logs

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus collectors (DESIGN section 6).
type metrics struct {
	written prometheus.Counter
	dropped prometheus.Counter
	commit  prometheus.Histogram
	cp      prometheus.Histogram
	queue   prometheus.GaugeFunc
	size    prometheus.Gauge
	oldest  prometheus.Gauge
	// used, maxSize and pruned: the size budget (prune_size.go).
	used    prometheus.Gauge
	maxSize prometheus.Gauge
	pruned  *prometheus.CounterVec
	// journalDamaged counts damaged journal frames skipped (journal_read.go).
	journalDamaged prometheus.Counter
}

func newMetrics(queueLen func() float64) *metrics {
	m := &metrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "towerhook_log_records_written_total",
			Help: "Call-log records committed to the store.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "towerhook_log_records_dropped_total",
			Help: "Call-log records lost: the asynchronous queue stayed full, or the store could not commit them (a full disk).",
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "towerhook_log_commit_duration_seconds",
			Help: "Duration of call-log group commits, the wait of durable answers: " +
				"a journal write and fdatasync (--log-sync) or a bbolt transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12), // 100µs .. ~6s
		}),
		cp: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "towerhook_log_checkpoint_duration_seconds",
			Help:    "Duration of call-log checkpoints: journaled records committed to bbolt in the background (--log-sync).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "towerhook_log_queue_length",
			Help: "Call-log records waiting for the writer.",
		}, queueLen),
		size: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_log_store_size_bytes",
			Help: "Size of the call-log file in use (bbolt high-water mark).",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_log_oldest_record_timestamp_seconds",
			Help: "Unix time of the oldest call-log record (0 when empty).",
		}),
		used: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_log_store_used_bytes",
			Help: "Call-log data in use: the file's high-water mark less its free pages (what --log-max-size limits).",
		}),
		maxSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "towerhook_log_store_max_size_bytes",
			Help: "The call-log size budget, --log-max-size (0 = unlimited).",
		}),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_log_pruned_days_total",
			Help: "Call-log day buckets dropped, by reason: age (--log-retention-days) or size (--log-max-size).",
		}, []string{"reason"}),
		journalDamaged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "towerhook_log_journal_damaged_frames_total",
			Help: "Damaged call-log journal frames skipped at start-up (the valid records after them are kept).",
		}),
	}
	for _, reason := range []string{pruneAge, pruneSize} {
		m.pruned.WithLabelValues(reason)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.written, m.dropped, m.commit, m.cp, m.queue, m.size, m.oldest,
		m.used, m.maxSize, m.pruned, m.journalDamaged}
}

// register registers every collector on r (nil: none); on error it
// unregisters what it had registered.
func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	var done []prometheus.Collector
	for _, c := range m.collectors() {
		if err := r.Register(c); err != nil {
			for _, d := range done {
				r.Unregister(d)
			}
			return errors.Join(errors.New("registering call-log metrics (is another store open on this registry?)"), err)
		}
		done = append(done, c)
	}
	return nil
}

func (m *metrics) unregister(r prometheus.Registerer) {
	if r == nil {
		return
	}
	for _, c := range m.collectors() {
		r.Unregister(c)
	}
}
