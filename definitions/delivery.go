package definitions

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Delivery keys of a webhook (README "Delivery"): duplicates, concurrency
// and background runs. Each key has a decoder in deliveryKeys; checks that
// involve several keys (or the retention) run in checkDelivery.

// Sources a dedup id is read from.
const (
	DedupHeader  = "header"
	DedupPayload = "payload"
	DedupQuery   = "query"
)

// Queue modes of a background webhook.
const (
	QueueAll    = "all"
	QueueLatest = "latest"
)

// Defaults and bounds of the delivery keys.
const (
	DefaultDedupWindow = 24 * time.Hour
	DefaultRetryDelay  = 30 * time.Second
	// MaxRetryDelay caps the doubling delay between attempts.
	MaxRetryDelay = time.Hour
	// MaxConcurrency and MaxRetries bound the numbers a definition may ask
	// for: more is a typo, not a plan.
	MaxConcurrency = 10000
	MaxRetries     = 100
)

// Dedup says where a delivery's id is read from.
type Dedup struct {
	// Source is DedupHeader, DedupPayload or DedupQuery ("" = no dedup).
	Source string
	// Name is the header name, the dotted payload path or the query key.
	Name string
	// Path is Name split on "." (payload only).
	Path []string
}

// Delivery holds a webhook's delivery settings.
type Delivery struct {
	Dedup       Dedup
	DedupWindow time.Duration // default 24h
	// Concurrency is the most runs of the code at once (0 = unlimited).
	Concurrency int
	Background  bool
	Queue       string // QueueAll (default) or QueueLatest
	Retries     int
	RetryDelay  time.Duration // default 30s
}

// String is the dedup source as written in a definition ("" when none).
func (d Dedup) String() string {
	if d.Source == "" {
		return ""
	}
	return d.Source + ":" + d.Name
}

// defaultDelivery is a webhook's delivery before its keys are read.
func defaultDelivery() Delivery {
	return Delivery{DedupWindow: DefaultDedupWindow, Queue: QueueAll, RetryDelay: DefaultRetryDelay}
}

// deliveryKey is one key's decoder; it records errors on r.
type deliveryKey func(r *rawRecord, v *yaml.Node)

// deliveryKeys are the webhook keys of README "Delivery".
var deliveryKeys = map[string]deliveryKey{
	"dedup":        decodeDedup,
	"dedup_window": durationKey("dedup_window", func(r *rawRecord, d time.Duration) { r.delivery.DedupWindow = d }),
	"concurrency":  countKey("concurrency", 1, MaxConcurrency, func(r *rawRecord, n int) { r.delivery.Concurrency = n }),
	"background":   decodeBackground,
	"queue":        decodeQueue,
	"retries":      countKey("retries", 0, MaxRetries, func(r *rawRecord, n int) { r.delivery.Retries = n }),
	"retry_delay":  durationKey("retry_delay", func(r *rawRecord, d time.Duration) { r.delivery.RetryDelay = d }),
}

// decodeDeliveryKey decodes key if it is a delivery key and reports
// whether it was one.
func decodeDeliveryKey(r *rawRecord, key string, k, v *yaml.Node) bool {
	dec, ok := deliveryKeys[key]
	if !ok {
		return false
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return true // the default
	}
	if r.deliveryLines == nil {
		r.deliveryLines = map[string]int{}
	}
	r.deliveryLines[key] = k.Line
	dec(r, v)
	return true
}

func decodeDedup(r *rawRecord, v *yaml.Node) {
	s, ok := scalarString(v)
	if !ok {
		r.errf(v.Line, "dedup: expected header:<Name>, payload:<dotted.path> or query:<name>, got %s", kindName(v))
		return
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	d, err := ParseDedup(s)
	if err != "" {
		r.errf(v.Line, "dedup: %s", err)
		return
	}
	r.delivery.Dedup = d
}

// ParseDedup parses a dedup source such as "header:X-GitHub-Delivery",
// "payload:data.id" or "query:id"; the error text is "" when it is valid.
func ParseDedup(s string) (Dedup, string) {
	src, name, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Dedup{}, fmt.Sprintf("expected header:<Name>, payload:<dotted.path> or query:<name>, got %q", s)
	}
	d := Dedup{Source: strings.ToLower(strings.TrimSpace(src)), Name: name}
	switch d.Source {
	case DedupHeader:
		for i := 0; i < len(name); i++ {
			if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
				return Dedup{}, fmt.Sprintf("%q is not a valid header name", name)
			}
		}
	case DedupPayload:
		d.Path = strings.Split(name, ".")
		for _, p := range d.Path {
			if p == "" {
				return Dedup{}, fmt.Sprintf("payload path %q has an empty part", name)
			}
		}
	case DedupQuery:
	default:
		return Dedup{}, fmt.Sprintf("unknown source %q (want header, payload or query)", src)
	}
	return d, ""
}

func decodeBackground(r *rawRecord, v *yaml.Node) {
	var b bool
	if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil {
		r.errf(v.Line, "background: expected true or false, got %s", valueDesc(v))
		return
	}
	r.delivery.Background = b
}

func decodeQueue(r *rawRecord, v *yaml.Node) {
	s, ok := scalarString(v)
	switch q := strings.ToLower(strings.TrimSpace(s)); {
	case !ok:
		r.errf(v.Line, "queue: expected all or latest, got %s", kindName(v))
	case q == QueueAll || q == "":
		r.delivery.Queue = QueueAll
	case q == QueueLatest:
		r.delivery.Queue = QueueLatest
	default:
		r.errf(v.Line, "queue: expected all or latest, got %q", s)
	}
}

// countKey decodes an integer in [lo, hi].
func countKey(name string, lo, hi int, set func(*rawRecord, int)) deliveryKey {
	return func(r *rawRecord, v *yaml.Node) {
		n, err := strconv.Atoi(strings.TrimSpace(v.Value))
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil {
			r.errf(v.Line, "%s: expected an integer, got %s", name, valueDesc(v))
			return
		}
		if n < lo || n > hi {
			r.errf(v.Line, "%s: must be between %d and %d, got %d", name, lo, hi, n)
			return
		}
		set(r, n)
	}
}

// durationKey decodes a positive duration (seconds or Go syntax).
func durationKey(name string, set func(*rawRecord, time.Duration)) deliveryKey {
	return func(r *rawRecord, v *yaml.Node) {
		d, err := parseTimeout(v)
		if err != "" {
			r.errf(v.Line, "%s: %s", name, err)
			return
		}
		set(r, d)
	}
}

// checkDelivery checks what involves several delivery keys or the
// retention (maxWindow: 0 = no limit).
func checkDelivery(r *rawRecord, maxWindow time.Duration) {
	d := &r.delivery
	line := func(key string) int { return r.deliveryLines[key] }
	if !d.Background {
		if l := line("queue"); l > 0 && d.Queue == QueueLatest {
			r.errf(l, "queue: latest needs background: true (inline calls are not queued)")
		}
		if l := line("retries"); l > 0 && d.Retries > 0 {
			r.errf(l, "retries: needs background: true (an inline call is answered once; its sender retries)")
		}
		if l := line("retry_delay"); l > 0 {
			r.errf(l, "retry_delay: needs background: true and retries")
		}
	}
	if l := line("retry_delay"); l > 0 && d.RetryDelay > MaxRetryDelay {
		r.errf(l, "retry_delay: at most %s, got %s", MaxRetryDelay, d.RetryDelay)
	}
	if l := line("dedup_window"); l > 0 && d.Dedup.Source == "" {
		r.errf(l, "dedup_window: needs dedup")
	}
	if maxWindow > 0 && d.DedupWindow > maxWindow {
		l := line("dedup_window")
		if l == 0 {
			l = line("dedup")
		}
		r.errf(l, "dedup_window: %s is longer than the call log retention (%s); ids could not be remembered that long",
			d.DedupWindow, formatDays(maxWindow))
	}
}

// formatDays writes a retention as days.
func formatDays(d time.Duration) string {
	days := d.Hours() / 24
	if days == math.Trunc(days) {
		return fmt.Sprintf("%d days", int(days))
	}
	return d.String()
}

func sameDelivery(a, b Delivery) bool {
	return a.Dedup.String() == b.Dedup.String() && a.DedupWindow == b.DedupWindow &&
		a.Concurrency == b.Concurrency && a.Background == b.Background && a.Queue == b.Queue &&
		a.Retries == b.Retries && a.RetryDelay == b.RetryDelay
}

// hashDelivery adds d to the set's content hash.
func hashDelivery(w *hashWriter, d Delivery) {
	w.str(d.Dedup.String())
	w.int(int64(d.DedupWindow))
	w.int(int64(d.Concurrency))
	w.bool(d.Background)
	w.str(d.Queue)
	w.int(int64(d.Retries))
	w.int(int64(d.RetryDelay))
}
