// Package logs is the embedded call log: one bbolt file with a bucket per
// UTC day, a single group-commit writer, day-based retention and queries.
//
// It is a leaf package: it never imports definitions, lua or daemon.
package logs

import (
	"encoding/json"
	"errors"
	"log/slog"
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
	// DuplicateOf is the request id of the first call with the same
	// delivery id (README "Delivery"); the repeat's code was skipped.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Job and Attempt link a background job's records: the call that
	// queued it (attempt 0) and each attempt (1, 2, ...).
	Job     string `json:"job,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// ReplayOf is the id of the call this one replays (POST
	// /api/v1/logs/{id}/replay); empty for calls that came in over HTTP.
	ReplayOf string `json:"replay_of,omitempty"`
}

// Options configure a Store.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Sync: Append returns once the record is durable (journaled and
	// fdatasynced; committed to bbolt at the next checkpoint). The daemon's
	// default.
	Sync bool
	// RetentionDays: 0 keeps forever.
	RetentionDays int
	// MaxSizeBytes is the size budget: while the data in use is over it,
	// the oldest days are dropped, never today's (prune_size.go). 0 (the
	// default) is unlimited.
	MaxSizeBytes int64
	// Recover: when the file is damaged, Open moves it aside (with copies
	// of its journal segments) and starts a new store, instead of failing
	// (check.go).
	Recover bool
	// QueueSize bounds the writer queue (default 4096).
	QueueSize int
	// MaxPayloadBytes caps the stored payload (default 64 KiB, at most
	// 1 MiB), in bytes of JSON; longer is truncated.
	MaxPayloadBytes int
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// OpenTimeout bounds waiting for the file lock (default 2s).
	OpenTimeout time.Duration
	// ReadOnly opens the store for queries only (the CLI fallback).
	ReadOnly bool
}

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
	// MaxScan bounds the records read (0: no bound). A filter that few
	// records match would otherwise read the whole log for one page; with
	// a bound the page may come back short with Partial set, and its
	// NextCursor continues the search below the last record read.
	MaxScan int
}

// Page is one page of Query results, newest first.
type Page struct {
	Records    []*Record `json:"records"`
	NextCursor string    `json:"next_cursor"`
	// Partial: the search stopped at Filter.MaxScan; NextCursor goes on.
	Partial bool `json:"-"`
}

// Errors returned by the store.
var (
	// ErrNotFound is returned by Get when no record has the id.
	ErrNotFound = errors.New("log record not found")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("call log is closed")
	// ErrReadOnly is returned by Append on a store opened with ReadOnly.
	ErrReadOnly = errors.New("call log is open read-only")
	// ErrDropped is returned by an asynchronous Append whose record was
	// dropped because the queue stayed full (counted in
	// towerhook_log_records_dropped_total).
	ErrDropped = errors.New("call log queue full: record dropped")
	// ErrLocked is wrapped by Open when another process holds the file.
	ErrLocked = errors.New("timed out waiting for the file lock")
	// ErrBadCursor is returned by Query for a cursor it did not issue.
	ErrBadCursor = errors.New("invalid cursor")
	// ErrBadFilter is returned by Query for a malformed Filter.Status.
	ErrBadFilter = errors.New("invalid filter")
	// ErrBadID is returned for an id that is not a call-log id.
	ErrBadID = errors.New("invalid log record id")
)

// FileName is the store's file name inside the --data directory.
const FileName = "towerhook.db"

// Defaults for Options fields left zero.
const (
	DefaultQueueSize       = 4096
	DefaultMaxPayloadBytes = 64 << 10
	DefaultOpenTimeout     = 2 * time.Second
	DefaultLimit           = 50
	MaxLimit               = 1000
)
