package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"towerhook/definitions"
	"towerhook/internal/jsonx"
	"towerhook/logs"
	"towerhook/lua"
)

// Tower's answers (DESIGN section 3).
const (
	msgNotFound      = "Webhook not found"
	msgAddrDenied    = "Address not allowed"
	msgAuthDenied    = "Authentication not allowed"
	msgAuthError     = "Authentication code error: "
	msgCodeError     = "Webhook code execution error: "
	msgTooLarge      = "Request body too large"
	msgTooBusy       = "Too busy"
	msgOK            = "OK"
	msgInternalError = "Internal server error"
	// msgLogDown answers a call whose durable record cannot be written (a
	// full disk): nothing is answered without its record (DESIGN section 5).
	msgLogDown = "Call log unavailable"
)

// logDownRetryAfter is the Retry-After of msgLogDown answers, in seconds.
const logDownRetryAfter = "30"

// appendFunc stores one call log record (the call subcommand keeps it to print).
type appendFunc func(ctx context.Context, rec *logs.Record) error

// pipeline answers webhook requests on the current routing table.
type pipeline struct {
	prefix   string
	maxBody  int64
	current  *atomic.Pointer[table]
	sem      chan struct{}
	busyWait time.Duration
	metrics  *metrics
	logger   *slog.Logger
	appendFn appendFunc
	// expect announces (+1) and withdraws (-1) a call-log record on its
	// way (logs.Store.Expect); nil when nothing is logged.
	expect func(int)
	// durable: an answer waits for its record (--log-sync); when the record
	// cannot be committed the caller gets 503 msgLogDown instead.
	durable bool
	// logFailing reports a call log that could not commit its last records
	// (logs.Store.Failing); calls then get 503 before any code runs, and
	// the first record that commits again ends that. Nil: never.
	logFailing func() bool

	// Delivery (README "Delivery"); each nil when not used (call, tests):
	// dedup holds the claimed delivery ids, limits the per-webhook
	// concurrency, jobs runs background webhooks (without it they run
	// inline), and batchFn commits a record with delivery state.
	dedup   *dedupTable
	limits  *limiters
	jobs    *scheduler
	batchFn func(ctx context.Context, rec *logs.Record, b logs.Batch) error
}

// ServeHTTP implements the public listener.
func (p *pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := requestID(r.Header.Get("X-Request-Id"))
	w.Header().Set("X-Request-Id", reqID)
	if !strings.HasPrefix(r.URL.Path, p.prefix) {
		writeMessage(w, http.StatusNotFound, "Not found")
		return
	}
	p.metrics.inFlight.Inc()
	defer p.metrics.inFlight.Dec()
	// net/http moves Host out of the header map; code and the call log see
	// it among the headers, as Tower's do.
	if r.Host != "" && r.Header != nil && len(r.Header["Host"]) == 0 {
		r.Header["Host"] = []string{r.Host}
	}

	t := p.current.Load()
	t.acquire()
	defer t.release()

	c := &callState{
		p: p, t: t, r: r, w: w, start: start, reqID: reqID,
		endpoint: r.URL.Path[len(p.prefix):],
	}
	c.rec = &logs.Record{
		Time:                 start.UTC(),
		Endpoint:             c.endpoint,
		Method:               r.Method,
		RequestID:            reqID,
		ConfigHash:           t.hash,
		AuthenticationStatus: logs.AuthNotRequired,
		CodeStatus:           logs.CodeSkipped,
		LogLines:             []string{},
	}
	if p.expect != nil {
		p.expect(1)
		c.expecting = true
	}
	defer func() {
		c.withdraw()
		c.releaseAll()
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			p.logger.Error("panic serving webhook", "request_id", reqID, "panic", fmt.Sprint(v))
			c.rec.ErrorMessage = "internal error"
			c.finish(http.StatusInternalServerError, msgInternalError, nil)
		}
	}()
	c.serve()
}

// callState carries one request through the pipeline.
type callState struct {
	p        *pipeline
	t        *table
	r        *http.Request
	w        http.ResponseWriter
	start    time.Time
	reqID    string
	endpoint string
	rt       *route
	rec      *logs.Record
	body     []byte
	res      *lua.Result
	answered bool
	// expecting: this call's record is announced to the call log.
	expecting bool

	in *codeInput
	// holdsSlot: the call holds a global --max-concurrent slot; turn is
	// the webhook's concurrency slot it holds (concurrency.go).
	holdsSlot bool
	turn      *limiter
	// claimID is the delivery id this call claimed (dedup.go).
	claimID string
	// jobID is the background job the answer names (jobs.go); batch is
	// the delivery state committed with the record.
	jobID string
	batch logs.Batch
	// dctx is the request's context without its cancellation (detached).
	dctx context.Context
}

// codeInput is what the code of a call sees of its request.
type codeInput struct {
	body    []byte
	payload string // the body, when it is the JSON payload
	form    map[string]string
	rawData string
	headers http.Header
	req     lua.Request
}

// leaveSlot gives the global slot back (once).
func (c *callState) leaveSlot() {
	if c.holdsSlot {
		c.holdsSlot = false
		c.p.leave()
	}
}

// releaseAll gives back whatever the call still holds (after a panic).
func (c *callState) releaseAll() {
	c.leaveTurn()
	c.leaveSlot()
	if c.claimID != "" {
		c.settleClaim(nil)
	}
}

// detached returns the request's context without its cancellation, made
// once per call: code and the call log must finish when the caller leaves.
func (c *callState) detached() context.Context {
	if c.dctx == nil {
		c.dctx = context.WithoutCancel(c.r.Context())
	}
	return c.dctx
}

// withdraw takes back the announcement of this call's record (once).
func (c *callState) withdraw() {
	if c.expecting {
		c.expecting = false
		c.p.expect(-1)
	}
}

func (c *callState) serve() {
	p, r := c.p, c.r
	// Routes exist only for GET and POST, so any other method misses too.
	rt := c.t.routes[definitions.RouteKey{Endpoint: c.endpoint, Method: r.Method}]
	if rt == nil || !rt.wh.Active {
		// As Tower: an unknown webhook counts as a failed authentication.
		// No authenticator names trusted proxies here: the peer is the client.
		c.rec.IPAddress = addrString(parseHostAddr(r.RemoteAddr))
		c.rec.AuthenticationStatus = logs.AuthFailed
		c.rec.ErrorMessage = msgNotFound
		c.finish(http.StatusNotFound, msgNotFound, nil)
		return
	}
	c.rt = rt
	c.rec.Webhook, c.rec.WebhookName, c.rec.RunAs = rt.wh.Reference, rt.wh.Name, rt.wh.RunAs
	c.rec.Authenticator = rt.auth.a.Reference
	a := rt.auth.a
	ip := clientIP(r, a.TrustedProxies)
	c.rec.IPAddress = addrString(ip)

	// A durable call log that cannot write (a full disk): refuse before
	// any code runs, so the sender retries instead of losing the record.
	// This call's own record tries the disk again.
	if p.durable && p.logFailing != nil && p.logFailing() {
		c.rec.ErrorMessage = msgLogDown
		c.w.Header().Set("Retry-After", logDownRetryAfter)
		c.finish(http.StatusServiceUnavailable, msgLogDown, nil)
		return
	}

	// Body: refuse early on Content-Length, then read at most maxBody+1.
	if r.ContentLength > p.maxBody {
		c.rec.ErrorMessage = msgTooLarge
		c.finish(http.StatusRequestEntityTooLarge, msgTooLarge, nil)
		return
	}
	body, err := readBody(r.Body, r.ContentLength, p.maxBody)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			c.rec.ErrorMessage = msgTooLarge
			c.finish(http.StatusRequestEntityTooLarge, msgTooLarge, nil)
			return
		}
		c.rec.ErrorMessage = "reading request body: " + err.Error()
		c.finish(http.StatusBadRequest, "Cannot read request body", nil)
		return
	}
	c.body = body

	// Allowlist, before any code runs.
	if len(a.AllowedIPs) > 0 && !containsIP(a.AllowedIPs, ip) {
		c.rec.AuthenticationStatus = logs.AuthFailed
		c.rec.ErrorMessage = msgAddrDenied
		p.metrics.authResults.WithLabelValues(a.Reference, "ip_denied").Inc()
		c.finish(http.StatusForbidden, msgAddrDenied, nil)
		return
	}

	payload, form := buildPayload(r, rt.wh, body)
	c.rec.RequestPayload = logs.RedactPayload(payloadForLog(payload, form), c.t.paySecrets)
	// One string of the body serves raw_data and payload of both codes.
	c.in = &codeInput{body: body, form: form, rawData: string(body), headers: r.Header, req: lua.Request{
		Method: r.Method, Path: r.URL.Path, Endpoint: c.endpoint,
		Query: r.URL.RawQuery, RemoteAddr: c.rec.IPAddress, ID: c.reqID,
	}}
	if payload != nil {
		c.in.payload = c.in.rawData
	}

	// The call's steps (README "Delivery"): authenticate, then dedup
	// (dedup.go), then concurrency (concurrency.go), then run the code now
	// or enqueue it as a background job (jobs.go).
	if !p.enter(r.Context()) {
		c.tooBusy(1)
		return
	}
	c.holdsSlot = true
	if status, msg, raw, ok := c.authenticate(); !ok {
		c.leaveSlot()
		c.finish(status, msg, raw)
		return
	}
	if c.dedup() {
		return
	}
	if c.enqueue() {
		return
	}
	if !c.waitTurn() {
		return
	}
	status, msg, raw := c.runWebhook()
	c.leaveTurn()
	c.leaveSlot()
	c.finish(status, msg, raw)
}

// authenticate runs the authenticator; ok reports that it allowed the
// call, otherwise status and message (or a raw JSON message) answer it.
func (c *callState) authenticate() (status int, msg string, raw []byte, ok bool) {
	p, rt, in := c.p, c.rt, c.in
	// A caller that hangs up does not stop the code (as in Tower, where the
	// request runs to completion): a deploy must not die halfway because a
	// provider's delivery timed out. The call's own timeout still applies,
	// and the outcome is logged.
	ctx := c.detached()
	auth := rt.auth
	ares := c.t.engine.Run(ctx, &lua.Call{
		Kind: lua.KindAuthenticator, Script: auth.script,
		Reference: auth.a.Reference, Name: auth.a.Name, Info: auth.info,
		Payload: in.payload, PayloadForm: in.form, Headers: in.headers, RawData: in.rawData,
		Request: in.req, Timeout: rt.timeout,
	})
	c.rec.LogLines = append(c.rec.LogLines, ares.LogLines...)
	if ares.Err != nil {
		c.rec.AuthenticationStatus = logs.AuthFailed
		msg := msgAuthError + ares.Err.Error()
		c.rec.ErrorMessage = msg
		p.metrics.authResults.WithLabelValues(auth.a.Reference, "error").Inc()
		return http.StatusForbidden, msg, nil, false
	}
	if !ares.Allowed {
		c.rec.AuthenticationStatus = logs.AuthFailed
		status := http.StatusForbidden
		if ares.HTTPCode != 0 {
			status = ares.HTTPCode
		}
		msg := msgAuthDenied
		if ares.HasMessage && ares.Message != "" {
			msg = ares.Message
		}
		c.rec.ErrorMessage = msg
		p.metrics.authResults.WithLabelValues(auth.a.Reference, "denied").Inc()
		if ares.MessageJSON {
			return status, msg, []byte(msg), false
		}
		return status, msg, nil, false
	}
	c.rec.AuthenticationStatus = logs.AuthSuccess
	p.metrics.authResults.WithLabelValues(auth.a.Reference, "allowed").Inc()
	return 0, "", nil, true
}

// runWebhook is the call's last step: it runs the webhook's code now.
func (c *callState) runWebhook() (int, string, []byte) {
	status, msg, raw, res := runWebhookCode(c.detached(), c.t, c.rt, c.in, c.rec)
	c.res = res
	return status, msg, raw
}

// runWebhookCode runs rt's code on in (for an inline call or a job's
// attempt), fills rec's code fields and returns the answer's status and
// message (or raw JSON message).
func runWebhookCode(ctx context.Context, t *table, rt *route, in *codeInput, rec *logs.Record) (int, string, []byte, *lua.Result) {
	res := t.engine.Run(ctx, &lua.Call{
		Kind: lua.KindWebhook, Script: rt.script,
		Reference: rt.wh.Reference, Name: rt.wh.Name, Info: rt.info,
		Payload: in.payload, PayloadForm: in.form, Headers: in.headers, RawData: in.rawData,
		Request: in.req, Timeout: rt.timeout, RunAs: rt.cred,
	})
	status, msg, raw := webhookOutcome(res, rec)
	return status, msg, raw, res
}

// webhookOutcome turns a webhook code's result into the answer and the
// record's code fields.
func webhookOutcome(res *lua.Result, rec *logs.Record) (int, string, []byte) {
	rec.LogLines = append(rec.LogLines, res.LogLines...)
	if res.Err != nil {
		rec.CodeStatus = logs.CodeFailed
		msg := msgCodeError + res.Err.Error()
		rec.ErrorMessage = msg
		return http.StatusInternalServerError, msg, nil
	}
	var raw []byte
	if res.MessageJSON {
		raw = []byte(res.Message)
	}
	rec.ResultMessage = res.Message
	if res.HasExitCode && res.ExitCode == 0 {
		rec.CodeStatus = logs.CodeSuccess
		status := http.StatusOK
		if res.HTTPCode != 0 {
			status = res.HTTPCode
		}
		msg := res.Message
		if !res.HasMessage {
			msg = msgOK
		}
		return status, msg, raw
	}
	rec.CodeStatus = logs.CodeFailed
	if res.HasExitCode {
		rec.ErrorMessage = "exit_code " + strconv.Itoa(res.ExitCode)
	} else {
		rec.ErrorMessage = "exit_code missing or not an integer"
	}
	status := http.StatusInternalServerError
	if res.HTTPCode != 0 {
		status = res.HTTPCode
	}
	return status, res.Message, raw
}

// finish logs the call and writes the answer (once).
func (c *callState) finish(status int, msg string, raw []byte) {
	if c.answered {
		return
	}
	c.answered = true
	p := c.p
	rec := c.rec
	rec.HTTPStatus = status
	rec.DurationSeconds = time.Since(c.start).Seconds()
	rec.RequestHeaders = logs.RedactHeaders(c.r.Header, c.t.set.SecretValues())
	if rec.RequestPayload == nil {
		rec.RequestPayload = json.RawMessage("{}")
	}
	capRecord(rec, c.t.secretMask)
	c.withdraw()
	claim := c.claimFor(status, msg, raw)
	if claim != nil {
		c.batch.Claims = append(c.batch.Claims, claim)
	}
	// The request's context may be cancelled by a client that went away;
	// the record must still be written.
	if err := p.commit(c.detached(), rec, c.batch); err != nil {
		p.logger.Error("call log append failed", "request_id", c.reqID, "webhook", rec.Webhook, "err", err)
		if p.durable || len(c.batch.Jobs) > 0 {
			// Not committed: the caller must not get an answer that
			// counts as delivered (its code may have run; a retry runs
			// it again, as when a provider's delivery times out). A
			// job that was not stored is never answered 202.
			status, msg, raw = http.StatusServiceUnavailable, msgLogDown, nil
			c.res, c.jobID, claim = nil, "", nil
			c.w.Header().Set("Retry-After", logDownRetryAfter)
		}
	}
	c.settleClaim(claim)
	label := unmatched
	if c.rt != nil {
		label = c.rt.wh.Reference
	}
	p.metrics.requests.WithLabelValues(label, p.metrics.code(status)).Inc()
	p.metrics.duration.WithLabelValues(label).Observe(time.Since(c.start).Seconds())

	h := c.w.Header()
	if res := c.res; res != nil && res.Err == nil {
		for k, v := range res.Headers {
			if allowedResponseHeader(k) {
				h.Set(k, v)
			}
		}
		if res.Body != nil {
			ct := res.ContentType
			if ct == "" {
				ct = "text/plain; charset=utf-8"
			}
			h.Set("Content-Type", ct)
			h.Set("Content-Length", strconv.Itoa(len(*res.Body)))
			c.w.WriteHeader(status)
			io.WriteString(c.w, *res.Body)
			return
		}
	}
	if c.jobID != "" {
		writeAccepted(c.w, status, msg, c.jobID)
		return
	}
	if raw != nil {
		writeRawMessage(c.w, status, raw)
		return
	}
	writeMessage(c.w, status, msg)
}

// commit stores a call's record with its delivery state.
func (p *pipeline) commit(ctx context.Context, rec *logs.Record, b logs.Batch) error {
	if p.batchFn != nil && (len(b.Jobs) > 0 || len(b.Claims) > 0) {
		return p.batchFn(ctx, rec, b)
	}
	if p.appendFn != nil {
		return p.appendFn(ctx, rec)
	}
	return nil
}

// enter takes a code execution slot, waiting briefly when all are busy.
func (p *pipeline) enter(ctx context.Context) bool {
	select {
	case p.sem <- struct{}{}:
		return true
	default:
	}
	if p.busyWait <= 0 {
		return false
	}
	tm := time.NewTimer(p.busyWait)
	defer tm.Stop()
	select {
	case p.sem <- struct{}{}:
		return true
	case <-tm.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (p *pipeline) leave() { <-p.sem }

var errTooLarge = errors.New("body too large")

// readBody reads at most limit bytes; more is errTooLarge. A known
// Content-Length (already checked against limit) is read into one buffer of
// that size: net/http ends such a body at Content-Length.
func readBody(r io.Reader, length, limit int64) ([]byte, error) {
	if r == nil || r == http.NoBody {
		return nil, nil
	}
	if length > 0 && length <= limit {
		b := make([]byte, length)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// buildPayload returns JSON payload bytes or a form map (DESIGN section 3).
func buildPayload(r *http.Request, wh *definitions.Webhook, body []byte) ([]byte, map[string]string) {
	if r.Method == http.MethodGet {
		return nil, parseQuery(r.URL.RawQuery)
	}
	if wh.ContentType == definitions.ContentForm {
		if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
			return nil, multipartFields(body, params["boundary"])
		}
		return nil, parseQuery(string(body))
	}
	// The Lua bridge turns an empty or invalid body into {} (and the call
	// log stores invalid JSON as a string), so the body is not scanned here;
	// runCode hands Lua one string of it for payload and raw_data.
	return body, nil
}

// parseQuery decodes a query string or urlencoded form, first value per
// key, as leniently as werkzeug (which Tower uses): pairs are split on "&"
// only, "+" is a space, and a malformed escape such as "%ZZ" stays as
// written instead of dropping the pair.
func parseQuery(s string) map[string]string {
	m := map[string]string{}
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k = unescapeForm(k)
		if _, ok := m[k]; !ok {
			m[k] = unescapeForm(v)
		}
	}
	return m
}

// unescapeForm decodes "+" and %XX escapes, keeping malformed escapes as
// they are.
func unescapeForm(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// multipartFields returns the text fields of a multipart/form-data body,
// first value per name. File parts are left out (the code has them in
// raw_data); a malformed body yields the fields read before the error.
func multipartFields(body []byte, boundary string) map[string]string {
	m := map[string]string{}
	if boundary == "" {
		return m
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if err != nil {
			return m
		}
		name := part.FormName()
		if name == "" || part.FileName() != "" {
			continue
		}
		if _, ok := m[name]; ok {
			continue
		}
		v, err := io.ReadAll(part)
		if err != nil {
			return m
		}
		m[name] = string(v)
	}
}

func payloadForLog(payload []byte, form map[string]string) json.RawMessage {
	if form != nil {
		b, err := json.Marshal(form)
		if err != nil {
			return json.RawMessage("{}")
		}
		return b
	}
	if len(payload) == 0 {
		return json.RawMessage("{}")
	}
	return json.RawMessage(payload)
}

// clientIP returns the caller's address: the TCP peer, unless the peer is a
// trusted proxy; then X-Forwarded-For is walked from the right, skipping
// trusted proxies, and the first untrusted address is the client.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if len(trusted) == 0 || !containsIP(trusted, peer) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			part := strings.TrimSpace(parts[j])
			if part == "" {
				continue // "a, , b" or a trailing comma
			}
			// A bare address, or with a port as some proxies (Azure
			// Application Gateway) write it: 192.0.2.1:443, [2001:db8::1]:443.
			a := parseHostAddr(part)
			if !a.IsValid() {
				// A garbled entry: stop trusting the chain here.
				return client
			}
			client = a
			if !containsIP(trusted, a) {
				return a
			}
		}
	}
	return client
}

// addrString is a's text, or "" when the address is unknown.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// parseHostAddr parses "addr" or "addr:port" (IPv6 in brackets with a
// port), unmapping IPv4-in-IPv6 and dropping zones; invalid text gives the
// zero Addr.
func parseHostAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func containsIP(list []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range list {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// requestID honours a sane incoming X-Request-Id or makes a new one.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 128 {
		ok := true
		for i := 0; i < n; i++ {
			ch := in[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == ':') {
				ok = false
				break
			}
		}
		if ok {
			return in
		}
	}
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// allowedResponseHeader keeps webhook results from breaking the framing.
func allowedResponseHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Content-Length", "Transfer-Encoding", "Connection", "Trailer", "Upgrade", "Keep-Alive", "X-Request-Id":
		return false
	}
	return k != ""
}

// writeMessage answers {"message": msg}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	b := make([]byte, 0, len(msg)+16)
	b = append(b, `{"message":`...)
	b = jsonx.AppendString(b, msg)
	writeJSONBody(w, status, append(b, '}', '\n'))
}

// writeRawMessage answers {"message": <raw JSON>}.
func writeRawMessage(w http.ResponseWriter, status int, raw []byte) {
	b := make([]byte, 0, len(raw)+16)
	b = append(b, `{"message":`...)
	b = append(b, raw...)
	writeJSONBody(w, status, append(b, '}', '\n'))
}

// writeJSONBody answers the JSON document b. Both header values share one
// allocation; the names are canonical, so they are stored as Set would.
func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	vs := make([]string, 2)
	vs[0], vs[1] = "application/json", strconv.Itoa(len(b))
	h := w.Header()
	h["Content-Type"] = vs[0:1:1]
	h["Content-Length"] = vs[1:2:2]
	w.WriteHeader(status)
	w.Write(b)
}
