// Package logs is the embedded call log: one bbolt file with a bucket per
// UTC day, a single group-commit writer, day-based retention and queries.
//
// It is a leaf package: it never imports definitions, lua or daemon.
package logs

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Authentication and code statuses (DESIGN section 5).
const (
	AuthSuccess     = "success"
	AuthFailed      = "failed"
	AuthNotRequired = "not_required"
	CodeSuccess     = "success"
	CodeFailed      = "failed"
	CodeSkipped     = "skipped"
)

// Record is one webhook call. JSON field names are the public contract.
type Record struct {
	ID                   string            `json:"id"`
	Time                 time.Time         `json:"time"`
	Webhook              string            `json:"webhook"`
	WebhookName          string            `json:"webhook_name"`
	Endpoint             string            `json:"endpoint"`
	Method               string            `json:"method"`
	Authenticator        string            `json:"authenticator"`
	AuthenticationStatus string            `json:"authentication_status"`
	CodeStatus           string            `json:"code_status"`
	HTTPStatus           int               `json:"http_status"`
	ResultMessage        string            `json:"result_message"`
	ErrorMessage         string            `json:"error_message"`
	RunAs                string            `json:"run_as"`
	IPAddress            string            `json:"ip_address"`
	DurationSeconds      float64           `json:"duration_seconds"`
	RequestID            string            `json:"request_id"`
	RequestHeaders       map[string]string `json:"request_headers"`
	RequestPayload       json.RawMessage   `json:"request_payload"`
	Truncated            bool              `json:"truncated,omitempty"`
	ConfigHash           string            `json:"config_hash"`
	LogLines             []string          `json:"log_lines"`
}

// Options configure a Store.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Sync: Append returns after commit (default true in the daemon).
	Sync bool
	// RetentionDays: 0 keeps forever.
	RetentionDays int
	// QueueSize bounds the writer queue (default 4096).
	QueueSize int
	// MaxPayloadBytes caps the stored payload (default 64 KiB); longer is truncated.
	MaxPayloadBytes int
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// OpenTimeout bounds waiting for the file lock (default 2s).
	OpenTimeout time.Duration
	// ReadOnly opens the store for queries only (the CLI fallback).
	ReadOnly bool
}

// Store is the call log.
type Store struct{}

// Open opens or creates path (e.g. <data>/towerhook.db), prunes expired days
// and starts the writer and the daily pruner.
func Open(path string, opts Options) (*Store, error) { panic("TODO") }

// Append stores rec (ID and Time are filled when empty). In sync mode it
// returns once rec is committed; otherwise once queued.
func (s *Store) Append(ctx context.Context, rec *Record) error { panic("TODO") }

// Close drains the queue, commits and closes the file.
func (s *Store) Close() error { panic("TODO") }

// Filter selects records for Query.
type Filter struct {
	Webhook       string
	Authenticator string
	// Status: "success", "failed", or an HTTP code such as "404".
	Status string
	Since  time.Time
	Until  time.Time
	Limit  int // default 50, max 1000
	Cursor string
}

// Page is one page of Query results, newest first.
type Page struct {
	Records    []*Record `json:"records"`
	NextCursor string    `json:"next_cursor"`
}

// Query returns matching records newest first.
func (s *Store) Query(f Filter) (*Page, error) { panic("TODO") }

// Get returns one record by id (ErrNotFound when absent).
func (s *Store) Get(id string) (*Record, error) { panic("TODO") }

// Handler serves GET /api/v1/logs and GET /api/v1/logs/{id}.
func (s *Store) Handler() http.Handler { panic("TODO") }

// RedactHeaders flattens h (repeated values joined with ", ") with credentials
// and any value containing a secret replaced by "*****".
func RedactHeaders(h http.Header, secrets []string) map[string]string { panic("TODO") }
