package lua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"time"
)

const (
	// httpDefaultTimeout applies when HTTPSpec.Timeout is zero.
	httpDefaultTimeout = 30 * time.Second
	// httpBodyCap bounds the response body kept in HTTPResponse.Text.
	httpBodyCap = 10 << 20
	// httpMaxRedirects is the most redirects one request follows.
	httpMaxRedirects = 5
	// httpUserAgent is sent unless the caller sets User-Agent.
	httpUserAgent = "towerhook"
)

// HTTPSpec describes one requests.* call.
type HTTPSpec struct {
	// Method is the HTTP method (empty: GET); it is upper-cased.
	Method string
	// URL must be absolute, with scheme http or https.
	URL string
	// Headers are request headers (a "Host" entry sets the Host header).
	Headers map[string]string
	// Params are appended to the URL's query string, sorted by key.
	Params map[string]string
	// Data is sent as the body, as-is. It wins over JSON (as in Python's requests).
	Data []byte
	// JSON is sent as the body with Content-Type application/json unless
	// Headers sets a Content-Type.
	JSON []byte
	// Timeout bounds the whole request, body included (0: 30s); the
	// context's deadline applies when earlier.
	Timeout time.Duration
}

// HTTPResponse is what a requests.* call returns to Lua.
type HTTPResponse struct {
	// StatusCode is the final response's status (after redirects).
	StatusCode int
	// Text is the body, at most 10 MiB.
	Text string
	// Headers are the response headers, canonical names, repeated values
	// joined with ", ".
	Headers map[string]string
	// Truncated reports that the body was longer than the cap.
	Truncated bool
}

// httpClient performs requests for Lua code: no cookie jar, at most 5
// redirects, bounded time and response size.
type httpClient struct {
	client *http.Client
}

// newHTTPClient returns a client with its own transport (cloned from
// http.DefaultTransport) and connection pool.
func newHTTPClient() *httpClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ExpectContinueTimeout = time.Second
	tr.IdleConnTimeout = 90 * time.Second
	tr.MaxIdleConns = 100
	tr.MaxIdleConnsPerHost = 16
	tr.MaxResponseHeaderBytes = 1 << 20
	return &httpClient{client: &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > httpMaxRedirects {
				return fmt.Errorf("stopped after %d redirects", httpMaxRedirects)
			}
			return nil
		},
	}}
}

// close drops the client's idle connections (call it when the engine that
// owns the client is closed); nil-safe. The client still works afterwards.
func (c *httpClient) close() {
	if c != nil {
		c.client.CloseIdleConnections()
	}
}

// Do performs spec within ctx. Errors are plain texts such as
// "requests: timeout after 5s" or "requests: GET http://host/path:
// connection refused"; they never contain the URL's userinfo or query.
// A non-2xx status is not an error.
func (c *httpClient) Do(ctx context.Context, spec HTTPSpec) (HTTPResponse, error) {
	method := strings.ToUpper(strings.TrimSpace(spec.Method))
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(spec.URL)
	if err != nil {
		return HTTPResponse{}, errors.New("requests: invalid URL")
	}
	safe := httpSafeURL(u)
	if u.Scheme != "http" && u.Scheme != "https" {
		return HTTPResponse{}, fmt.Errorf("requests: unsupported URL scheme %q (only http and https)", u.Scheme)
	}
	if u.Host == "" {
		return HTTPResponse{}, fmt.Errorf("requests: URL %s has no host", safe)
	}
	if len(spec.Params) > 0 {
		q := make(url.Values, len(spec.Params))
		for k, v := range spec.Params {
			q.Set(k, v)
		}
		if u.RawQuery != "" {
			u.RawQuery += "&" + q.Encode()
		} else {
			u.RawQuery = q.Encode()
		}
	}

	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = httpDefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if rem := time.Until(dl); rem < timeout {
			timeout = rem
		}
	}
	if timeout <= 0 {
		return HTTPResponse{}, errors.New("requests: timeout (the call's deadline has passed)")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var body io.Reader
	isJSON := false
	switch {
	case spec.Data != nil:
		body = bytes.NewReader(spec.Data)
	case spec.JSON != nil:
		body = bytes.NewReader(spec.JSON)
		isJSON = true
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("requests: %s %s: %s", httpSafeMethod(method), safe, httpScrub(httpErrText(err), spec.URL, u))
	}
	keys := make([]string, 0, len(spec.Headers))
	for k := range spec.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := spec.Headers[k]
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if isJSON && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", httpUserAgent)
	}

	resp, err := c.client.Do(req)
	if err != nil {
		return HTTPResponse{}, c.fail(ctx, method, safe, timeout, err, spec.URL, u)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, httpBodyCap+1))
	if err != nil {
		return HTTPResponse{}, c.fail(ctx, method, safe, timeout, err, spec.URL, u)
	}
	out := HTTPResponse{StatusCode: resp.StatusCode, Headers: make(map[string]string, len(resp.Header))}
	if len(data) > httpBodyCap {
		data = data[:httpBodyCap]
		out.Truncated = true
	}
	out.Text = string(data)
	for k, vs := range resp.Header {
		out.Headers[http.CanonicalHeaderKey(k)] = strings.Join(vs, ", ")
	}
	return out, nil
}

// fail turns a transport error into a plain message without credentials.
func (c *httpClient) fail(ctx context.Context, method, safe string, timeout time.Duration, err error, raw string, u *url.URL) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("requests: timeout after %s", httpDur(timeout))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("requests: %s %s: timeout", httpSafeMethod(method), safe)
	}
	return fmt.Errorf("requests: %s %s: %s", httpSafeMethod(method), safe, httpScrub(httpErrText(err), raw, u))
}

// httpErrText is the innermost useful text of err: "connection refused",
// "lookup example.invalid: no such host", "stopped after 5 redirects", ...
func httpErrText(err error) string {
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "lookup " + dns.Name + ": " + dns.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// httpSafeURL is u without userinfo, query and fragment.
func httpSafeURL(u *url.URL) string {
	s := *u
	s.User = nil
	s.RawQuery = ""
	s.ForceQuery = false
	s.Fragment = ""
	s.RawFragment = ""
	return s.String()
}

// httpScrub removes the URL's credentials and query from msg, in case an
// inner error quoted them.
func httpScrub(msg, raw string, u *url.URL) string {
	if raw != "" {
		msg = strings.ReplaceAll(msg, raw, httpSafeURL(u))
	}
	if full := u.String(); full != "" {
		msg = strings.ReplaceAll(msg, full, httpSafeURL(u))
	}
	if u.RawQuery != "" {
		msg = strings.ReplaceAll(msg, u.RawQuery, "...")
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "*****")
		}
	}
	return msg
}

// httpSafeMethod keeps a method printable in messages.
func httpSafeMethod(m string) string {
	if len(m) > 16 || strings.ContainsAny(m, " \t\r\n") {
		return "(invalid method)"
	}
	return m
}

// httpDur formats d for messages: "5s", "1.5s", "250ms".
func httpDur(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Millisecond).String()
}
