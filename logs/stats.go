package logs

import "time"

// WebhookCounts are one webhook's calls in a window.
type WebhookCounts struct {
	Calls int
	// Failures are the calls answered with an HTTP status of 400 or more
	// (the "failed" filter).
	Failures int
	// Last is the time of the newest call.
	Last time.Time
}

// Counts are the calls per webhook reference since a time (calls that
// matched no webhook count under "").
type Counts struct {
	Webhooks map[string]WebhookCounts
	// Scanned is the number of records read.
	Scanned int
	// Complete is false when the scan stopped at its bound before reaching
	// the start of the window: the counts then cover the newest Scanned
	// records only, back to Oldest.
	Complete bool
	Oldest   time.Time
}

// CountSince counts the records at or after since per webhook, newest
// first, reading at most limit records (0: no bound). Only the small value
// header is read (no JSON is decoded), so a bounded count costs a few
// milliseconds per hundred thousand records.
func (s *Store) CountSince(since time.Time, limit int) (*Counts, error) {
	acc := map[string]*WebhookCounts{}
	c := &Counts{Complete: true}
	var oldest key
	err := s.walk(span{lower: makeKey(since.UnixNano(), 0), haveLower: true}, func(k key, v []byte) bool {
		if limit > 0 && c.Scanned == limit {
			c.Complete = false
			return true
		}
		h, err := decodeHeader(v)
		if err != nil {
			return false
		}
		c.Scanned++
		oldest = k
		w := acc[string(h.webhook)] // no allocation for the lookup
		if w == nil {
			w = &WebhookCounts{Last: time.Unix(0, k.nanos()).UTC()}
			acc[string(h.webhook)] = w
		}
		w.Calls++
		if h.status >= 400 {
			w.Failures++
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	c.Webhooks = make(map[string]WebhookCounts, len(acc))
	for ref, w := range acc {
		c.Webhooks[ref] = *w
	}
	if c.Scanned > 0 {
		c.Oldest = time.Unix(0, oldest.nanos()).UTC()
	}
	return c, nil
}
