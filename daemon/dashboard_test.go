package daemon

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDashboardAndAlertsUseExportedMetrics: every metric name the Grafana
// dashboard and the alert rules query is one a running daemon exports (a
// renamed metric would otherwise leave an empty panel or an alert that
// never fires).
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	// Names the files may use that this daemon does not export, and why.
	// Remove an entry once its metric lands.
	notYetExported := map[string]string{
		"up": "recorded by Prometheus itself for every scrape",
	}
	exported := exportedMetricNames(t)
	used := map[string][]string{} // name -> files
	for file, exprs := range map[string][]string{
		"examples/deploy/grafana/towerhook.json":           dashboardExprs(t, "../examples/deploy/grafana/towerhook.json"),
		"examples/deploy/prometheus/towerhook-alerts.yaml": alertExprs(t, "../examples/deploy/prometheus/towerhook-alerts.yaml"),
	} {
		if len(exprs) == 0 {
			t.Fatalf("%s: no expressions found", file)
		}
		for _, e := range exprs {
			for _, name := range metricNames(e) {
				used[name] = append(used[name], file)
			}
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if exported[n] {
			continue
		}
		if why, ok := notYetExported[n]; ok {
			t.Logf("%s: not exported yet (%s)", n, why)
			continue
		}
		t.Errorf("%s (used in %s) is not exported by the daemon", n, strings.Join(used[n], ", "))
	}
	for _, must := range []string{"towerhook_http_requests_total", "towerhook_lua_errors_total", "towerhook_log_commit_duration_seconds_bucket", "towerhook_jobs"} {
		if used[must] == nil {
			t.Errorf("the dashboard does not show %s", must)
		}
	}
}

// exportedMetricNames scrapes a daemon that has served a call running a
// subprocess (and loaded a background webhook) and returns every sample name it exports (histograms with
// their _bucket, _sum and _count).
func exportedMetricNames(t *testing.T) map[string]bool {
	d := startDaemon(t, map[string]string{"hooks.yaml": openFile(hook("sub", "sub", "open", "",
		`local p = subprocess.run({"/bin/true"})
result = {exit_code = p.returncode}`) +
		hook("bg", "bg", "open", "background: true\ndedup: header:X-Delivery\nconcurrency: 1", `result = {exit_code = 0}`))}, nil)
	if r := do(t, "POST", d.pub+DefaultPrefix+"sub", "{}", nil); r.Status != 200 {
		t.Fatalf("subprocess call: %d %s", r.Status, r.Body)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(metricsText(t, d.admin), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+s] = true
				}
			}
		}
	}
	if !names["towerhook_subprocess_runs_total"] {
		t.Fatal("the daemon did not export the subprocess metrics")
	}
	return names
}

// metricNames returns the metric names a PromQL expression selects (ours,
// the Go and process collectors', and Prometheus' up).
func metricNames(expr string) []string {
	return regexp.MustCompile(`\b(?:towerhook|go|process)_[a-z0-9_]+\b|\bup\b`).FindAllString(expr, -1)
}

// dashboardExprs collects the queries of every panel and variable.
func dashboardExprs(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition" || k == "query") {
					out = append(out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// alertExprs collects the expr of every rule.
func alertExprs(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}
