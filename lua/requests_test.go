package lua

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// httpTestServer starts a server on 127.0.0.1 for the test's lifetime.
func httpTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// httpEcho answers with a JSON description of the request it got.
func httpEcho(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method":       r.Method,
		"path":         r.URL.Path,
		"query":        r.URL.RawQuery,
		"body":         string(body),
		"content_type": r.Header.Get("Content-Type"),
		"token":        r.Header.Get("X-Token"),
		"user_agent":   r.Header.Get("User-Agent"),
		"host":         r.Host,
		"cookie":       r.Header.Get("Cookie"),
	})
}

func TestHTTPDo(t *testing.T) {
	srv := httpTestServer(t, http.HandlerFunc(httpEcho))
	c := newHTTPClient()
	tests := []struct {
		name string
		spec HTTPSpec
		want map[string]any
	}{
		{name: "get", spec: HTTPSpec{URL: srv.URL + "/a/b"},
			want: map[string]any{"method": "GET", "path": "/a/b", "user_agent": "towerhook", "body": ""}},
		{name: "lowercase method", spec: HTTPSpec{Method: "delete", URL: srv.URL},
			want: map[string]any{"method": "DELETE"}},
		{name: "json round trip", spec: HTTPSpec{Method: "POST", URL: srv.URL, JSON: []byte(`{"a":[1,2],"b":"é"}`)},
			want: map[string]any{"method": "POST", "body": `{"a":[1,2],"b":"é"}`, "content_type": "application/json"}},
		{name: "json with own content type", spec: HTTPSpec{Method: "PUT", URL: srv.URL, JSON: []byte(`{}`),
			Headers: map[string]string{"content-type": "application/vnd.api+json"}},
			want: map[string]any{"body": "{}", "content_type": "application/vnd.api+json"}},
		{name: "data as is", spec: HTTPSpec{Method: "POST", URL: srv.URL, Data: []byte("a=1&b=2"), JSON: []byte(`{"ignored":true}`)},
			want: map[string]any{"body": "a=1&b=2", "content_type": ""}},
		{name: "params", spec: HTTPSpec{URL: srv.URL + "/p", Params: map[string]string{"b": "2", "c": "x y&z"}},
			want: map[string]any{"query": "b=2&c=x+y%26z"}},
		{name: "params appended", spec: HTTPSpec{URL: srv.URL + "/p?z=0&a=1", Params: map[string]string{"b": "2"}},
			want: map[string]any{"query": "z=0&a=1&b=2"}},
		{name: "headers", spec: HTTPSpec{URL: srv.URL, Headers: map[string]string{"x-token": "t0k", "User-Agent": "me/1", "Host": "example.test"}},
			want: map[string]any{"token": "t0k", "user_agent": "me/1", "host": "example.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Do(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 200 || res.Truncated {
				t.Fatalf("got %+v", res)
			}
			if res.Headers["X-Multi"] != "a, b" || res.Headers["Content-Type"] != "application/json" {
				t.Fatalf("headers %v", res.Headers)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(res.Text), &got); err != nil {
				t.Fatalf("%v: %q", err, res.Text)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestHTTPStatusIsNotAnError(t *testing.T) {
	srv := httpTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusTeapot)
	}))
	res, err := newHTTPClient().Do(context.Background(), HTTPSpec{URL: srv.URL})
	if err != nil || res.StatusCode != http.StatusTeapot || res.Text != "nope\n" {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestHTTPTimeout(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	c := newHTTPClient()
	tests := []struct {
		name    string
		timeout time.Duration // of the context
		spec    HTTPSpec
		want    string
	}{
		{name: "spec timeout", timeout: time.Minute, spec: HTTPSpec{URL: srv.URL, Timeout: 200 * time.Millisecond},
			want: "requests: timeout after 200ms"},
		{name: "timeout while reading the body", timeout: time.Minute, spec: HTTPSpec{URL: srv.URL + "/slow-body", Timeout: 200 * time.Millisecond},
			want: "requests: timeout after 200ms"},
		{name: "context deadline first", timeout: 200 * time.Millisecond, spec: HTTPSpec{URL: srv.URL, Timeout: time.Minute},
			want: "requests: timeout after "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			_, err := c.Do(ctx, tt.spec)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, HTTPSpec{URL: srv.URL}); err == nil || !strings.HasSuffix(err.Error(), ": canceled") {
		t.Fatalf("canceled context: err = %v", err)
	}
}

func TestHTTPSizeCap(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		truncated bool
	}{
		{name: "under", size: 1000},
		{name: "exactly", size: httpBodyCap},
		{name: "over", size: httpBodyCap + 4096, truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(strings.Repeat("x", tt.size)))
			}))
			res, err := newHTTPClient().Do(context.Background(), HTTPSpec{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			want := min(tt.size, httpBodyCap)
			if len(res.Text) != want || res.Truncated != tt.truncated {
				t.Fatalf("len %d truncated %v, want %d %v", len(res.Text), res.Truncated, want, tt.truncated)
			}
		})
	}
}

func TestHTTPRedirects(t *testing.T) {
	srv := httpTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n > 0 {
			http.SetCookie(w, &http.Cookie{Name: "hop", Value: strconv.Itoa(n)})
			http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
			return
		}
		fmt.Fprintf(w, "arrived cookie=%q", r.Header.Get("Cookie"))
	}))
	c := newHTTPClient()
	tests := []struct {
		hops    int
		wantErr string
	}{
		{hops: 0},
		{hops: 1},
		{hops: httpMaxRedirects},
		{hops: httpMaxRedirects + 1, wantErr: "stopped after 5 redirects"},
		{hops: 50, wantErr: "stopped after 5 redirects"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.hops), func(t *testing.T) {
			res, err := c.Do(context.Background(), HTTPSpec{URL: fmt.Sprintf("%s/r/%d", srv.URL, tt.hops)})
			if tt.wantErr != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// No cookie jar: cookies set along the chain are not sent back.
			if res.Text != `arrived cookie=""` {
				t.Fatalf("got %q", res.Text)
			}
		})
	}
}

func TestHTTPNoCookiePersistence(t *testing.T) {
	srv := httpTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc", Path: "/"})
		httpEcho(w, r)
	}))
	c := newHTTPClient()
	for i := range 2 {
		res, err := c.Do(context.Background(), HTTPSpec{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Headers["Set-Cookie"], "session=abc") {
			t.Fatalf("call %d: Set-Cookie missing: %v", i, res.Headers)
		}
		if strings.Contains(res.Text, "session=abc") {
			t.Fatalf("call %d sent a cookie from an earlier call: %s", i, res.Text)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	// A port nobody listens on: listen, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	c := newHTTPClient()
	tests := []struct {
		name    string
		spec    HTTPSpec
		want    string
		secrets []string
	}{
		{name: "connection refused", spec: HTTPSpec{URL: "http://user:pa55w0rd@" + closed + "/hook?token=s3cret#frag"},
			want: "requests: GET http://" + closed + "/hook: connection refused", secrets: []string{"pa55w0rd", "s3cret", "token", "user"}},
		{name: "params not leaked", spec: HTTPSpec{Method: "post", URL: "http://" + closed + "/x", Params: map[string]string{"key": "s3cret"}},
			want: "requests: POST http://" + closed + "/x: connection refused", secrets: []string{"s3cret"}},
		{name: "file scheme", spec: HTTPSpec{URL: "file:///etc/passwd"},
			want: `requests: unsupported URL scheme "file" (only http and https)`},
		{name: "relative", spec: HTTPSpec{URL: "/just/a/path"},
			want: `requests: unsupported URL scheme "" (only http and https)`},
		{name: "no host", spec: HTTPSpec{URL: "http:///path?token=s3cret"},
			want: "requests: URL http:///path has no host", secrets: []string{"s3cret"}},
		{name: "bad URL", spec: HTTPSpec{URL: "http://user:s3cret@[::1"},
			want: "requests: invalid URL", secrets: []string{"s3cret"}},
		{name: "bad method", spec: HTTPSpec{Method: "GE T", URL: "http://" + closed + "/?token=s3cret"},
			want: "requests: (invalid method) http://" + closed + "/: ", secrets: []string{"s3cret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Do(context.Background(), tt.spec)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q leaks %q", err, s)
				}
			}
		})
	}
}

func BenchmarkHTTPGet(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := newHTTPClient()
	spec := HTTPSpec{URL: srv.URL + "/x", Params: map[string]string{"a": "1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHTTPClose(t *testing.T) {
	srv := httpTestServer(t, http.HandlerFunc(httpEcho))
	c := newHTTPClient()
	for range 2 {
		if _, err := c.Do(context.Background(), HTTPSpec{URL: srv.URL}); err != nil {
			t.Fatal(err)
		}
		c.close() // the client keeps working after dropping idle connections
	}
	var nilClient *httpClient
	nilClient.close()
}
