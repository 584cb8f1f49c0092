package daemon

import (
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseAdminHosts(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"towerhook.internal", []string{"towerhook.internal"}, ""},
		{" A.example. , b.example,,", []string{"a.example", "b.example"}, ""},
		{"a.example:8081", nil, `--admin-hosts: "a.example:8081" is not a host name (give names without scheme or port, comma-separated)`},
		{"http://a.example", nil, `--admin-hosts: "http://a.example" is not a host name`},
		{"a b", nil, `--admin-hosts: "a b" is not a host name`},
	}
	for _, tt := range tests {
		got, err := parseAdminHosts(tt.in)
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestHostAllowed(t *testing.T) {
	names := []string{"towerhook.internal"}
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8081", true},
		{"127.0.0.1", true},
		{"10.1.2.3:8081", true}, // Prometheus scraping a pod IP
		{"[::1]:8081", true},
		{"[fe80::1%25eth0]:8081", true},
		{"::1", true},
		{"localhost:8081", true},
		{"LOCALHOST", true},
		{"localhost.:8081", true},
		{"", true},
		{"towerhook.internal:8081", true},
		{"TowerHook.Internal.", true},
		{"evil.example:8081", false},
		{"evil.example", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.evil.example", false},
		{"towerhook.internal.evil.example", false},
	}
	for _, tt := range tests {
		if got := hostAllowed(tt.host, names); got != tt.ok {
			t.Errorf("%q: %v, want %v", tt.host, got, tt.ok)
		}
	}
}

func TestAdminGuard(t *testing.T) {
	d := startDaemon(t, map[string]string{"hooks.yaml": consoleYAML}, func(o *Options) { o.AdminHosts = "towerhook.internal" })
	id := callHook(t, d, "POST", "notify", "application/json", "{}")
	tests := []struct {
		name, method, path, host string
		headers                  map[string]string
		status                   int
		body                     string
	}{
		{"console by IP", "GET", "/", "", nil, 200, "<title>Calls"},
		{"metrics by IP", "GET", "/metrics", "", nil, 200, "towerhook_"},
		{"localhost", "GET", "/-/healthy", "localhost:8081", nil, 200, "Healthy"},
		{"listed name", "GET", "/api/v1/logs", "towerhook.internal:8081", nil, 200, "records"},
		{"rebound name", "GET", "/api/v1/logs", "evil.example:8081", nil, 403,
			`Host "evil.example:8081" is not allowed on the admin listener (protection against DNS rebinding); use an IP address or localhost, or add the name with --admin-hosts (TOWERHOOK_ADMIN_HOSTS)`},
		{"rebound name, console", "GET", "/calls/" + id, "evil.example", nil, 403, "--admin-hosts"},
		{"curl reload", "POST", "/-/reload", "", nil, 200, `"status"`},
		{"same-origin reload", "POST", "/-/reload", "", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1"}, 200, `"status"`},
		{"cross-site reload", "POST", "/-/reload", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, 403, "Cross-origin request refused"},
		{"cross-origin replay, old browser", "POST", "/api/v1/logs/" + id + "/replay", "", map[string]string{"Origin": "http://evil.example"}, 403, "Cross-origin request refused"},
		{"cross-site console reload", "POST", "/webhooks/reload", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "Cross-origin request refused"},
		{"cross-site GET is a read", "GET", "/-/healthy", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 200, "Healthy"},
		{"curl replay", "POST", "/api/v1/logs/" + id + "/replay", "", nil, 200, "Replayed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, d.admin+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.body) {
				t.Errorf("%d %q, want %d containing %q", resp.StatusCode, b, tt.status, tt.body)
			}
		})
	}
}

func TestServeRejectsBadAdminHosts(t *testing.T) {
	o := DefaultOptions()
	o.Dir, o.Data, o.AdminHosts = t.TempDir(), t.TempDir(), "a.example:80"
	err := Serve(t.Context(), o, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "--admin-hosts") {
		t.Errorf("Serve: %v", err)
	}
}
