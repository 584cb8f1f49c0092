package daemon

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"towerhook/definitions"
	"towerhook/lua"
)

// TestMetricsExistBeforeFirstCall: after a load, before any call, every
// configured webhook and authenticator has its series at 0, and the label
// sets known in advance (reload results, Lua error reasons) are there.
func TestMetricsExistBeforeFirstCall(t *testing.T) {
	d := startDaemon(t, map[string]string{"hooks.yaml": openFile(hook("first", "first", "open", "", `result.message = "x"`) +
		hook("bg", "bg", "open", "background: true\ndedup: header:X-Delivery\nconcurrency: 1", `result = {exit_code = 0}`))}, nil)
	text := metricsText(t, d.admin)
	for _, s := range []string{
		`towerhook_http_requests_total{code="200",webhook="first"} 0`,
		`towerhook_http_requests_total{code="500",webhook="first"} 0`,
		`towerhook_http_requests_total{code="404",webhook="_unmatched"} 0`,
		`towerhook_http_request_duration_seconds_count{webhook="first"} 0`,
		`towerhook_auth_results_total{authenticator="open",result="allowed"} 0`,
		`towerhook_auth_results_total{authenticator="open",result="denied"} 0`,
		`towerhook_auth_results_total{authenticator="open",result="ip_denied"} 0`,
		`towerhook_auth_results_total{authenticator="open",result="error"} 0`,
		`towerhook_lua_duration_seconds_count{kind="webhook",reference="first"} 0`,
		`towerhook_lua_duration_seconds_count{kind="authenticator",reference="open"} 0`,
		`towerhook_lua_errors_total{kind="webhook",reason="timeout"} 0`,
		`towerhook_lua_errors_total{kind="authenticator",reason="error"} 0`,
		`towerhook_config_reloads_total{result="unchanged"}`,
		`towerhook_definitions_loaded{kind="webhook"} 2`,
		`towerhook_log_records_dropped_total 0`,
		`towerhook_job_wait_seconds_count{webhook="bg"} 0`,
		`towerhook_job_attempts_total{result="failure",webhook="bg"} 0`,
		`towerhook_dedup_total{result="duplicate",webhook="bg"} 0`,
		`towerhook_concurrency_waits_total{webhook="bg"} 0`,
		`towerhook_jobs{state="dead"} 0`,
	} {
		if !strings.Contains(text, s) {
			t.Errorf("no series %s", s)
		}
	}
}

// TestReloadUnchangedLogsInfo: a reload someone asked for that changes
// nothing leaves one info line; the periodic rescan stays quiet.
func TestReloadUnchangedLogsInfo(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hooks.yaml": openFile(hook("a", "a", "open", "", `result.message = "x"`))})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := prometheus.NewRegistry()
	rl := newReloader(dir, definitions.Options{}, buildOptions{Logger: logger, LuaMetrics: lua.NewMetrics(reg), DefaultTimeout: time.Second}, newMetrics(reg), logger)
	t.Cleanup(func() { rl.current.Load().close() })
	for _, tt := range []struct {
		reason string
		lines  int
	}{{"startup", 0}, {"SIGHUP", 1}, {"admin API", 1}, {"periodic", 0}, {"watch established", 0}} {
		buf.Reset()
		rl.reload(tt.reason)
		got := strings.Count(buf.String(), `msg="definitions unchanged"`)
		if tt.reason == "startup" {
			if !strings.Contains(buf.String(), `msg="definitions loaded"`) {
				t.Fatalf("startup: %s", buf.String())
			}
			continue
		}
		if got != tt.lines || (got == 1 && !strings.Contains(buf.String(), "level=INFO") && !strings.Contains(buf.String(), "reason="+tt.reason)) {
			t.Errorf("%s: %d unchanged lines, want %d:\n%s", tt.reason, got, tt.lines, buf.String())
		}
	}
	var pb dto.Metric
	if err := rl.metrics.reloads.WithLabelValues("unchanged").Write(&pb); err != nil || pb.GetCounter().GetValue() != 4 {
		n := pb.GetCounter().GetValue()
		t.Errorf("unchanged reloads %v, want 4", n)
	}
}
