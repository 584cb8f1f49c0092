package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"towerhook/definitions"
	"towerhook/internal/secrets"
	"towerhook/logs"
	"towerhook/lua"
)

// table is an immutable routing table built from one definitions.Set: the
// compiled scripts, resolved run_as users and the Lua engine that runs them.
// Requests read it once from an atomic pointer and finish on it.
type table struct {
	set    *definitions.Set
	routes map[definitions.RouteKey]*route
	auths  map[string]*authRoute
	engine *lua.Engine
	hash   string
	loaded time.Time
	// paySecrets are the set's secret values as they can appear in a
	// request payload, masked before it is logged.
	paySecrets logs.PayloadSecrets
	// secretMask masks the set's secret values in the endpoint a call
	// record keeps (definitions.SecretMasker).
	secretMask *secrets.Masker

	active  atomic.Int64
	retired atomic.Bool
	closeMu sync.Once
	// onClose runs once when a retired table is closed (last request done).
	onClose func()
}

// MaxCodeTimeout bounds a webhook's timeout, so the public listener's
// WriteTimeout can stay above the longest possible call.
const MaxCodeTimeout = 15 * time.Minute

// route is one webhook ready to serve.
type route struct {
	wh      *definitions.Webhook
	script  *lua.Script
	auth    *authRoute
	cred    *lua.Credential
	timeout time.Duration
	info    map[string]string
}

// authRoute is one authenticator ready to run.
type authRoute struct {
	a      *definitions.Authenticator
	script *lua.Script
	info   map[string]string
}

// buildOptions configure buildTable.
type buildOptions struct {
	Logger            *slog.Logger
	LuaMetrics        *lua.Metrics
	DefaultTimeout    time.Duration
	DisableSubprocess bool
	DisableRequests   bool
	MaxSubprocesses   int
	// Shared holds the process-wide subprocess bound and HTTP client
	// (nil: each engine makes its own, fine for validate and call).
	Shared *lua.Shared
	// PoolSize is the most idle Lua states kept (the concurrency cap, so a
	// burst does not create and discard states).
	PoolSize int
	// SkipUsers skips run_as resolution (validate without --check-users).
	SkipUsers bool
}

// loadSet reads a definitions directory the way serve, validate and call
// all do: LoadDir leaves the Lua check of a valid directory to buildTable
// (each code is parsed once) and lists every error of an invalid one, Lua
// syntax errors included, so every command reports the same errors.
func loadSet(dir string, o definitions.Options) (*definitions.Set, error) {
	o.SkipCodeCheck = true
	return definitions.LoadDir(dir, o)
}

// buildTable compiles every script of set and resolves run_as users. It is
// the one build path shared by serve, validate and call: what validates,
// serves. All fallible work happens here, before any swap.
func buildTable(set *definitions.Set, o buildOptions) (*table, error) {
	var errs definitions.Errors
	// The one compile of every code (LoadDir was told to skip its stand-in
	// check): errors read as LoadDir's would, file and line included.
	compile := func(ref, file string, fileLine func(int) int, code string) *lua.Script {
		s, err := lua.Compile(ref, code)
		if err == nil {
			return s
		}
		luaLine, msg := 1, err.Error()
		var ce *lua.CompileError
		if errors.As(err, &ce) && ce.Line > 0 {
			msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", ce.Line))
			luaLine = definitions.LuaErrorLine(msg, ce.Line, code)
		}
		errs = append(errs, &definitions.Error{File: file, Line: fileLine(luaLine), Reference: ref,
			Msg: definitions.LuaErrorText(msg, luaLine, set.SecretValues())})
		return nil
	}
	t := &table{
		set:    set,
		routes: make(map[definitions.RouteKey]*route, len(set.Webhooks())),
		auths:  make(map[string]*authRoute, len(set.Authenticators())),
		hash:   set.Hash(),
		loaded: time.Now(),
	}
	for _, a := range set.Authenticators() {
		t.auths[a.Reference] = &authRoute{
			a:      a,
			script: compile(a.Reference, a.File, a.FileLine, a.Code),
			info:   map[string]string{"reference": a.Reference, "name": a.Name},
		}
	}
	users := map[string]*lua.Credential{}
	for _, w := range set.Webhooks() {
		r := &route{
			wh:      w,
			script:  compile(w.Reference, w.File, w.FileLine, w.Code),
			auth:    t.auths[w.Authenticator.Reference],
			timeout: w.Timeout,
			info: map[string]string{
				"reference": w.Reference, "name": w.Name, "endpoint": w.Endpoint,
				"method": strings.ToLower(w.Method), "content_type": w.ContentType,
				"authenticator": w.Authenticator.Reference, "run_as": w.RunAs,
			},
		}
		if r.timeout <= 0 {
			r.timeout = o.DefaultTimeout
		}
		if r.timeout > MaxCodeTimeout {
			errs = append(errs, &definitions.Error{File: w.File, Line: w.Line, Reference: w.Reference,
				Msg: fmt.Sprintf("timeout %s is above the maximum %s", r.timeout, MaxCodeTimeout)})
		}
		if w.RunAs != "" && !o.SkipUsers && !o.DisableSubprocess {
			cred, ok := users[w.RunAs]
			if !ok {
				c, err := lua.ResolveUser(w.RunAs)
				if err != nil {
					errs = append(errs, &definitions.Error{File: w.File, Line: w.Line, Reference: w.Reference, Msg: err.Error()})
				}
				cred, users[w.RunAs] = c, c
			}
			r.cred = cred
		}
		t.routes[definitions.RouteKey{Endpoint: w.Endpoint, Method: w.Method}] = r
	}
	if len(errs) > 0 {
		return nil, errs
	}
	t.paySecrets = logs.NewPayloadSecrets(set.SecretValues())
	t.secretMask = definitions.SecretMasker(set.SecretValues())
	t.engine = lua.NewEngine(lua.Options{
		Logger:                    o.Logger,
		Secrets:                   set.SecretValues(),
		Metrics:                   o.LuaMetrics,
		DisableSubprocess:         o.DisableSubprocess,
		DisableRequests:           o.DisableRequests,
		MaxConcurrentSubprocesses: o.MaxSubprocesses,
		PoolSize:                  o.PoolSize,
		Shared:                    o.Shared,
	})
	return t, nil
}

// acquire marks a request as using t.
func (t *table) acquire() { t.active.Add(1) }

// release ends a request's use of t and closes a retired table once idle.
func (t *table) release() {
	if t.active.Add(-1) == 0 && t.retired.Load() {
		t.close()
	}
}

// retire marks t as replaced; its engine closes once no request uses it.
// A request that loaded t just before the swap still works: a closed engine
// keeps running calls, it only stops pooling states.
func (t *table) retire() {
	t.retired.Store(true)
	if t.active.Load() == 0 {
		t.close()
	}
}

func (t *table) close() {
	t.closeMu.Do(func() {
		if t.engine != nil {
			t.engine.Close()
		}
		if t.onClose != nil {
			t.onClose()
		}
	})
}

// describeErrors formats load errors for logs and the admin API.
func describeErrors(err error) []string {
	var es definitions.Errors
	if errors.As(err, &es) {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Error()
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []string{fmt.Sprint(err)}
}
