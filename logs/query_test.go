package logs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// fill appends n records spread over days days before t0, with webhooks
// w0..w3, authenticators and statuses cycling, and returns them newest first.
func fill(t *testing.T, s *Store, n, days int) []*Record {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	statuses := []int{200, 201, 302, 400, 403, 404, 500}
	var all []*Record
	for i := 0; i < n; i++ {
		x := rec(fmt.Sprint("w", i%4), statuses[i%len(statuses)])
		x.Authenticator = fmt.Sprint("a", i%3)
		x.Time = t0.Add(-time.Duration(r.Int64N(int64(days) * int64(24*time.Hour))))
		if i%10 == 0 && i > 0 {
			x.Time = all[i-1].Time // same nanosecond: sequence breaks the tie
		}
		if err := s.Append(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		all = append(all, x)
	}
	slices.SortFunc(all, func(a, b *Record) int {
		if a.ID > b.ID {
			return -1
		}
		return 1
	})
	return all
}

func TestQuery(t *testing.T) {
	c := newClock(t0)
	s := openTest(t, "", Options{Now: c.now, QueueSize: 1000})
	all := fill(t, s, 600, 5)
	_ = s.Close()
	s = openTest(t, s.Path(), Options{Now: c.now, ReadOnly: true})

	since, until := t0.Add(-50*time.Hour), t0.Add(-20*time.Hour)
	tests := []struct {
		name string
		f    Filter
		keep func(*Record) bool
	}{
		{"all", Filter{}, func(*Record) bool { return true }},
		{"webhook", Filter{Webhook: "w1"}, func(r *Record) bool { return r.Webhook == "w1" }},
		{"authenticator", Filter{Authenticator: "a2"}, func(r *Record) bool { return r.Authenticator == "a2" }},
		{"success", Filter{Status: "success"}, func(r *Record) bool { return r.HTTPStatus < 400 }},
		{"failed", Filter{Status: "failed"}, func(r *Record) bool { return r.HTTPStatus >= 400 }},
		{"code", Filter{Status: "404"}, func(r *Record) bool { return r.HTTPStatus == 404 }},
		{"since", Filter{Since: since}, func(r *Record) bool { return !r.Time.Before(since) }},
		{"until", Filter{Until: until}, func(r *Record) bool { return !r.Time.After(until) }},
		{"range+webhook+failed", Filter{Since: since, Until: until, Webhook: "w2", Status: "failed"}, func(r *Record) bool {
			return !r.Time.Before(since) && !r.Time.After(until) && r.Webhook == "w2" && r.HTTPStatus >= 400
		}},
		{"until exact record", Filter{Until: all[100].Time}, func(r *Record) bool { return !r.Time.After(all[100].Time) }},
		{"no match", Filter{Webhook: "nope"}, func(*Record) bool { return false }},
		{"empty range", Filter{Since: t0.Add(time.Hour)}, func(*Record) bool { return false }},
	}
	for _, tt := range tests {
		for _, limit := range []int{0, 1, 7, 1000} {
			for _, maxScan := range []int{0, 1, 13} {
				testQueryPages(t, s, all, tt.name, tt.f, tt.keep, limit, maxScan)
			}
		}
	}
}

// testQueryPages pages through f and compares the ids with those of all
// that keep selects. With maxScan a page may be short (Partial).
func testQueryPages(t *testing.T, s *Store, all []*Record, name string, f Filter, keep func(*Record) bool, limit, maxScan int) {
	t.Run(name+"/limit="+strconv.Itoa(limit)+"/maxscan="+strconv.Itoa(maxScan), func(t *testing.T) {
		var want []string
		for _, r := range all {
			if keep(r) {
				want = append(want, r.ID)
			}
		}
		f.Limit, f.MaxScan = limit, maxScan
		var got []string
		for pages := 0; ; pages++ {
			p, err := s.Query(f)
			if err != nil {
				t.Fatal(err)
			}
			if p.Records == nil {
				t.Fatal("Records is nil, want []")
			}
			eff := limit
			if eff == 0 {
				eff = DefaultLimit
			}
			if len(p.Records) > eff {
				t.Fatalf("page of %d > limit %d", len(p.Records), eff)
			}
			for _, r := range p.Records {
				got = append(got, r.ID)
			}
			if p.NextCursor == "" {
				break
			}
			if len(p.Records) != eff && !p.Partial {
				t.Fatalf("short page %d with a cursor", len(p.Records))
			}
			if p.Partial && maxScan == 0 {
				t.Fatal("partial page without MaxScan")
			}
			f.Cursor = p.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %d ids, want %d\n got %.5v\nwant %.5v", len(got), len(want), got, want)
		}
	})
}

func TestQueryBadInput(t *testing.T) {
	s := openTest(t, "", Options{})
	for _, f := range []Filter{{Status: "ok"}, {Status: "99"}, {Cursor: "!!"}, {Cursor: "AAAA"}} {
		if _, err := s.Query(f); err == nil {
			t.Errorf("Query(%+v): no error", f)
		}
	}
}
