package daemon

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"

	"towerhook/definitions"
	"towerhook/logs"
	"towerhook/lua"
)

// checkExpect compares what a test's request produced with its expect
// block; secrets are masked in every failure text.
func checkExpect(res *testResult, t *definitions.Test, call *testCall, secrets []string) {
	e := &t.Expect
	rec := call.rec.rec
	httpCalls, procCalls, unmatched := call.effects.calls()
	for _, u := range unmatched {
		res.failf(t.Line, "%s", u)
	}
	if rec != nil && strings.Contains(rec.ErrorMessage, "execution timed out after") {
		res.failf(t.Line, "the code did not finish: %s", rec.ErrorMessage)
	}
	msg, msgJSON := answerMessage(call.body)
	if e.Status != 0 && e.Status != call.status {
		res.failf(e.LineOf("status"), "status: want %d, got %d (message %q)", e.Status, call.status, msg)
	}
	checkMessage(res, e, msg, msgJSON)
	if e.Authentication != "" {
		got := ""
		if rec != nil {
			got = rec.AuthenticationStatus
		}
		if got != e.Authentication {
			res.failf(e.LineOf("authentication"), "authentication: want %s, got %s", e.Authentication, got)
		}
	}
	checkLogLines(res, e, rec)
	if e.HasRequests {
		checkRequests(res, e, httpCalls)
	}
	if e.HasSubprocess {
		checkSubprocess(res, e, procCalls)
	}
	if len(res.failures) > 0 {
		mask := definitions.SecretMasker(secrets)
		for i := range res.failures {
			res.failures[i].msg = mask.Mask(res.failures[i].msg)
		}
	}
}

// answerMessage returns the answer's message: the text of a
// {"message": "..."} answer, the JSON of a {"message": {...}} one (also
// returned as raw), else the whole body (a result.body answer).
func answerMessage(body []byte) (string, json.RawMessage) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil && len(m) == 1 {
		if v, ok := m["message"]; ok {
			var s string
			if json.Unmarshal(v, &s) == nil {
				return s, v
			}
			return string(v), v
		}
	}
	return string(body), json.RawMessage(body)
}

func checkMessage(res *testResult, e *definitions.Expect, msg string, raw json.RawMessage) {
	switch {
	case e.Message != nil && *e.Message != msg:
		res.failf(e.LineOf("message"), "message: want %q, got %q", *e.Message, msg)
	case e.MessageJSON != nil && !jsonEqual(e.MessageJSON, raw):
		res.failf(e.LineOf("message"), "message: want %s, got %s", e.MessageJSON, msg)
	case e.MessageRegex != nil && !e.MessageRegex.MatchString(msg):
		res.failf(e.LineOf("message_regex"), "message: want a match of %q, got %q", e.MessageRegex.String(), msg)
	}
}

func checkLogLines(res *testResult, e *definitions.Expect, rec *logs.Record) {
	var lines []string
	if rec != nil {
		lines = rec.LogLines
	}
	for _, want := range e.LogLinesContain {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) }) {
			res.failf(e.LineOf("log_lines_contain"), "log lines: want one containing %q, got %q", want, lines)
		}
	}
}

func checkRequests(res *testResult, e *definitions.Expect, calls []lua.HTTPSpec) {
	if len(calls) != len(e.Requests) {
		got := make([]string, len(calls))
		for i, c := range calls {
			got[i] = c.Method + " " + c.URL
		}
		res.failf(e.LineOf("requests"), "requests: want %d call(s), got %d %q", len(e.Requests), len(calls), got)
	}
	for i, want := range e.Requests {
		if i >= len(calls) {
			break
		}
		got := calls[i]
		switch {
		case want.Method != "" && want.Method != got.Method, want.URL != "" && !mockURLMatches(want.URL, got.URL):
			res.failf(want.Line, "requests[%d]: want %s %s, got %s %s", i, orAny(want.Method), orAny(want.URL), got.Method, got.URL)
			continue
		}
		body := got.Data
		if body == nil {
			body = got.JSON
		}
		if want.JSON != nil && !jsonSubset(want.JSON, body) {
			res.failf(want.Line, "requests[%d]: json: want a body containing %s, got %s", i, want.JSON, body)
		}
		if want.Body != nil && *want.Body != string(body) {
			res.failf(want.Line, "requests[%d]: body: want %q, got %q", i, *want.Body, body)
		}
		for k, v := range want.Headers {
			if g, ok := headerValue(got.Headers, k); !ok || g != v {
				res.failf(want.Line, "requests[%d]: header %s: want %q, got %q", i, k, v, g)
			}
		}
	}
}

func checkSubprocess(res *testResult, e *definitions.Expect, calls []lua.ProcSpec) {
	if len(calls) != len(e.Subprocess) {
		got := make([]string, len(calls))
		for i, c := range calls {
			got[i] = quoteArgv(c.Argv)
		}
		res.failf(e.LineOf("subprocess"), "subprocess: want %d call(s), got %d %s", len(e.Subprocess), len(calls), strings.Join(got, " "))
	}
	for i, want := range e.Subprocess {
		if i >= len(calls) {
			break
		}
		got := calls[i]
		if !slices.Equal(want.Argv, got.Argv) {
			res.failf(want.Line, "subprocess[%d]: want argv %s, got %s", i, quoteArgv(want.Argv), quoteArgv(got.Argv))
			continue
		}
		if want.Input != nil && *want.Input != string(got.Input) {
			res.failf(want.Line, "subprocess[%d]: input: want %q, got %q", i, *want.Input, got.Input)
		}
		for _, k := range slices.Sorted(maps.Keys(want.Env)) {
			if g, ok := got.Env[k]; !ok || g != want.Env[k] {
				res.failf(want.Line, "subprocess[%d]: env %s: want %q, got %q", i, k, want.Env[k], g)
			}
		}
	}
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// headerValue looks name up case-insensitively.
func headerValue(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// jsonSubset reports whether got (JSON text) holds want: objects may have
// more members, lists must have as many items (each a subset), other values
// are equal.
func jsonSubset(want, got []byte) bool {
	var w, g any
	dw, dg := json.NewDecoder(bytes.NewReader(want)), json.NewDecoder(bytes.NewReader(got))
	dw.UseNumber()
	dg.UseNumber()
	return dw.Decode(&w) == nil && dg.Decode(&g) == nil && subset(w, g)
}

func subset(w, g any) bool {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return false
		}
		for k, x := range wv {
			if y, ok := gv[k]; !ok || !subset(x, y) {
				return false
			}
		}
		return true
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return false
		}
		for i := range wv {
			if !subset(wv[i], gv[i]) {
				return false
			}
		}
		return true
	case json.Number:
		gv, ok := g.(json.Number)
		return ok && numbersEqual(wv, gv)
	}
	return reflect.DeepEqual(w, g)
}

// numbersEqual compares JSON numbers by value (1 == 1.0).
func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	x, err1 := a.Float64()
	y, err2 := b.Float64()
	return err1 == nil && err2 == nil && x == y
}
