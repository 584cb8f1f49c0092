package daemon

// Replay (README "Console"): POST /api/v1/logs/{id}/replay runs the
// current code of a recorded call's webhook again with the recorded
// payload, headers and request fields, and logs it as a new call whose
// replay_of is the recorded call's id. The authenticator is skipped: the
// admin is trusted, and the recorded credentials are redacted anyway. The
// code sees what the call log holds (credential headers as "*****",
// secrets in the payload masked, raw_data rebuilt from the payload), not
// the original bytes.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"towerhook/definitions"
	"towerhook/logs"
	"towerhook/lua"
)

// replayError is a replay refused (nothing ran) or whose record was lost.
type replayError struct {
	status int
	msg    string
}

func (e *replayError) Error() string { return e.msg }

// replayRoute returns the route that a replay of orig runs on t, or why
// there is none (the console shows that text by its disabled button).
func replayRoute(t *table, orig *logs.Record) (*route, *replayError) {
	if orig.Webhook == "" {
		return nil, &replayError{http.StatusConflict, fmt.Sprintf("This call matched no webhook (%s %s)", orig.Method, orig.Endpoint)}
	}
	rt := routeByRef(t, orig.Webhook)
	switch {
	case rt == nil:
		return nil, &replayError{http.StatusConflict, fmt.Sprintf("Webhook %q no longer exists in the definitions", orig.Webhook)}
	case !rt.wh.Active:
		return nil, &replayError{http.StatusConflict, fmt.Sprintf("Webhook %q is disabled", orig.Webhook)}
	case orig.Truncated:
		return nil, &replayError{http.StatusConflict, "The record was cut when it was logged (too large), so its request is incomplete"}
	}
	return rt, nil
}

// replay runs orig's webhook again and returns the new record (appended to
// the call log). A refusal is a *replayError and runs nothing.
func (p *pipeline) replay(ctx context.Context, orig *logs.Record) (*logs.Record, error) {
	t := p.current.Load()
	t.acquire()
	defer t.release()
	rt, refusal := replayRoute(t, orig)
	if refusal != nil {
		return nil, &replayError{refusal.status, refusal.msg + "; nothing was run"}
	}
	if p.durable && p.logFailing != nil && p.logFailing() {
		return nil, &replayError{http.StatusServiceUnavailable, msgLogDown + "; nothing was run"}
	}
	start := time.Now()
	in, rec := replayCall(p.prefix, t, rt, orig, start)
	if !p.enter(ctx) {
		return nil, &replayError{http.StatusServiceUnavailable, msgTooBusy + "; nothing was run"}
	}
	status := func() int {
		defer p.leave()
		st, _, _, _ := runWebhookCode(context.WithoutCancel(ctx), t, rt, in, rec)
		return st
	}()
	rec.HTTPStatus = status
	rec.DurationSeconds = time.Since(start).Seconds()
	if p.appendFn != nil {
		if err := p.appendFn(context.WithoutCancel(ctx), rec); err != nil {
			p.logger.Error("call log append failed", "request_id", rec.RequestID, "webhook", rec.Webhook, "replay_of", orig.ID, "err", err)
			return nil, &replayError{http.StatusServiceUnavailable, msgLogDown + ": the replay ran but its record was not written"}
		}
	}
	p.logger.Info("call replayed", "replay_of", orig.ID, "id", rec.ID, "webhook", rec.Webhook, "http_status", status)
	return rec, nil
}

// replayCall is what a replay of orig runs on rt (the recorded request
// rebuilt) and the record it starts.
func replayCall(prefix string, t *table, rt *route, orig *logs.Record, start time.Time) (*codeInput, *logs.Record) {
	method := orig.Method
	if method != http.MethodGet && method != http.MethodPost {
		method = rt.wh.Method
	}
	h := make(http.Header, len(orig.RequestHeaders))
	for k, v := range orig.RequestHeaders {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	payload, form, rawData := replayPayload(orig, rt.wh)
	id := requestID("")
	in := &codeInput{body: []byte(rawData), payload: payload, form: form, rawData: rawData, headers: h,
		req: lua.Request{Method: method, Path: prefix + orig.Endpoint, Endpoint: orig.Endpoint,
			Query: replayQuery(method, form), RemoteAddr: orig.IPAddress, ID: id}}
	rec := &logs.Record{
		Time: start.UTC(), Webhook: rt.wh.Reference, WebhookName: rt.wh.Name, RunAs: rt.wh.RunAs,
		Endpoint: orig.Endpoint, Method: method, Authenticator: rt.auth.a.Reference,
		AuthenticationStatus: logs.AuthNotRequired, CodeStatus: logs.CodeSkipped,
		IPAddress: orig.IPAddress, RequestID: id, ConfigHash: t.hash,
		RequestHeaders: logs.RedactHeaders(h, t.set.SecretValues()),
		RequestPayload: orig.RequestPayload, LogLines: []string{}, ReplayOf: orig.ID,
	}
	return in, rec
}

// replayPayload turns a recorded payload back into what the code gets: a
// GET's query or a form's fields as a map (raw_data the encoded form), or
// the JSON text as payload and raw_data.
func replayPayload(orig *logs.Record, wh *definitions.Webhook) (payload string, form map[string]string, rawData string) {
	if orig.Method == http.MethodGet || wh.ContentType == definitions.ContentForm {
		form = recordedFields(orig.RequestPayload)
		if orig.Method != http.MethodGet {
			rawData = formValues(form).Encode()
		}
		return "", form, rawData
	}
	if len(orig.RequestPayload) == 0 {
		return "{}", nil, "{}"
	}
	return string(orig.RequestPayload), nil, string(orig.RequestPayload)
}

// recordedFields reads a recorded form or query (a JSON object of strings;
// other values keep their JSON text).
func recordedFields(p json.RawMessage) map[string]string {
	var m map[string]json.RawMessage
	out := map[string]string{}
	if json.Unmarshal(p, &m) != nil {
		return out
	}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

func formValues(m map[string]string) url.Values {
	v := make(url.Values, len(m))
	for k, s := range m {
		v.Set(k, s)
	}
	return v
}

// replayQuery is request.query of a replay: a GET's recorded query.
func replayQuery(method string, form map[string]string) string {
	if method != http.MethodGet {
		return ""
	}
	return formValues(form).Encode()
}

// replayAnswer is the JSON answer of POST /api/v1/logs/{id}/replay.
type replayAnswer struct {
	Message       string `json:"message"`
	ID            string `json:"id"`
	ReplayOf      string `json:"replay_of"`
	HTTPStatus    int    `json:"http_status"`
	CodeStatus    string `json:"code_status"`
	ResultMessage string `json:"result_message"`
	ErrorMessage  string `json:"error_message"`
}

// replayHandler serves POST /api/v1/logs/{id}/replay. A console form
// (field then=console) is answered with a redirect to the new call's page,
// or an error page.
type replayHandler struct {
	p      *pipeline
	store  *logs.Store
	logger *slog.Logger
	// page answers a console form's error (nil: JSON).
	page func(w http.ResponseWriter, status int, msg string)
}

func (h *replayHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		if h.page != nil && r.PostFormValue("then") == "console" {
			h.page(w, status, msg)
			return
		}
		writeMessage(w, status, msg)
	}
	orig, err := h.store.Get(r.PathValue("id"))
	switch {
	case errors.Is(err, logs.ErrNotFound):
		fail(http.StatusNotFound, "Log record not found")
		return
	case err != nil:
		h.logger.Error("call log get failed", "err", err)
		fail(http.StatusInternalServerError, "Call log read failed")
		return
	}
	rec, err := h.p.replay(r.Context(), orig)
	if err != nil {
		var re *replayError
		if errors.As(err, &re) {
			fail(re.status, re.msg)
			return
		}
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	if r.PostFormValue("then") == "console" {
		http.Redirect(w, r, consoleCallPath(rec.ID), http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, replayAnswer{
		Message: "Replayed", ID: rec.ID, ReplayOf: orig.ID, HTTPStatus: rec.HTTPStatus,
		CodeStatus: rec.CodeStatus, ResultMessage: rec.ResultMessage, ErrorMessage: rec.ErrorMessage,
	})
}
