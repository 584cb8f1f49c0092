package definitions

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// genTree writes files files holding auths authenticators and hooks webhooks
// each, the webhooks referring to authenticators in other files.
func genTree(tb testing.TB, dir string, files, auths, hooks int) {
	tb.Helper()
	out := map[string]string{}
	for f := range files {
		var b strings.Builder
		b.WriteString("cetmix_tower_yaml_version: 1\nrecords:\n")
		for a := range auths {
			fmt.Fprintf(&b, `- cetmix_tower_model: webhook_authenticator
  reference: auth_%d_%d
  name: Auth %d %d
  allowed_ip_addresses: 192.0.2.0/24, 2001:db8::/32, 10.%d.%d.1
  trusted_proxy_ips: false
  variable_ids: []
  code: |
    local sig = headers["X-Signature"] or ""
    local expected = hmac.new(#!cxtower.secret.shared_key!#, raw_data, "sha256"):hexdigest()
    if hmac.compare_digest(sig, expected) then
      result = {allowed = true}
    else
      result = {allowed = false, http_code = 401, message = "Bad signature %d %d"}
    end
`, f, a, f, a, f%256, a, f, a)
		}
		for h := range hooks {
			fmt.Fprintf(&b, `- cetmix_tower_model: webhook
  reference: hook_%d_%d
  name: Hook %d %d
  active: true
  authenticator_id: auth_%d_%d
  endpoint: group%d/hook-%d
  method: post
  content_type: json
  timeout: 30
  code: |
    local r = subprocess.run({"git", "-C", "/srv/app", "pull"}, {timeout = 20})
    if r.returncode ~= 0 then
      result = {exit_code = r.returncode, message = r.stderr}
    else
      result = {exit_code = 0, message = payload.ref or "ok %d %d"}
    end
`, f, h, f, h, (f+1)%files, h%auths, f, h, f, h)
		}
		out[filepath.Join(fmt.Sprintf("team%d", f%10), fmt.Sprintf("defs_%03d.yaml", f))] = b.String()
	}
	writeFiles(tb, dir, out)
}

func BenchmarkLoadDir(b *testing.B) {
	dir := b.TempDir()
	genTree(b, dir, 100, 1, 10) // 1 000 webhooks + 100 authenticators in 100 files
	opts := Options{Environ: []string{"TOWERHOOK_SECRET_SHARED_KEY=k3y"}}
	b.ReportAllocs()
	for b.Loop() {
		s, err := LoadDir(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Webhooks()) != 1000 || len(s.Authenticators()) != 100 {
			b.Fatalf("got %d webhooks, %d authenticators", len(s.Webhooks()), len(s.Authenticators()))
		}
	}
}
