package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkHTTP is the loopback comparison measured by an external load
// generator (wrk, a separate process) instead of an in-process Go client,
// so the client's CPU is not charged to the server's Go runtime and the
// client is the same for every row. Run it with `make bench-http`, which
// installs wrk when missing and runs five interleaved rounds; each row
// reports its rate as a share of the bare handler (%bare) and of the
// fsync ceiling (%fsync) measured in the same round (README "Benchmarks").
//
// Every row answers the same signed 1 KB GitHub-like push; wrk runs
// BENCH_HTTP_DURATION (default 5s) per row with 32 connections.
func BenchmarkHTTP(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed (make bench-http installs it)")
	}
	dur := os.Getenv("BENCH_HTTP_DURATION")
	if dur == "" {
		dur = "5s"
	}
	script := writeWrkScript(b, benchPayload())
	run := func(b *testing.B, url string) wrkResult {
		b.Helper()
		res := runWrk(b, wrk, script, dur, url)
		b.ReportMetric(res.rate, "req/s")
		b.ReportMetric(res.p50.Seconds()*1e6, "p50-µs")
		b.ReportMetric(res.p99.Seconds()*1e6, "p99-µs")
		if res.requests > 0 {
			// The server's CPU per answer (wrk is another process): the
			// figure to compare changes by on a loaded machine.
			b.ReportMetric(float64(res.cpu.Microseconds())/float64(res.requests), "cpu-µs/req")
			b.ReportMetric(float64(res.mallocs)/float64(res.requests), "allocs/req")
		}
		return res
	}
	var bare, ceiling float64
	share := func(b *testing.B, rate float64) {
		if bare > 0 {
			b.ReportMetric(100*rate/bare, "%bare")
		}
		if ceiling > 0 {
			b.ReportMetric(100*rate/ceiling, "%fsync")
		}
	}
	b.Run("bare", func(b *testing.B) {
		bare = run(b, serveLoopback(b, bareHandler())+"/cetmix_tower_webhooks/push").rate
	})
	b.Run("bare_fsync", func(b *testing.B) {
		g, err := newGroupSync(filepath.Join(b.TempDir(), "wal"))
		if err != nil {
			b.Fatal(err)
		}
		// A cleanup, so the file closes after the server has shut down
		// (cleanups run last registered first).
		b.Cleanup(func() { g.f.Close() })
		h := bareAfter(b, func(_ *http.Request, body []byte) error { return g.append(body) })
		ceiling = run(b, serveLoopback(b, h)+"/cetmix_tower_webhooks/push").rate
		share(b, ceiling)
	})
	b.Run("towerhook_durable", func(b *testing.B) {
		defer TuneRuntime(os.Getenv)()
		d := startBenchDaemon(b, true)
		share(b, run(b, d.pub+DefaultPrefix+"push").rate)
	})
	b.Run("towerhook_async", func(b *testing.B) {
		defer TuneRuntime(os.Getenv)()
		d := startBenchDaemon(b, false)
		share(b, run(b, d.pub+DefaultPrefix+"push").rate)
	})
}

// serveLoopback serves h on a loopback port until the benchmark ends and
// returns its base URL.
func serveLoopback(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	b.Cleanup(func() {
		// Let the handlers wrk left running finish before what they use
		// (files, stores) is cleaned up.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// writeWrkScript writes the wrk Lua script that posts body, signed as the
// bench authenticator expects, and returns its path.
func writeWrkScript(b *testing.B, body []byte) string {
	var s bytes.Buffer
	s.WriteString("wrk.method = \"POST\"\n")
	// A long bracket whose level cannot occur in the JSON body.
	fmt.Fprintf(&s, "wrk.body = [==[%s]==]\n", body)
	s.WriteString("wrk.headers[\"Content-Type\"] = \"application/json\"\n")
	fmt.Fprintf(&s, "wrk.headers[\"X-Hub-Signature-256\"] = %q\n", sign(body))
	path := filepath.Join(b.TempDir(), "post.lua")
	if err := os.WriteFile(path, s.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// wrkResult is what one wrk run measured.
type wrkResult struct {
	rate     float64
	p50, p99 time.Duration
	requests int64         // answers wrk counted
	cpu      time.Duration // this process's CPU time while wrk ran
	mallocs  uint64        // heap allocations this process made meanwhile
}

// runWrk runs wrk against url and parses its report; any non-2xx answer
// or socket error fails the benchmark.
func runWrk(b *testing.B, wrk, script, dur, url string) wrkResult {
	b.Helper()
	cmd := exec.Command(wrk, "-t2", "-c32", "-d"+dur, "--latency", "-s", script, url)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cpu0, mallocs0 := processCPU(), ms.Mallocs
	out, err := cmd.CombinedOutput()
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&ms)
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	res, err := parseWrk(out)
	if err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	res.cpu, res.mallocs = cpu, ms.Mallocs-mallocs0
	return res
}

// parseWrk reads the rate and the latency percentiles of wrk's report.
func parseWrk(out []byte) (wrkResult, error) {
	var res wrkResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return res, fmt.Errorf("wrk request count %q: %v", f[0], err)
			}
			res.requests = n
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return res, fmt.Errorf("wrk rate %q: %v", f[1], err)
			}
			res.rate = v
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return res, err
			}
			if f[0] == "50%" {
				res.p50 = d
			} else {
				res.p99 = d
			}
		case len(f) > 0 && (f[0] == "Non-2xx" || strings.HasPrefix(sc.Text(), "  Socket errors")):
			return res, fmt.Errorf("wrk saw failures: %s", strings.TrimSpace(sc.Text()))
		}
	}
	if res.rate == 0 {
		return res, fmt.Errorf("no Requests/sec line in wrk's output")
	}
	return res, nil
}

// parseWrkDuration parses wrk's latency figures (12.5us, 1.02ms, 1.10s).
func parseWrkDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.Replace(s, "us", "µs", 1))
	if err != nil {
		return 0, fmt.Errorf("wrk latency %q: %v", s, err)
	}
	return d, nil
}
