package logs

import (
	"fmt"
	"math"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// matcher is a Filter compiled for the value header.
type matcher struct {
	webhook, authenticator string
	statusMin, statusMax   int
}

func compileFilter(f Filter) (matcher, error) {
	m := matcher{webhook: f.Webhook, authenticator: f.Authenticator, statusMax: math.MaxInt}
	switch f.Status {
	case "":
	case "success":
		m.statusMax = 399
	case "failed":
		m.statusMin = 400
	default:
		n, err := strconv.Atoi(f.Status)
		if err != nil || n < 100 || n > 599 {
			return m, fmt.Errorf("%w: status %q: want success, failed or an HTTP code", ErrBadFilter, f.Status)
		}
		m.statusMin, m.statusMax = n, n
	}
	return m, nil
}

func (m *matcher) match(h *header) bool {
	return (m.webhook == "" || string(h.webhook) == m.webhook) &&
		(m.authenticator == "" || string(h.authenticator) == m.authenticator) &&
		h.status >= m.statusMin && h.status <= m.statusMax
}

// Query returns matching records newest first. Filter.Since and Until are
// inclusive; Limit defaults to 50 and is capped at 1000; Cursor continues
// from a previous Page.NextCursor, which is "" once no match is left.
// Status "success" means http_status < 400, "failed" >= 400, a number an
// exact http_status. Day buckets outside [Since, Until] are skipped.
func (s *Store) Query(f Filter) (*Page, error) {
	m, err := compileFilter(f)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)

	// Exclusive upper bound and inclusive lower bound on keys.
	var upper key
	haveUpper := false
	if f.Cursor != "" {
		if upper, err = parseCursor(f.Cursor); err != nil {
			return nil, err
		}
		haveUpper = true
	}
	if !f.Until.IsZero() {
		u := makeKey(f.Until.UnixNano()+1, 0)
		if !haveUpper || string(u[:]) < string(upper[:]) {
			upper = u
		}
		haveUpper = true
	}
	var lower key
	if !f.Since.IsZero() {
		lower = makeKey(f.Since.UnixNano(), 0)
	}

	page := &Page{Records: []*Record{}}
	var last key // key of the last record in page
	var read key // key of the last record read
	scanned := 0
	// take adds one candidate; it reports true once the page is full or
	// MaxScan records were read.
	take := func(kk key, v []byte) bool {
		if f.MaxScan > 0 && scanned == f.MaxScan {
			page.NextCursor, page.Partial = read.cursor(), true
			return true
		}
		scanned++
		read = kk
		h, err := decodeHeader(v)
		if err != nil || !m.match(&h) {
			return false
		}
		if len(page.Records) == limit {
			// One more match exists: hand out a cursor.
			page.NextCursor = last.cursor()
			return true
		}
		rec, err := decodeRecord(kk, v)
		if err != nil {
			s.log.Warn("call log: skipping unreadable record", "err", err)
			return false
		}
		page.Records = append(page.Records, rec)
		last = kk
		return false
	}
	if err := s.walk(span{upper: upper, haveUpper: haveUpper, lower: lower, haveLower: !f.Since.IsZero()}, take); err != nil {
		return nil, err
	}
	return page, nil
}

// span bounds a walk: keys below upper (when haveUpper) and at or above
// lower (when haveLower).
type span struct {
	upper, lower         key
	haveUpper, haveLower bool
}

// walk visits the records in sp newest first, journaled records not yet in
// bbolt merged in by key, until visit returns true. Day buckets outside sp
// are skipped.
func (s *Store) walk(sp span, visit func(k key, v []byte) bool) error {
	upper, haveUpper, lower := sp.upper, sp.haveUpper, sp.lower
	lowerDay := ""
	if sp.haveLower {
		lowerDay = lower.day()
	}
	stopped := false
	pend := newestFirst(s.j.snapshot(), upper, haveUpper, lower)
	// flush visits pending records newer than k (all when k is nil); a
	// pending record equal to k is already in bbolt and is skipped.
	flush := func(k []byte) bool {
		for len(pend) > 0 && (k == nil || string(pend[0].k[:]) >= string(k)) {
			p := pend[0]
			pend = pend[1:]
			if k != nil && string(p.k[:]) == string(k) {
				continue
			}
			if visit(p.k, p.val) {
				stopped = true
				return true
			}
		}
		return false
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		days := tx.Cursor()
		var day []byte
		if haveUpper {
			start := []byte(makeKey(upper.nanos()-1, 0).day())
			if upper.seq() > 0 {
				start = []byte(upper.day())
			}
			day, _ = days.Seek(start)
			if day == nil {
				day, _ = days.Last()
			} else if string(day) > string(start) {
				day, _ = days.Prev()
			}
		} else {
			day, _ = days.Last()
		}
		for ; day != nil && string(day) >= lowerDay; day, _ = days.Prev() {
			b := tx.Bucket(day)
			if b == nil || !isDayBucket(day) {
				continue
			}
			c := b.Cursor()
			var k, v []byte
			if haveUpper {
				k, v = c.Seek(upper[:])
				if k == nil {
					k, v = c.Last()
				} else {
					k, v = c.Prev()
				}
			} else {
				k, v = c.Last()
			}
			for ; k != nil; k, v = c.Prev() {
				if len(k) != keyLen || v == nil {
					continue
				}
				if sp.haveLower && string(k) < string(lower[:]) {
					return nil
				}
				if flush(k) {
					return nil
				}
				if visit(key(k), v) {
					stopped = true
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !stopped {
		flush(nil)
	}
	return nil
}

// Get returns one record by id (ErrNotFound when absent or not an id).
func (s *Store) Get(id string) (*Record, error) {
	k, err := parseID(id)
	if err != nil {
		return nil, ErrNotFound
	}
	if v := s.j.lookup(k); v != nil {
		return decodeRecord(k, v)
	}
	var rec *Record
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(k.day()))
		if b == nil {
			return ErrNotFound
		}
		v := b.Get(k[:])
		if v == nil {
			return ErrNotFound
		}
		rec, err = decodeRecord(k, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}
