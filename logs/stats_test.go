package logs

import (
	"reflect"
	"testing"
	"time"
)

// wantCounts counts recs (newest first) at or after since, at most limit.
func wantCounts(recs []*Record, since time.Time, limit int) *Counts {
	c := &Counts{Webhooks: map[string]WebhookCounts{}, Complete: true}
	for _, r := range recs {
		if r.Time.Before(since) {
			break
		}
		if limit > 0 && c.Scanned == limit {
			c.Complete = false
			break
		}
		c.Scanned++
		c.Oldest = r.Time.UTC()
		w, ok := c.Webhooks[r.Webhook]
		if !ok {
			w.Last = r.Time.UTC()
		}
		w.Calls++
		if r.HTTPStatus >= 400 {
			w.Failures++
		}
		c.Webhooks[r.Webhook] = w
	}
	return c
}

func TestCountSince(t *testing.T) {
	for _, mode := range []struct {
		name   string
		reopen bool // false: durable, records still in the journal
	}{{"journal", false}, {"bbolt", true}} {
		t.Run(mode.name, func(t *testing.T) {
			c := newClock(t0)
			s := openTest(t, "", Options{Now: c.now, Sync: true})
			all := fill(t, s, 300, 3)
			if mode.reopen {
				_ = s.Close()
				s = openTest(t, s.Path(), Options{Now: c.now, ReadOnly: true})
			}
			tests := []struct {
				name  string
				since time.Time
				limit int
			}{
				{"last 24h", t0.Add(-24 * time.Hour), 0},
				{"everything", t0.Add(-100 * time.Hour), 0},
				{"bounded", t0.Add(-100 * time.Hour), 50},
				{"bound above the window", t0.Add(-2 * time.Hour), 10000},
				{"future", t0.Add(time.Hour), 0},
			}
			for _, tt := range tests {
				got, err := s.CountSince(tt.since, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if want := wantCounts(all, tt.since, tt.limit); !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, want)
				}
			}
		})
	}
}
