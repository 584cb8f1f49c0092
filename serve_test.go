package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeWebConfigErrors: a bad web configuration file, from a flag or
// its TOWERHOOK_* variable, stops serve with exit 1 and one line naming
// the file and the problem.
func TestServeWebConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(cfg, []byte("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "auth.yml")
	if err := os.WriteFile(auth, []byte("basic_auth_users:\n  a: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"admin flag", []string{"serve", "--dir", dir, "--admin-web-config", cfg}, nil,
			"towerhook serve: --admin-web-config " + cfg + ": failed to read cert_file (" + filepath.Join(dir, "missing.crt") + ")"},
		{"admin variable", []string{"serve", "--dir", dir}, map[string]string{"TOWERHOOK_ADMIN_WEB_CONFIG": cfg},
			"towerhook serve: --admin-web-config " + cfg + ": failed to read cert_file"},
		{"public variable", []string{"serve", "--dir", dir}, map[string]string{"TOWERHOOK_WEB_CONFIG": filepath.Join(dir, "absent.yml")},
			"towerhook serve: --web-config " + filepath.Join(dir, "absent.yml") + ": open "},
		{"basic auth on the public listener", []string{"serve", "--dir", dir, "--web-config", auth}, nil,
			"towerhook serve: --web-config " + auth + ": basic_auth_users is not allowed on the public listener"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != 1 || !strings.HasPrefix(errb.String(), tt.want) || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr:\n%s\nwant one line starting %q", code, errb.String(), tt.want)
			}
		})
	}
}
