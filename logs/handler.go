package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Handler serves GET /api/v1/logs and GET /api/v1/logs/{id} (full paths:
// mount it on the admin mux at "/api/v1/logs" and "/api/v1/logs/").
//
// Query parameters: webhook, authenticator, status (success|failed|HTTP
// code), since and until (RFC 3339, or a Go duration meaning that long ago,
// e.g. 24h), limit (1..1000, default 50) and cursor. Bad parameters answer
// 400 {"message": ...}; an unknown id answers 404 {"message": "Log record
// not found"}.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs", s.serveList)
	mux.HandleFunc("GET /api/v1/logs/{id}", s.serveGet)
	// Anything else below the prefix (an empty id, a deeper path) is an
	// unknown record, answered in JSON like the rest of the API.
	mux.HandleFunc("GET /api/v1/logs/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, message{"Log record not found"})
	})
	return mux
}

func (s *Store) serveList(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query(), s.now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, message{err.Error()})
		return
	}
	page, err := s.Query(f)
	switch {
	case errors.Is(err, ErrBadCursor), errors.Is(err, ErrBadFilter):
		writeJSON(w, http.StatusBadRequest, message{err.Error()})
	case err != nil:
		s.log.Error("call log query failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, message{"Call log query failed"})
	default:
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Store) serveGet(w http.ResponseWriter, r *http.Request) {
	rec, err := s.Get(r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, message{"Log record not found"})
	case err != nil:
		s.log.Error("call log get failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, message{"Call log read failed"})
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}

type message struct {
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Values is the read side of url.Values (satisfied by url.Values).
type Values interface{ Get(key string) string }

// ParseFilter reads a Filter from query parameters webhook, authenticator,
// status, since, until, limit and cursor. since/until accept RFC 3339 or a
// Go duration meaning "that long before now". It validates status and
// limit (a limit over 1000 is capped, as in Query).
func ParseFilter(q Values, now time.Time) (Filter, error) {
	f := Filter{
		Webhook:       q.Get("webhook"),
		Authenticator: q.Get("authenticator"),
		Status:        q.Get("status"),
		Cursor:        q.Get("cursor"),
	}
	if _, err := compileFilter(f); err != nil {
		return f, err
	}
	var err error
	if f.Since, err = ParseTime(q.Get("since"), now); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = ParseTime(q.Get("until"), now); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return f, fmt.Errorf("limit %q: want a positive integer (at most %d)", l, MaxLimit)
		}
		f.Limit = min(n, MaxLimit)
	}
	if f.Cursor != "" {
		if _, err := parseCursor(f.Cursor); err != nil {
			return f, err
		}
	}
	return f, nil
}

// ParseTime parses an RFC 3339 time or a Go duration meaning "that long
// before now" (24h -> now minus a day). Empty gives the zero time.
func ParseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2006-01-02T15:04:05Z) or a duration such as 24h", v)
	}
	return now.Add(-d), nil
}
