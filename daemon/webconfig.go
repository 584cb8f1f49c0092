package daemon

// TLS and basic authentication on the listeners (docs/operations.md "Securing
// the listeners"): --admin-web-config and --web-config take the web
// configuration file of the Prometheus exporter toolkit (tls_server_config,
// basic_auth_users with bcrypt hashes), served by the toolkit itself, which
// re-reads the file and the certificates for every new connection (so renewed
// certificates are picked up without a restart).
//
// Start-up checks the files once so that a mistake stops `serve` with one
// line naming the file; the public listener refuses basic_auth_users
// because webhook senders cannot log in.

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
)

// checkWebConfig validates a web configuration file as the toolkit will
// use it (syntax, bcrypt hashes, certificate and key readable and
// matching). public refuses basic_auth_users. The error is one line that
// names the flag and the file.
func checkWebConfig(flagName, file string, public bool) error {
	if file == "" {
		return nil
	}
	fail := func(err error) error {
		return fmt.Errorf("%s %s: %s", flagName, file, oneLine(err.Error()))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	if public {
		var users struct {
			Users map[string]any `yaml:"basic_auth_users"`
		}
		if yaml.Unmarshal(b, &users) == nil && len(users.Users) > 0 {
			return fail(fmt.Errorf("basic_auth_users is not allowed on the public listener (webhook senders cannot log in; authenticate them with an authenticator)"))
		}
	}
	if err := web.Validate(file); err != nil {
		return fail(err)
	}
	return nil
}

// oneLine folds a multi-line error (YAML errors list one problem a line)
// into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// serveWeb serves srv on ln, through the toolkit when a web configuration
// file is given (TLS, basic auth), plainly otherwise.
func serveWeb(srv *http.Server, ln net.Listener, file string, logger *slog.Logger) error {
	if file == "" {
		return srv.Serve(ln)
	}
	return web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &file}, logger)
}
