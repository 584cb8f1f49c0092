// Package lua runs authenticator and webhook code in sandboxed, pooled
// gopher-lua states with a per-call deadline and Cetmix Tower's helper modules.
//
// It is a leaf package: it never imports definitions, logs or daemon.
//
// The per-call variables (payload, headers, raw_data, request, webhook or
// authenticator, result, _G) are built on first access, so code pays only
// for what it reads: an authenticator that never reads payload never decodes
// it. They behave as if set before the code ran, with two visible
// differences: rawget(_G, name) and pairs(_G) see a variable only once it
// was read or assigned, and headers is a read-only proxy over the request's
// http.Header (case-insensitive lookup; pairs, next and json.dumps see all
// headers under canonical names; writes raise).
package lua

import (
	"log/slog"
	"net/http"
	"time"
)

// Kind says which protocol a script follows.
type Kind int

const (
	// KindWebhook seeds result = {exit_code = 0}.
	KindWebhook Kind = iota
	// KindAuthenticator seeds result = {allowed = false}.
	KindAuthenticator
)

// String returns "webhook" or "authenticator" (used as a metric label).
func (k Kind) String() string {
	if k == KindAuthenticator {
		return "authenticator"
	}
	return "webhook"
}

// Options configure an Engine. An Engine is built per loaded definition set.
type Options struct {
	// Logger receives _logger lines (with reference and request id). Required.
	Logger *slog.Logger
	// PoolSize bounds the number of idle states kept (default GOMAXPROCS*2).
	PoolSize int
	// Secrets are values masked as ***** in everything leaving the runtime.
	Secrets []string
	// Metrics, shared across engines (create once with NewMetrics). May be nil.
	Metrics *Metrics
	// DisableSubprocess removes the subprocess module.
	DisableSubprocess bool
	// DisableRequests removes the requests module.
	DisableRequests bool
	// MaxConcurrentSubprocesses bounds running children (default 4*GOMAXPROCS).
	// Ignored when Shared is set (the bound is the Shared one).
	MaxConcurrentSubprocesses int
	// Shared, created once per process with NewShared, holds the subprocess
	// runner and HTTP client shared by every engine, so the subprocess bound
	// holds across reloads. Nil: the engine creates private ones (closed by
	// Engine.Close).
	Shared *Shared
}

// Request describes the HTTP request, exposed to Lua as the request table.
type Request struct {
	Method     string
	Path       string
	Endpoint   string
	Query      string
	RemoteAddr string
	ID         string
	// Attempt is a background job's attempt (1, 2, ...); 0 reads as 1.
	Attempt int
	// Job is the background job's id ("": an inline call, request.job is nil).
	Job string
}

// Call is one execution.
type Call struct {
	Kind   Kind
	Script *Script
	// Reference and Name of the webhook or authenticator (Lua: webhook /
	// authenticator table, also used for metrics and log lines).
	Reference string
	Name      string
	// Extra fields exposed in the webhook/authenticator table (endpoint, method, ...).
	Info map[string]string
	// Payload is JSON text decoded straight into Lua tables (empty -> {})
	// when the code first reads payload; strings without escapes share its
	// memory. PayloadForm, when non-nil, is used instead (first value per
	// key).
	Payload     string
	PayloadForm map[string]string
	Headers     http.Header
	// RawData is raw_data, the exact request body. Strings are immutable,
	// so one conversion of the body serves every call of a request (and
	// Payload, when it is the same text).
	RawData string
	Request Request
	// Timeout bounds the call (0: 10s).
	Timeout time.Duration
	// RunAs is the user for subprocess.run (nil: the daemon's user).
	RunAs *Credential
}

// Result is what a call produced, with secrets already masked.
type Result struct {
	// Err is set when the code raised, timed out or result was not a table;
	// its text is plain (no Go stack, no file paths), with the Lua line.
	Err error
	// TimedOut reports that Err came from the deadline.
	TimedOut bool
	// Allowed is the truthiness of result.allowed (authenticators).
	Allowed bool
	// ExitCode is result.exit_code; HasExitCode false when missing, not a number or not an integer.
	ExitCode    int
	HasExitCode bool
	// Message is result.message: a string, or JSON text (MessageJSON true)
	// when it was a table, a number, true or json.null. Empty when absent
	// or false.
	Message     string
	MessageJSON bool
	HasMessage  bool
	// HTTPCode is result.http_code (0 when absent, not an integer or outside 200..599).
	HTTPCode int
	// Headers, Body and ContentType let a webhook answer verbatim.
	Headers     map[string]string
	Body        *string
	ContentType string
	// LogLines are the _logger lines, "LEVEL: text", masked.
	LogLines []string
	// Duration of the Lua execution.
	Duration time.Duration
}
