package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"towerhook/definitions"
	"towerhook/logs"
)

// Step 2 of a call (README "Delivery"): duplicates. After the
// authenticator allowed the call and before any code runs, the delivery id
// is claimed atomically per (webhook, id). A repeat within the window gets
// the first call's answer (or 409 while the first still runs inline); a
// first call that failed releases its claim so that the sender's retry
// runs. Claims of answered calls are stored with their call-log record, so
// they survive a restart; the daemon keeps the live ones in memory.

// Dedup outcomes, the result label of towerhook_dedup_total.
const (
	dedupNew        = "new"
	dedupDuplicate  = "duplicate"
	dedupInProgress = "in_progress"
)

// Answers of the dedup step.
const (
	msgInProgress     = "Delivery in progress"
	headerDuplicateOf = "X-Towerhook-Duplicate-Of"
)

// maxClaimMessage is the longest first answer's message a claim keeps for
// repeats; a longer one is answered "Duplicate of <first request id>".
const maxClaimMessage = 64 << 10

// maxDedupID is the longest delivery id kept as sent; longer ones (and
// ids with control characters or invalid UTF-8) are kept as their sha256.
const maxDedupID = 1024

// dedupKey identifies a claim.
type dedupKey struct{ webhook, id string }

// claimEntry is a claim: in flight (the first call still runs) or done.
type claimEntry struct {
	inFlight bool
	claim    logs.Claim
}

// dedupTable holds the live claims. Its methods are safe for concurrent use.
type dedupTable struct {
	mu  sync.Mutex
	m   map[dedupKey]*claimEntry
	now func() time.Time
}

func newDedupTable(now func() time.Time) *dedupTable {
	if now == nil {
		now = time.Now
	}
	return &dedupTable{m: map[dedupKey]*claimEntry{}, now: now}
}

// claim claims (webhook, id) for the call reqID. It returns the first
// call's claim for a repeat (inFlight: that call has not been answered).
func (d *dedupTable) claim(webhook, id, reqID string, window time.Duration) (first logs.Claim, repeat, inFlight bool) {
	k := dedupKey{webhook, id}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.m[k]; e != nil && e.claim.Expires.After(now) {
		return e.claim, true, e.inFlight
	}
	d.m[k] = &claimEntry{inFlight: true, claim: logs.Claim{
		Webhook: webhook, ID: id, RequestID: reqID, Time: now, Expires: now.Add(window),
	}}
	return logs.Claim{}, false, false
}

// done returns the claim of a first call answered with status, message
// and job, to store; settle then makes it visible to repeats.
func (d *dedupTable) done(webhook, id string, status int, msg string, msgJSON bool, job string) *logs.Claim {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.m[dedupKey{webhook, id}]
	if e == nil {
		return nil
	}
	c := e.claim
	c.Status, c.Message, c.MessageJSON, c.Job = status, msg, msgJSON, job
	return &c
}

// settle ends a first call: its claim c is kept (answered) or, when c is
// nil, released so that a repeat runs.
func (d *dedupTable) settle(webhook, id string, c *logs.Claim) {
	k := dedupKey{webhook, id}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c == nil {
		delete(d.m, k)
		return
	}
	d.m[k] = &claimEntry{claim: *c}
}

// load adds a stored claim (at start-up).
func (d *dedupTable) load(c *logs.Claim) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[dedupKey{c.Webhook, c.ID}] = &claimEntry{claim: *c}
}

// prune forgets answered claims whose window has passed.
func (d *dedupTable) prune() {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, e := range d.m {
		if !e.inFlight && !e.claim.Expires.After(now) {
			delete(d.m, k)
		}
	}
}

// dedupID reads a call's delivery id ("" = no dedup for this call) and
// normalises it (normalDedupID).
func dedupID(d definitions.Dedup, r *http.Request, payload []byte, form map[string]string) string {
	var id string
	switch d.Source {
	case definitions.DedupHeader:
		id = r.Header.Get(d.Name)
	case definitions.DedupQuery:
		id = r.URL.Query().Get(d.Name)
	case definitions.DedupPayload:
		if form != nil {
			id = form[d.Name]
		} else {
			id = payloadMember(payload, d.Path)
		}
	}
	return normalDedupID(id)
}

// payloadMember returns the string or integer member at path of a JSON
// body ("" when absent or of another type).
func payloadMember(body []byte, path []string) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return ""
}

// normalDedupID keeps a plain id as it is; an id longer than 1 KiB, or with
// control characters or invalid UTF-8, is kept as "sha256:<hex>", never raw.
func normalDedupID(id string) string {
	if id == "" {
		return ""
	}
	plain := len(id) <= maxDedupID && utf8.ValidString(id)
	for i := 0; plain && i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f {
			plain = false
		}
	}
	if plain {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// dedup is the call's dedup step: it claims the delivery id, or answers a
// repeat and reports true.
func (c *callState) dedup() bool {
	d := c.rt.wh.Delivery
	if d.Dedup.Source == "" || c.p.dedup == nil {
		return false
	}
	id := dedupID(d.Dedup, c.r, c.in.body, c.in.form)
	if id == "" {
		return false
	}
	ref := c.rt.wh.Reference
	first, repeat, inFlight := c.p.dedup.claim(ref, id, c.reqID, d.DedupWindow)
	counter := c.p.metrics.delivery.dedup
	switch {
	case !repeat:
		counter.WithLabelValues(ref, dedupNew).Inc()
		c.claimID = id
		return false
	case inFlight:
		c.leaveSlot()
		counter.WithLabelValues(ref, dedupInProgress).Inc()
		c.rec.DuplicateOf = first.RequestID
		c.rec.ErrorMessage = msgInProgress
		c.finish(http.StatusConflict, msgInProgress, nil)
		return true
	}
	c.leaveSlot()
	counter.WithLabelValues(ref, dedupDuplicate).Inc()
	c.rec.DuplicateOf = first.RequestID
	c.rec.ResultMessage = first.Message
	c.rec.Job = first.Job
	c.jobID = first.Job
	c.w.Header().Set(headerDuplicateOf, first.RequestID)
	var raw []byte
	if first.MessageJSON {
		raw = []byte(first.Message)
	}
	c.finish(first.Status, first.Message, raw)
	return true
}

// claimFor returns the claim to store with a first call's record (nil
// when the call made none or failed: a failed call releases its claim).
func (c *callState) claimFor(status int, msg string, raw []byte) *logs.Claim {
	if c.claimID == "" || status < 200 || status > 299 {
		return nil
	}
	if raw != nil {
		msg = string(raw)
	}
	if len(msg) > maxClaimMessage {
		// Not kept: a repeat gets the status and a short message.
		msg, raw = "Duplicate of "+c.reqID, nil
	}
	return c.p.dedup.done(c.rt.wh.Reference, c.claimID, status, msg, raw != nil, c.jobID)
}

// settleClaim keeps the stored claim, or releases the claim of a call
// that failed or whose record was not stored.
func (c *callState) settleClaim(stored *logs.Claim) {
	if c.claimID == "" {
		return
	}
	c.p.dedup.settle(c.rt.wh.Reference, c.claimID, stored)
	c.claimID = ""
}

// claimPruneEvery is how often expired claims are dropped from memory (the
// store prunes its copies with the call log).
const claimPruneEvery = time.Minute

// pruneClaims drops expired claims from d until ctx ends.
func pruneClaims(ctx context.Context, d *dedupTable) {
	t := time.NewTicker(claimPruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.prune()
		}
	}
}
