package daemon

// The admin listener's guards (README "Console"): it answers only
// requests addressed to it by an IP literal, localhost or a name the
// operator listed in --admin-hosts, so that a web page whose own name is
// pointed at 127.0.0.1 (DNS rebinding) cannot read the call log through a
// visitor's browser; and state-changing requests (reload, replay, job
// retry and cancel) from another origin are refused by the standard
// library's cross-origin protection. Clients that send neither Origin nor
// Sec-Fetch-Site (curl, Prometheus, kubelet probes) are not browsers and
// pass.

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// adminHostsFlag names the flag that admits more host names.
const adminHostsFlag = "--admin-hosts"

// parseAdminHosts splits the comma-separated --admin-hosts value into
// lower-case names; a name with a port, a scheme or a space is an error.
func parseAdminHosts(v string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(v, ",") {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if h == "" {
			continue
		}
		if strings.ContainsAny(h, ":/ \t@[]") {
			return nil, fmt.Errorf("%s: %q is not a host name (give names without scheme or port, comma-separated)", adminHostsFlag, h)
		}
		out = append(out, h)
	}
	return out, nil
}

// hostAllowed reports whether the Host header host (with or without a
// port) may reach the admin listener.
func hostAllowed(host string, names []string) bool {
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "localhost" {
		return true
	}
	for _, n := range names {
		if h == n {
			return true
		}
	}
	return false
}

// guardAdmin wraps the admin handler with the Host check and cross-origin
// protection.
func guardAdmin(next http.Handler, names []string) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusForbidden, "Cross-origin request refused: state-changing admin requests must come from the admin listener's own pages (or from a client without Origin, such as curl)")
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, names) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "Host %q is not allowed on the admin listener (protection against DNS rebinding); use an IP address or localhost, or add the name with %s (TOWERHOOK_ADMIN_HOSTS)\n", r.Host, adminHostsFlag)
			return
		}
		protected.ServeHTTP(w, r)
	})
}
