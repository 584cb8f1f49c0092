package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"towerhook/definitions"
	"towerhook/lua"
)

// Hot-reload benchmarks (issue 6): the cost of one full reload of a large
// directory, and the time from a file change to the new answer being served.

// reloadBenchDir writes 100 authenticators and 1000 webhooks (10 files of
// 100) into dir, in the shape real recipes have (HMAC check, JSON payload).
func reloadBenchDir(b *testing.B, dir string) {
	b.Helper()
	var auths strings.Builder
	auths.WriteString("cetmix_tower_yaml_version: 1\nrecords:\n")
	for i := range 100 {
		fmt.Fprintf(&auths, `- cetmix_tower_model: webhook_authenticator
  reference: auth_%03d
  name: Authenticator %d
  allowed_ip_addresses: 127.0.0.1,10.%d.0.0/16,2001:db8:%x::/48
  code: |
    local sig = headers["X-Signature"] or ""
    local expected = "sha256=" .. hmac.new("key-%d", raw_data, "sha256"):hexdigest()
    if hmac.compare_digest(sig, expected) then
      result = {allowed = true}
    else
      result = {allowed = false, http_code = 401, message = "Bad signature"}
    end
`, i, i, i, i, i)
	}
	rlWrite(b, filepath.Join(dir, "auth", "authenticators.yaml"), auths.String())
	for f := range 10 {
		rlWrite(b, filepath.Join(dir, "team", fmt.Sprintf("hooks_%02d.yaml", f)), reloadBenchHooks(f, 0))
	}
}

// reloadBenchHooks is file f's 100 webhooks; rev changes every message.
func reloadBenchHooks(f, rev int) string {
	var b strings.Builder
	b.WriteString("cetmix_tower_yaml_version: 1\nrecords:\n")
	for i := range 100 {
		n := f*100 + i
		b.WriteString(hook(fmt.Sprintf("hook_%04d", n), fmt.Sprintf("team/%02d/hook-%04d", f, n),
			fmt.Sprintf("auth_%03d", n%100), "", fmt.Sprintf(`local repo = payload.repository and payload.repository.full_name or "?"
if payload.ref ~= "refs/heads/main" then
  result = {exit_code = 0, message = "ignored " .. tostring(payload.ref)}
  return
end
_logger.info("deploying " .. repo)
result = {exit_code = 0, message = "rev %d hook %d deployed " .. repo}`, rev, n)))
	}
	return b.String()
}

// BenchmarkReload1000 is one full reload (scan, parse, validate, compile,
// build the table, swap, retire the old one) of 1000 webhooks and 100
// authenticators, with one file changed per iteration. Target: <= 1 s/op.
func BenchmarkReload1000(b *testing.B) {
	dir := b.TempDir()
	reloadBenchDir(b, dir)
	r := newReloader(dir, definitions.Options{}, buildOptions{
		Logger: discardLogger(), LuaMetrics: lua.NewMetrics(nil), DefaultTimeout: DefaultTimeout,
	}, newMetrics(prometheus.NewRegistry()), discardLogger())
	if res := r.reload("bench"); res.Status != "success" {
		b.Fatalf("first load: %+v", res)
	}
	if n := len(r.current.Load().set.Webhooks()); n != 1000 {
		b.Fatalf("%d webhooks loaded", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		rlWrite(b, filepath.Join(dir, "team", fmt.Sprintf("hooks_%02d.yaml", i%10)), reloadBenchHooks(i%10, i+1))
		b.StartTimer()
		if res := r.reload("bench"); res.Status != "success" {
			b.Fatalf("reload %d: %+v", i, res)
		}
	}
	b.StopTimer()
	r.current.Load().retire()
}

// BenchmarkChangeToAnswer measures, on a running daemon with the production
// debounce (250 ms quiet), the time from an atomic file change (rename done)
// to the first request that gets the new answer, over 50 changes per op.
// It reports p50-ms and p99-ms. Target: p99 <= 500 ms.
func BenchmarkChangeToAnswer(b *testing.B) {
	const changes = 50
	d := startDaemon(b, map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v0", "b", "b")}, nil)
	path := filepath.Join(d.dir, "hooks.yaml")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	url := d.pub + DefaultPrefix + "a"
	answer := func() string {
		resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			b.Fatal(err)
		}
		return fmt.Sprintf("%d %v", resp.StatusCode, m["message"])
	}
	if got := answer(); got != "200 v0" {
		b.Fatalf("initial answer %q", got)
	}
	var lat []time.Duration
	rev := 0
	b.ResetTimer()
	for b.Loop() {
		for range changes {
			rev++
			want := fmt.Sprintf("200 v%d", rev)
			tmp := filepath.Join(d.dir, ".hooks.yaml.tmp")
			if err := os.WriteFile(tmp, []byte(rlHooks("a", fmt.Sprintf("v%d", rev), "b", "b")), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				b.Fatal(err)
			}
			changed := time.Now()
			deadline := changed.Add(30 * time.Second)
			for answer() != want {
				if time.Now().After(deadline) {
					b.Fatalf("change %d not served after 30s", rev)
				}
				time.Sleep(2 * time.Millisecond)
			}
			lat = append(lat, time.Since(changed))
		}
	}
	b.StopTimer()
	if testing.Verbose() {
		b.Logf("latencies in order: %v", lat)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	b.ReportMetric(float64(pct(0.50))/1e6, "p50-ms")
	b.ReportMetric(float64(pct(0.99))/1e6, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
}
