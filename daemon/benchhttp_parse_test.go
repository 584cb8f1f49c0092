package daemon

import (
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	const report = `Running 2s test @ http://127.0.0.1:40000/cetmix_tower_webhooks/push
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms    2.10ms  30.00ms   90.00%
  Latency Distribution
     50%  850.00us
     75%    1.50ms
     90%    3.00ms
     99%    1.10s
  41000 requests in 2.00s, 6.00MB read
Requests/sec:  20500.25
Transfer/sec:      3.00MB
`
	tests := []struct {
		name, out, err string
		want           wrkResult
	}{
		{name: "ok", out: report, want: wrkResult{rate: 20500.25, requests: 41000, p50: 850 * time.Microsecond, p99: 1100 * time.Millisecond}},
		{name: "non-2xx", out: strings.Replace(report, "Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec", 1), err: "wrk saw failures: Non-2xx or 3xx responses: 12"},
		{name: "socket errors", out: strings.Replace(report, "Requests/sec", "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec", 1), err: "wrk saw failures: Socket errors: connect 0, read 3, write 0, timeout 0"},
		{name: "no rate", out: "Running 2s test\n", err: "no Requests/sec line in wrk's output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk([]byte(tt.out))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
