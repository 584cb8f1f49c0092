package lua

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"towerhook/internal/secrets"

	glua "github.com/yuin/gopher-lua"
)

// Limits applied to every state. They bound what one call into Go may do,
// since the deadline is only checked between Lua instructions.
const (
	// DefaultTimeout is the deadline of a call whose Timeout is 0.
	DefaultTimeout = 10 * time.Second
	// MaxStringSize bounds strings built by string.rep, string.gsub,
	// table.concat and the helper modules.
	MaxStringSize = 16 << 20
	// MaxPatternSubject bounds the subject of string.find/match/gmatch/gsub.
	MaxPatternSubject = 1 << 20
	// MaxLogLines bounds the _logger lines kept per call.
	MaxLogLines = 1000

	callStackSize   = 200
	registrySize    = 1024 * 4
	registryMaxSize = 1024 * 64
	registryGrow    = 1024 * 4
)

// Engine owns a bounded pool of sandboxed states.
type Engine struct {
	opts    Options
	pool    chan *state
	mask    *secrets.Masker // nil: no secrets
	metrics *Metrics
	re      *reCache
	proc    *procRunner
	mem     *memGuard // Options.Shared's memory guard, or nil
	http    *httpClient
	ownHTTP bool // http is private to this engine: Close closes it
	// fastTables: gopher-lua's LTable has the layout table.go expects, so
	// tables are built with exact sizes and environments are reused.
	fastTables bool
	// lstringTab is the (LValue, LString) itab for batched boxing (nil: off).
	lstringTab unsafe.Pointer

	mu     sync.Mutex
	closed bool
}

// NewEngine builds an engine; states are created lazily.
func NewEngine(opts Options) *Engine {
	if opts.PoolSize <= 0 {
		opts.PoolSize = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.MaxConcurrentSubprocesses <= 0 {
		opts.MaxConcurrentSubprocesses = 4 * runtime.GOMAXPROCS(0)
	}
	e := &Engine{
		opts:    opts,
		pool:    make(chan *state, opts.PoolSize),
		mask:    newMasker(opts.Secrets),
		metrics: opts.Metrics,
		re:      newReCache(256),

		fastTables: layoutMatches(),
		lstringTab: lstringTab(),
	}
	if !opts.DisableSubprocess {
		if opts.Shared != nil {
			e.proc = opts.Shared.proc
		} else {
			var pm *procMetrics
			if opts.Metrics != nil {
				pm = opts.Metrics.proc
			}
			e.proc = newProcRunner(opts.MaxConcurrentSubprocesses, pm)
		}
	}
	if opts.Shared != nil {
		e.mem = opts.Shared.mem
	}
	if !opts.DisableRequests {
		if opts.Shared != nil {
			e.http = opts.Shared.http
		} else {
			e.http, e.ownHTTP = newHTTPClient(), true
		}
	}
	return e
}

// Close releases all pooled states and, unless it comes from Options.Shared,
// drops the idle connections of the requests client. Calls after Close still
// work but do not pool.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	if e.ownHTTP {
		e.http.close()
	}
	for {
		select {
		case st := <-e.pool:
			st.L.Close()
		default:
			return
		}
	}
}

func (e *Engine) get() *state {
	select {
	case st := <-e.pool:
		return st
	default:
		return e.newState()
	}
}

func (e *Engine) put(st *state) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		select {
		case e.pool <- st:
			return
		default:
		}
	}
	st.L.Close()
}

// Run executes call on a pooled state with a fresh environment and deadline.
func (e *Engine) Run(ctx context.Context, call *Call) *Result {
	res := &Result{}
	if call == nil || call.Script == nil || call.Script.proto == nil {
		res.Err = errors.New("no compiled code")
		return res
	}
	timeout := call.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st := e.get()
	cctx := st.ctx
	start := time.Now()
	cctx.start(ctx, start, timeout)
	if e.mem != nil {
		e.mem.add(cctx)
	}
	st.cur = callState{ctx: cctx, call: call, res: res}
	env, err := st.run(cctx, call)
	// The result or the error becomes Go text while the deadline and the
	// memory guard still apply (README "Lua API").
	resultOK, text := true, ""
	var convErr error
	switch {
	case err == nil:
		resultOK = st.readResult(call.Kind, env, res)
		convErr = res.Err
	case cctx.Err() == nil:
		text, convErr = st.errorText(err)
	}
	res.Duration = time.Since(start)
	if e.mem != nil {
		e.mem.remove(cctx) // before the context is disarmed for the next call
	}
	discard := !cctx.finish()

	reason := ""
	switch {
	case cctx.Err() != nil && (err != nil || errors.Is(convErr, errInterrupted)):
		discard = true
		*res = Result{LogLines: res.LogLines, Duration: res.Duration}
		res.TimedOut = errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		switch {
		case res.TimedOut:
			res.Err = fmt.Errorf("execution timed out after %v", timeout)
			reason = "timeout"
		case errors.Is(cctx.Err(), ErrMemoryLimit):
			res.Err = ErrMemoryLimit
			reason = "memory"
		default:
			res.Err = errors.New("execution canceled")
			reason = "canceled"
		}
	case err != nil:
		var ae *glua.ApiError
		if !errors.As(err, &ae) || ae.Type != glua.ApiErrorRun {
			discard = true // a Go panic or an API error: do not trust the state
		}
		res.Err = errors.New(text)
		reason = "error"
	default:
		if !resultOK {
			reason = "result_type"
		}
		if res.Err != nil && reason == "" {
			reason = "error"
		}
	}
	if !discard && e.fastTables && resetEnv(env) {
		st.env = env // emptied: the next call cannot see anything of this one
	}
	st.cur = callState{}
	if discard {
		st.L.Close()
	} else {
		e.put(st)
	}
	if m := e.metrics; m != nil {
		m.observe(call.Kind, call.Reference, res.Duration, reason)
	}
	return res
}

// errorText returns the masked text of the error that ended a call: an
// error object that is a table as JSON (error({code = 42}), not
// "table: 0x..."), anything else as plain text with "line N:" positions.
// An error object whose text would pass MaxStringSize is named, not copied.
func (st *state) errorText(err error) (string, error) {
	var ae *glua.ApiError
	if !errors.As(err, &ae) || ae.Object == nil {
		return st.e.mask.Mask(cleanText(err.Error())), nil
	}
	if t, ok := ae.Object.(*glua.LTable); ok {
		b, jerr := st.encodeJSON(t, "")
		switch {
		case jerr == nil:
			return st.e.mask.Mask(string(b)), nil
		case errors.Is(jerr, errInterrupted):
			return "", jerr
		case errors.Is(jerr, errJSONTooLarge):
			return "error object: " + jerr.Error(), nil
		}
	}
	raw := ae.Object.String()
	if len(raw) > MaxStringSize {
		return errTextTooLarge("error object").Error(), nil
	}
	return st.e.mask.Mask(cleanText(raw)), nil
}

// errTextTooLarge is the error of a text longer than MaxStringSize.
func errTextTooLarge(what string) error {
	return fmt.Errorf("%s: text exceeds %d MiB", what, MaxStringSize>>20)
}

// cleanText rewrites "<lua>:N:" positions to "line N:" and drops tracebacks.
func cleanText(s string) string {
	if i := strings.Index(s, "\nstack traceback:"); i >= 0 {
		s = s[:i]
	}
	if !strings.Contains(s, chunkName) {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	for {
		i := strings.Index(s, chunkName)
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		rest := s[i+len(chunkName):]
		j := 0
		if len(rest) > 0 && (rest[0] == ':' || rest[0] == ' ') {
			j = 1
			if strings.HasPrefix(rest, " line:") {
				j = len(" line:")
			}
			k := j
			for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
				k++
			}
			if k > j {
				b.WriteString("line ")
				b.WriteString(rest[j:k])
				if k < len(rest) && rest[k] == ':' {
					k++
				}
				b.WriteString(":")
				s = rest[k:]
				continue
			}
		}
		s = rest
	}
	return strings.TrimSpace(b.String())
}

// newMasker masks every secret value, and the forms it takes in text the
// runtime produces (see secretForms), as "*****".
func newMasker(values []string) *secrets.Masker {
	var forms []string
	for _, s := range values {
		if s != "" {
			forms = append(forms, secretForms(s)...)
		}
	}
	return secrets.NewMasker(forms)
}

// secretForms returns s as is, as the contents of a JSON string (escaped
// with and without HTML escaping: a table message or json.dumps output),
// and, for an http(s) URL whose path carries data (the token of a Slack,
// Discord or Teams webhook URL), the URL without credentials and query
// that requests errors quote.
func secretForms(s string) []string {
	forms := []string{s}
	for _, html := range []bool{true, false} {
		once := jsonContents(s, html)
		// Also encoded twice (json.dumps of a string that already holds
		// JSON, sent inside a table message).
		forms = append(forms, once, jsonContents(once, html))
	}
	// URL-quoted, as urllib_parse.quote / quote_plus (and Go) write it.
	forms = append(forms, pyQuote(s, "/", false), pyQuote(s, "", false), pyQuote(s, "", true),
		url.QueryEscape(s), url.PathEscape(s))
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.Trim(u.Path, "/") != "" {
		forms = append(forms, httpSafeURL(u))
	}
	return forms
}

// jsonContents is s as the inside of a JSON string, HTML-escaped or not.
func jsonContents(s string, html bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if enc.Encode(s) != nil {
		return s
	}
	t := strings.TrimSuffix(buf.String(), "\n")
	return t[1 : len(t)-1]
}
