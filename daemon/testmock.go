package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"towerhook/definitions"
	"towerhook/lua"
)

// mockEffects answers a call's requests and subprocess calls from mocks
// (lua.Effects) and records every call, so that nothing real happens and a
// test can check what the code asked for. A call without a matching mock
// raises in Lua and is remembered as unmatched (the test fails naming it).
type mockEffects struct {
	mocks definitions.Mocks

	mu        sync.Mutex
	http      []lua.HTTPSpec // with the URL as sent (params included)
	proc      []lua.ProcSpec
	unmatched []string
}

var _ lua.Effects = (*mockEffects)(nil)

func newMockEffects(m definitions.Mocks) *mockEffects { return &mockEffects{mocks: m} }

// HTTP implements lua.Effects.
func (m *mockEffects) HTTP(_ context.Context, spec lua.HTTPSpec) (lua.HTTPResponse, error) {
	spec.Method = strings.ToUpper(strings.TrimSpace(spec.Method))
	if spec.Method == "" {
		spec.Method = http.MethodGet
	}
	spec.URL = urlWithParams(spec.URL, spec.Params)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.http = append(m.http, spec)
	for _, mk := range m.mocks.Requests {
		if (mk.Method == "" || mk.Method == spec.Method) && mockURLMatches(mk.URL, spec.URL) {
			if mk.Error != "" {
				return lua.HTTPResponse{}, fmt.Errorf("requests: %s %s: %s", spec.Method, mk.URL, mk.Error)
			}
			h := make(map[string]string, len(mk.Headers))
			for k, v := range mk.Headers {
				h[http.CanonicalHeaderKey(k)] = v
			}
			return lua.HTTPResponse{StatusCode: mk.Status, Text: mk.Body, Headers: h}, nil
		}
	}
	msg := fmt.Sprintf("no mock for %s %s", spec.Method, spec.URL)
	m.unmatched = append(m.unmatched, "requests: "+msg)
	return lua.HTTPResponse{}, errors.New("requests: " + msg)
}

// Run implements lua.Effects.
func (m *mockEffects) Run(_ context.Context, spec lua.ProcSpec) (lua.ProcResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.proc = append(m.proc, spec)
	for _, mk := range m.mocks.Subprocess {
		if slices.Equal(mk.Argv, spec.Argv) {
			if mk.Error != "" {
				return lua.ProcResult{}, fmt.Errorf("subprocess: %s", mk.Error)
			}
			return lua.ProcResult{ReturnCode: mk.ReturnCode, Stdout: mk.Stdout, Stderr: mk.Stderr}, nil
		}
	}
	msg := "no mock for argv " + quoteArgv(spec.Argv)
	m.unmatched = append(m.unmatched, "subprocess: "+msg)
	return lua.ProcResult{}, errors.New("subprocess: " + msg)
}

// calls returns copies of what was recorded.
func (m *mockEffects) calls() ([]lua.HTTPSpec, []lua.ProcSpec, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.http), slices.Clone(m.proc), slices.Clone(m.unmatched)
}

// urlWithParams is raw with params appended to its query, as the real
// client sends it (sorted by key).
func urlWithParams(raw string, params map[string]string) string {
	if len(params) == 0 {
		return raw
	}
	q := make(url.Values, len(params))
	for k, v := range params {
		q.Set(k, v)
	}
	if strings.Contains(raw, "?") {
		return raw + "&" + q.Encode()
	}
	return raw + "?" + q.Encode()
}

// mockURLMatches compares a mock's (or an expectation's) URL with a call's:
// the whole URL when the mock's has a query, else the call's without its
// query.
func mockURLMatches(want, got string) bool {
	if strings.Contains(want, "?") {
		return want == got
	}
	base, _, _ := strings.Cut(got, "?")
	return want == base
}

// quoteArgv writes argv as a JSON-style list, ["a", "b"].
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
