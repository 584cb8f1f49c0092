package daemon

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"towerhook/logs"
)

// The loopback load benchmark (issue 5): the same client and concurrency
// against a bare net/http handler that checks an HMAC in Go, and against
// towerhook's full path (Lua HMAC authenticator, Lua webhook reading the
// payload, call log). Run with `make bench-load`.

const benchSecret = "bench-secret-value"

const benchDefs = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: github_like
  name: GitHub-like signature
  code: |
    local sig = headers["X-Hub-Signature-256"] or ""
    local expected = "sha256=" .. hmac.new(#!cxtower.secret.bench!#, raw_data, "sha256"):hexdigest()
    if hmac.compare_digest(sig, expected) then
      result = {allowed = true}
    else
      result = {allowed = false, http_code = 401, message = "Bad signature"}
    end
- cetmix_tower_model: webhook
  reference: push
  name: Push
  endpoint: push
  authenticator_id: github_like
  code: |
    local repo = payload.repository and payload.repository.full_name or "?"
    result = {exit_code = 0, message = "push to " .. repo .. " by " .. tostring(payload.pusher.name) .. " ref " .. tostring(payload.ref)}
`

func benchPayload() []byte {
	var b bytes.Buffer
	b.WriteString(`{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"76ae82c7b1a177c8d03f9e96e0adf2466113728f",`)
	b.WriteString(`"repository":{"id":1296269,"full_name":"octocat/Hello-World","private":false,"html_url":"https://github.com/octocat/Hello-World"},`)
	b.WriteString(`"pusher":{"name":"octocat","email":"octocat@github.com"},"sender":{"login":"octocat","id":1},`)
	for i := 0; b.Len() < 1000; i++ {
		fmt.Fprintf(&b, `"field_%02d":"value number %02d for padding",`, i, i)
	}
	b.WriteString(`"created":true,"deleted":false,"forced":false}`)
	return b.Bytes()
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(benchSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

// loadRun drives url with 32 concurrent clients for b.N POSTs of the
// signed GitHub-like payload and returns req/s.
func loadRun(b *testing.B, url string) float64 {
	body := benchPayload()
	b.SetBytes(int64(len(body)))
	return loadPost(b, url, body, map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})
}

// loadPost posts body with headers to url from 32 concurrent clients and
// reports (and returns) req/s; every answer must be 200.
func loadPost(b *testing.B, url string, body []byte, headers map[string]string) float64 {
	return loadEach(b, func(client *http.Client, _ int64) error { return postOK(client, url, body, headers) })
}

// loadEach runs call for requests 1..b.N from 32 concurrent clients and
// reports (and returns) req/s; a call's error stops its client.
func loadEach(b *testing.B, call func(client *http.Client, i int64) error) float64 {
	const clients = 32
	client := benchClient()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := call(client, i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wall, cpu := time.Since(start), processCPU()-cpu0
	rate := float64(b.N) / wall.Seconds()
	b.ReportMetric(rate, "req/s")
	// CPU time of the whole process (client included, child processes
	// not) per request, and the share of the machine's CPUs it used: with
	// busy% well under 100 the rate is bound by waiting (fsyncs), not CPU.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/req")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(runtime.NumCPU()), "busy%")
	return rate
}

// postOK posts body with headers to url; an answer other than 200 is an
// error.
func postOK(client *http.Client, url string, body []byte, headers map[string]string) error {
	return postStatus(client, url, body, headers, http.StatusOK)
}

// postStatus posts body with headers to url; an answer other than want is
// an error.
func postStatus(client *http.Client, url string, body []byte, headers map[string]string, want int) error {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
	}
	return nil
}

// processCPU returns the user plus system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bareHandler is the baseline: read the body, check the HMAC in Go, answer JSON.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			http.Error(w, "read", 400)
			return
		}
		if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(sign(body))) {
			writeMessage(w, 401, "Bad signature")
			return
		}
		writeMessage(w, 200, "OK")
	})
}

// bareAfter is the bare handler preceded by keep, which makes the request
// body durable (a reference for the durable call log).
func bareAfter(b *testing.B, keep func(r *http.Request, body []byte) error) http.Handler {
	bare := bareHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			http.Error(w, "read", 400)
			return
		}
		if err := keep(r, body); err != nil {
			b.Error(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		bare.ServeHTTP(w, r)
	})
}

// loadServe serves h on a loopback port for one loadRun and returns its req/s.
func loadServe(b *testing.B, h http.Handler) float64 {
	return loadRun(b, serveLoopback(b, h)+"/cetmix_tower_webhooks/push")
}

func startBenchDaemon(b *testing.B, sync bool) *testDaemon {
	secrets := b.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "bench"), []byte(benchSecret), 0o600); err != nil {
		b.Fatal(err)
	}
	return startDaemon(b, map[string]string{"bench.yaml": benchDefs}, func(o *Options) {
		o.SecretsDir = secrets
		o.LogSync = sync
	})
}

func BenchmarkLoopback(b *testing.B) {
	// Each row after the first also reports its rate as a percentage of
	// the bare handler's in the same run (%bare): the machine's speed
	// drifts between runs, so ratios are only fair within one.
	var bare float64
	ofBare := func(b *testing.B, rate float64) {
		if bare > 0 {
			b.ReportMetric(100*rate/bare, "%bare")
		}
	}
	// The bare handlers run with Go's defaults, towerhook as serve runs it
	// (TuneRuntime).
	b.Run("bare", func(b *testing.B) {
		bare = loadServe(b, bareHandler())
	})
	// The bare handler plus a durable call-log record per request: how much
	// of the gap is the durable log itself (an fsync'd group commit that
	// every answer waits for).
	b.Run("bare_durable_log", func(b *testing.B) {
		store, err := logs.Open(filepath.Join(b.TempDir(), "towerhook.db"), logs.Options{Sync: true})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		ofBare(b, loadServe(b, bareAfter(b, func(r *http.Request, body []byte) error {
			return store.Append(r.Context(), &logs.Record{
				Webhook: "push", Endpoint: "push", Method: r.Method, HTTPStatus: 200,
				RequestHeaders: logs.RedactHeaders(r.Header, nil), RequestPayload: body,
			})
		})))
	})
	// The bare handler plus the smallest durable group commit there is
	// (groupSync: the body appended to a preallocated file, one fdatasync
	// per group, no encoding, no bbolt): the ceiling of any receiver that
	// answers after an fsync on this machine's disk, whatever its code.
	b.Run("bare_fsync", func(b *testing.B) {
		g, err := newGroupSync(filepath.Join(b.TempDir(), "wal"))
		if err != nil {
			b.Fatal(err)
		}
		defer g.f.Close()
		ofBare(b, loadServe(b, bareAfter(b, func(_ *http.Request, body []byte) error { return g.append(body) })))
	})
	b.Run("towerhook_durable", func(b *testing.B) {
		defer TuneRuntime(os.Getenv)()
		d := startBenchDaemon(b, true)
		ofBare(b, loadRun(b, d.pub+DefaultPrefix+"push"))
	})
	b.Run("towerhook_async", func(b *testing.B) {
		defer TuneRuntime(os.Getenv)()
		d := startBenchDaemon(b, false)
		ofBare(b, loadRun(b, d.pub+DefaultPrefix+"push"))
	})
}

// groupSync is a minimal leader/follower group commit: the caller that
// finds no fsync running writes everything appended so far and
// fdatasyncs it; the others wait for it.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	f       *os.File
	buf     []byte
	off     int64
	seq     uint64 // records appended
	synced  uint64 // records durable
	syncing bool
	err     error
}

func newGroupSync(path string) (*groupSync, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// Preallocated and synced, so an fdatasync flushes data only.
	if _, err := f.WriteAt(make([]byte, 256<<20), 0); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	g := &groupSync{f: f}
	g.cond = sync.NewCond(&g.mu)
	return g, nil
}

// append returns once rec is durable.
func (g *groupSync) append(rec []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf = append(g.buf, rec...)
	g.seq++
	mine := g.seq
	for g.synced < mine {
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		buf, upto, off := g.buf, g.seq, g.off
		g.buf, g.off = nil, (g.off+int64(len(buf)))%(256<<20-16<<20)
		g.mu.Unlock()
		_, err := g.f.WriteAt(buf, off)
		if err == nil {
			err = fdatasync(g.f)
		}
		g.mu.Lock()
		g.synced, g.syncing, g.err = upto, false, err
		g.cond.Broadcast()
	}
	return g.err
}

// BenchmarkLoopbackLatency measures unloaded latency (one client, durable log).
func BenchmarkLoopbackLatency(b *testing.B) {
	defer TuneRuntime(os.Getenv)()
	d := startBenchDaemon(b, true)
	body := benchPayload()
	sig := sign(body)
	client := benchClient()
	url := d.pub + DefaultPrefix + "push"
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	// The server's own part of each call (duration_seconds: until the
	// record is handed to the call log, before the commit wait).
	var server []float64
	for cursor := ""; ; {
		var page struct {
			Records []struct {
				Duration float64 `json:"duration_seconds"`
			} `json:"records"`
			NextCursor string `json:"next_cursor"`
		}
		getJSON(b, d.admin+"/api/v1/logs?limit=1000&cursor="+cursor, &page)
		for _, r := range page.Records {
			server = append(server, r.Duration)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	sort.Float64s(server)
	b.ReportMetric(server[len(server)/2]*1e6, "server-p50-µs")
	b.ReportMetric(server[len(server)*99/100]*1e6, "server-p99-µs")
}

const benchProcDefs = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook
  reference: true_cmd
  name: Run /bin/true
  endpoint: true
  authenticator_id:
    cetmix_tower_model: webhook_authenticator
    reference: open
    name: Open
    code: |
      result = {allowed = true}
  code: |
    local r = subprocess.run({"/bin/true"})
    result = {exit_code = r.returncode, message = "ran"}
`

// BenchmarkLoopbackSubprocess: a webhook running /bin/true under 32-way
// load with the durable call log (issue 7; compare adnanh/webhook's
// execute-command hook).
func BenchmarkLoopbackSubprocess(b *testing.B) {
	defer TuneRuntime(os.Getenv)()
	d := startDaemon(b, map[string]string{"proc.yaml": benchProcDefs}, nil)
	loadPost(b, d.pub+DefaultPrefix+"true", []byte(`{}`), map[string]string{"Content-Type": "application/json"})
}
