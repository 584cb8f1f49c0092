package daemon

// View models of the console pages (README "Console"): plain strings and
// numbers ready for html/template, which escapes every value. Nothing
// here writes HTML.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"towerhook/definitions"
	"towerhook/logs"
)

// Display limits: a page stays light whatever a caller sent.
const (
	maxShownPayload = 256 << 10 // pretty-printed payload
	maxShownLine    = 8 << 10   // one log line, header value or field
	maxRowMessage   = 200       // bytes of a message in the calls table
)

// pageBase is what every page shows around its content.
type pageBase struct {
	Title   string
	Nav     string // "calls", "webhooks", "jobs"
	Version string
	// ReloadFailed: the last reload failed and the daemon serves the last
	// good definitions (a banner on every page).
	ReloadFailed bool
	ReloadErrors int
	Jobs         bool // the Jobs page exists
}

// callsFilter is the calls page's filter as typed (kept in the URL).
type callsFilter struct {
	Webhook, Status, Code, Since, Until, Limit, Cursor string
}

// values is the filter's query string (empty fields left out).
func (f callsFilter) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"webhook", f.Webhook}, {"status", f.Status}, {"code", f.Code},
		{"since", f.Since}, {"until", f.Until}, {"limit", f.Limit}, {"cursor", f.Cursor}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// url is the calls page URL of the filter.
func (f callsFilter) url() string {
	if q := f.values().Encode(); q != "" {
		return "/?" + q
	}
	return "/"
}

type callsPage struct {
	pageBase
	Filter   callsFilter
	Webhooks []string // the webhook filter's choices
	Rows     []callRow
	// NextURL pages to older calls; FirstURL back to the newest.
	NextURL, FirstURL string
	// Note explains an empty page that no call could fill.
	Note     string
	Filtered bool
}

type callRow struct {
	ID, URL                string
	Time, Ago              string
	Webhook, WebhookURL    string
	Method, Endpoint       string
	HTTPStatus             int
	StatusClass            string
	CodeStatus, AuthStatus string
	Message                string
	MessageIsError         bool
	Duration               string
	Replay                 bool
}

// newCallRow is one line of the calls table.
func newCallRow(r *logs.Record, now time.Time) callRow {
	msg, isErr := r.ResultMessage, false
	if r.ErrorMessage != "" {
		msg, isErr = r.ErrorMessage, true
	}
	row := callRow{
		ID: r.ID, URL: consoleCallPath(r.ID), Time: formatTime(r.Time), Ago: ago(r.Time, now),
		Webhook: clean(r.Webhook, maxShownLine), Method: clean(r.Method, maxShownLine), Endpoint: clean(r.Endpoint, maxShownLine),
		HTTPStatus: r.HTTPStatus, StatusClass: statusClass(r.HTTPStatus),
		CodeStatus: clean(r.CodeStatus, maxShownLine), AuthStatus: clean(r.AuthenticationStatus, maxShownLine),
		Message: clean(oneLineText(cutUTF8(msg, 4*maxRowMessage)), maxRowMessage), MessageIsError: isErr,
		Duration: formatSeconds(r.DurationSeconds), Replay: r.ReplayOf != "",
	}
	if r.Webhook != "" {
		row.WebhookURL = callsFilter{Webhook: r.Webhook}.url()
	}
	return row
}

type callPage struct {
	pageBase
	ID          string
	Rec         callRow
	Fields      []fieldRow
	Headers     []fieldRow
	Payload     string
	PayloadNote string
	LogLines    []string
	Error       string
	Result      string
	// CanReplay: the webhook exists and is enabled; else ReplayNote says why.
	CanReplay  bool
	ReplayNote string
}

// fieldRow is one name/value line; URL links the value when set.
type fieldRow struct {
	Name, Value, URL string
}

// sectionFields are shown in sections of their own, not in the field table.
var sectionFields = []string{"request_headers", "request_payload", "log_lines"}

// recordFields lists every top-level field of the record's JSON (the call
// log's public field names, in their order), so that fields added later
// (job, attempt, duplicate_of...) show up without a change here. The
// webhook, the replayed call and the job become links (duplicate_of is a
// request id, which has no page).
func recordFields(r *logs.Record, jobs bool) ([]fieldRow, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var out []fieldRow
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if slices.Contains(sectionFields, name) {
			continue
		}
		f := fieldRow{Name: name, Value: clean(jsonScalar(raw), maxShownLine)}
		switch {
		case f.Value == "":
		case name == "webhook":
			f.URL = webhookAnchor(f.Value)
		case name == "replay_of":
			f.URL = consoleCallPath(f.Value)
		case name == "job" && jobs:
			f.URL = "/jobs/" + url.PathEscape(f.Value)
		}
		out = append(out, f)
	}
	return out, nil
}

// jsonScalar is a JSON value as text: a string unquoted, null empty,
// anything else as written.
func jsonScalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// headerRows are the recorded headers sorted by name.
func headerRows(h map[string]string) []fieldRow {
	out := make([]fieldRow, 0, len(h))
	for k, v := range h {
		out = append(out, fieldRow{Name: clean(k, maxShownLine), Value: clean(v, maxShownLine)})
	}
	slices.SortFunc(out, func(a, b fieldRow) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// payloadText pretty-prints a recorded payload, at most maxShownPayload
// bytes, with a note when it was cut or is not JSON.
func payloadText(r *logs.Record) (text, note string) {
	p := r.RequestPayload
	var notes []string
	var s string
	switch {
	case len(p) == 0 || string(p) == "null":
		return "", "No payload was recorded."
	case p[0] == '"':
		// A body that was not JSON, or one cut when it was logged, is
		// stored as a JSON string of its text.
		_ = json.Unmarshal(p, &s)
		if r.Truncated {
			notes = append(notes, "This record was cut when it was logged (README \"Limits\"): the payload is shown as the stored text, the beginning of a body that was too large or not JSON.")
		} else {
			notes = append(notes, "The body was not JSON; it is shown as text.")
		}
	default:
		var buf bytes.Buffer
		if json.Indent(&buf, p, "", "  ") == nil {
			s = buf.String()
		} else {
			s = string(p)
		}
	}
	if len(s) > maxShownPayload {
		notes = append(notes, fmt.Sprintf("Showing the first %s of %s.", formatBytes(maxShownPayload), formatBytes(len(s))))
		s = cutUTF8(s, maxShownPayload)
	}
	return strings.ToValidUTF8(s, "\uFFFD"), strings.Join(notes, " ")
}

// webhookRow is one line of the webhooks table.
type webhookRow struct {
	webhookView
	Path                string
	Enabled             bool
	Delivery            []fieldRow
	Calls, Failures     string
	LastCall, LastAgo   string
	CallsURL, FailedURL string
	Anchor              string
}

// authRow is one line of the authenticators table.
type authRow struct {
	authenticatorView
	UsedBy []string
}

type webhooksPage struct {
	pageBase
	Reload         reloadView
	Webhooks       []webhookRow
	Authenticators []authRow
	// CountNote explains counts that cover fewer than 24 hours.
	CountNote string
	Files     []string
}

type reloadView struct {
	Status, Reason, Time, Ago string
	Hash, ShortHash, LoadedAt string
	LastSuccess               string
	Errors                    []string
	Failed                    bool
}

// statusClass is the colour of an HTTP status.
func statusClass(code int) string {
	switch {
	case code >= 500 || code == 0:
		return "fail"
	case code >= 400:
		return "warn"
	case code >= 300:
		return "info"
	}
	return "ok"
}

func consoleCallPath(id string) string { return "/calls/" + url.PathEscape(id) }

func webhookAnchor(ref string) string { return "/webhooks#wh-" + url.PathEscape(ref) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000") + " UTC"
}

// ago is a short relative time ("3 min ago").
func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days ago"
}

// formatSeconds shows a duration in ms below 10 s.
func formatSeconds(s float64) string {
	switch {
	case s < 0.001:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 10:
		return fmt.Sprintf("%.1f ms", s*1e3)
	}
	return fmt.Sprintf("%.1f s", s)
}

func formatBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// clean makes s safe to lay out: valid UTF-8, at most max bytes ("…" when cut).
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > max {
		return cutUTF8(s, max) + "…"
	}
	return s
}

// cutUTF8 cuts s to at most n bytes on a rune boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// oneLineText joins a message's lines for a table cell.
func oneLineText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// deliverySettings are a webhook's delivery keys that differ from the
// defaults (README "Delivery"), for the webhooks page.
func deliverySettings(wh *definitions.Webhook) []fieldRow {
	d := wh.Delivery
	var out []fieldRow
	if s := d.Dedup.String(); s != "" {
		out = append(out, fieldRow{Name: "dedup", Value: s + " for " + d.DedupWindow.String()})
	}
	if d.Concurrency > 0 {
		out = append(out, fieldRow{Name: "concurrency", Value: strconv.Itoa(d.Concurrency)})
	}
	if d.Background {
		out = append(out, fieldRow{Name: "background", Value: "queue " + d.Queue})
		if d.Retries > 0 {
			out = append(out, fieldRow{Name: "retries", Value: fmt.Sprintf("%d, first after %s", d.Retries, d.RetryDelay)})
		}
	}
	return out
}
