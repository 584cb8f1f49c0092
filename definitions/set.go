// Package definitions loads Cetmix Tower webhook and authenticator definitions
// from a directory of YAML files into an immutable, validated Set.
//
// It is a leaf package: it imports neither the daemon nor the lua or logs
// packages. Lua code is syntax-checked here with gopher-lua's parser; the
// real compile happens in the build step that turns a Set into a routing table.
package definitions

import (
	"net/netip"
	"time"
)

// Model names as they appear in a Tower export's cetmix_tower_model key.
const (
	ModelWebhook       = "webhook"
	ModelAuthenticator = "webhook_authenticator"
)

// HTTP methods a webhook can accept (upper-case, as net/http spells them).
const (
	MethodPost = "POST"
	MethodGet  = "GET"
)

// Content types a POST webhook can parse.
const (
	ContentJSON = "json"
	ContentForm = "form"
)

// Authenticator is one validated webhook_authenticator record.
type Authenticator struct {
	// Reference is the unique reference (given or generated from Name).
	Reference string
	// Name is the display name, trimmed.
	Name string
	// Code is the Lua source with secrets already substituted as Lua string
	// literals. Never log it: it may hold secret values.
	Code string
	// AllowedIPs is the allowlist; empty allows everyone.
	AllowedIPs []netip.Prefix
	// TrustedProxies are peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// File is the path (relative to the loaded directory) that defines it.
	File string
	// Line is the line of the record in File.
	Line int
	// CodeLine is the file line of the first line of Code. Use FileLine to
	// map a Lua line: a folded (code: >) or quoted code does not map
	// linearly.
	CodeLine int
	// Secrets lists the secret references the code uses, sorted.
	Secrets []string

	codeLines []int // see rawRecord.codeLines
}

// FileLine returns the file line that Lua line luaLine of Code is on (for a
// Lua line folded from several file lines, the first of them; where the
// exact line cannot be known, the line of the code key).
func (a *Authenticator) FileLine(luaLine int) int {
	return codeFileLine(a.Code, a.CodeLine, a.codeLines, luaLine)
}

// Webhook is one validated webhook record.
type Webhook struct {
	// Reference is the unique reference (given or generated from Name).
	Reference string
	// Name is the display name, trimmed.
	Name string
	// Active is Tower's "Enabled" flag; inactive webhooks answer 404.
	Active bool
	// Endpoint is the path below the prefix, e.g. "deploy/app".
	Endpoint string
	// Method is MethodPost or MethodGet.
	Method string
	// ContentType is ContentJSON or ContentForm.
	ContentType string
	// Authenticator is the resolved authenticator (never nil in a Set).
	Authenticator *Authenticator
	// RunAs is the OS user for subprocesses ("" = the daemon's user).
	RunAs string
	// Timeout is the per-call limit (0 = the daemon's default).
	Timeout time.Duration
	// Delivery holds dedup, concurrency and background settings (README
	// "Delivery").
	Delivery Delivery
	// Code is the Lua source with secrets substituted. Never log it.
	Code string
	// File is the path (relative to the loaded directory) that defines it.
	File string
	// Line is the line of the record in File.
	Line int
	// CodeLine is the file line of the first line of Code. Use FileLine to
	// map a Lua line: a folded (code: >) or quoted code does not map
	// linearly.
	CodeLine int
	// Secrets lists the secret references the code uses, sorted.
	Secrets []string

	codeLines []int // see rawRecord.codeLines
}

// FileLine returns the file line that Lua line luaLine of Code is on (for a
// Lua line folded from several file lines, the first of them; where the
// exact line cannot be known, the line of the code key).
func (w *Webhook) FileLine(luaLine int) int {
	return codeFileLine(w.Code, w.CodeLine, w.codeLines, luaLine)
}

// RouteKey identifies a webhook by endpoint and method.
type RouteKey struct {
	// Endpoint is the path below the prefix.
	Endpoint string
	// Method is MethodPost or MethodGet.
	Method string
}

// Set is a complete, validated and immutable collection of definitions.
// Nothing in it may be modified after LoadDir returns it.
type Set struct {
	webhooks       []*Webhook                // sorted by reference
	authenticators []*Authenticator          // sorted by reference
	routes         map[RouteKey]*Webhook     // every webhook, enabled or not
	authByRef      map[string]*Authenticator // by reference
	hash           string
	secretValues   []string
	missingSecrets []string
	files          []string
}

// Webhooks returns all webhooks (enabled or not) sorted by reference.
// The slice must not be modified.
func (s *Set) Webhooks() []*Webhook { return s.webhooks }

// Authenticators returns all authenticators sorted by reference.
// The slice must not be modified.
func (s *Set) Authenticators() []*Authenticator { return s.authenticators }

// Lookup returns the webhook for endpoint and method (enabled or not).
func (s *Set) Lookup(endpoint, method string) (*Webhook, bool) {
	w, ok := s.routes[RouteKey{endpoint, method}]
	return w, ok
}

// Authenticator returns the authenticator with the given reference.
func (s *Set) Authenticator(ref string) (*Authenticator, bool) {
	a, ok := s.authByRef[ref]
	return a, ok
}

// Hash is a hex content hash of the whole set, stable across runs and file
// order; equal hashes mean equal behaviour (it covers secret values too,
// hashed, never revealed). It also covers each definition's file and line,
// so moving a definition changes the hash (error locations change).
func (s *Set) Hash() string { return s.hash }

// SecretValues lists every distinct secret value the set uses, longest
// first, so other packages can mask them. Never log the slice.
func (s *Set) SecretValues() []string { return s.secretValues }

// MissingSecrets lists secret references that were not resolved and replaced
// by placeholders (only when Options.AllowMissingSecrets is set), sorted.
func (s *Set) MissingSecrets() []string { return s.missingSecrets }

// Files lists the files that were read, relative to the directory, sorted.
func (s *Set) Files() []string { return s.files }
