package daemon

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDurableUnderFlood (issue 16, defect 1): durable calls of a real
// webhook (HMAC authenticator, durable call log) from 4 clients, alone and
// while 8 other clients flood the same public port with unknown endpoints
// of 30 000 characters carrying a 30 KB header (each a 404 with a capped,
// durable record), or with the same requests outside the prefix (404
// without a record: the HTTP work alone). All over loopback; the flood stops with the
// measurement. It reports the webhook calls' p50/p99 latency and rate and
// the flood's rate. Run: go test -run '^$' -bench DurableUnderFlood
// -benchtime 2000x -count 5 ./daemon/ (the runs interleave).
func BenchmarkDurableUnderFlood(b *testing.B) {
	// The reference flood goes to a path outside the prefix: the same
	// requests, answered 404 without a record (what the HTTP work alone costs).
	for _, flood := range []string{"", "unrecorded", "404"} {
		name := "alone"
		if flood != "" {
			name = "with_" + flood + "_flood"
		}
		b.Run(name, func(b *testing.B) {
			defer TuneRuntime(os.Getenv)()
			d := startBenchDaemon(b, true)
			var floods atomic.Int64
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			switch flood {
			case "unrecorded":
				floodPublic(ctx, &wg, d.pub+"/elsewhere/"+strings.Repeat("e", 30000), &floods)
			case "404":
				floodPublic(ctx, &wg, d.pub+DefaultPrefix+strings.Repeat("e", 30000), &floods)
			}
			start := time.Now()
			lat := durableCalls(b, d.pub+DefaultPrefix+"push", 4)
			wall := time.Since(start)
			stop()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(b.N)/wall.Seconds(), "req/s")
			b.ReportMetric(float64(floods.Load())/wall.Seconds(), "flood-req/s")
		})
	}
}

// floodPublic starts 8 clients posting to url (an unknown endpoint) with a
// 30 KB header until ctx is done, counting answers in n.
func floodPublic(ctx context.Context, wg *sync.WaitGroup, url string, n *atomic.Int64) {
	client := benchClient()
	junk := strings.Repeat("j", 30000)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader("{}"))
				req.Header.Set("X-Junk", junk)
				resp, err := client.Do(req)
				if err != nil {
					continue // cancelled at the end
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		}()
	}
}

// durableCalls makes b.N signed calls of the push webhook from clients
// concurrent clients and returns their latencies; every answer must be 200.
func durableCalls(b *testing.B, url string, clients int) []time.Duration {
	body := benchPayload()
	headers := map[string]string{"X-Hub-Signature-256": sign(body)}
	client := benchClient()
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := postOK(client, url, body, headers); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	return lat
}
