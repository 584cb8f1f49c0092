package lua

import (
	"context"
	"net/textproto"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// callState is what Go helpers need to know about the running call.
type callState struct {
	ctx  context.Context
	call *Call
	res  *Result
}

// state is one sandboxed LState plus the immutable objects shared by every
// call that runs on it. A state is used by one goroutine at a time.
type state struct {
	e           *Engine
	L           *glua.LState
	globals     *glua.LTable // the sandbox globals; never reachable from Lua
	envMetaAuth *glua.LTable // {__index = globals, __metatable = false}
	envMetaHook *glua.LTable // the same over globals + capability modules
	hdrMeta     *glua.LTable // case-insensitive header lookup
	roMeta      map[*glua.LTable]bool
	null        *glua.LUserData // json.null
	arrMeta     *glua.LTable    // marks empty JSON arrays so they dump as []
	hashFns     map[*glua.LFunction]string
	hashMt      *glua.LTable // hmac/hashlib object methods
	matchMt     *glua.LTable // re match object methods
	cur         callState
}

func (e *Engine) newState() *state {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       callStackSize,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		RegistryGrowStep:    registryGrow,
		IncludeGoStackTrace: false,
	})
	st := &state{e: e, L: L, roMeta: map[*glua.LTable]bool{}, hashFns: map[*glua.LFunction]string{}}
	st.openSandbox()
	if m := e.metrics; m != nil {
		m.statesCreated.Inc()
	}
	return st
}

// protect returns a metatable that getmetatable/setmetatable cannot reach.
func (st *state) protect(mt *glua.LTable) *glua.LTable {
	mt.RawSetString("__metatable", glua.LFalse)
	return mt
}

// readOnly wraps real in an empty proxy table: reads go to real, writes raise.
// Raw writes on proxies are refused by the sandbox's rawset/table.* wrappers.
func (st *state) readOnly(real *glua.LTable) *glua.LTable {
	L := st.L
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", real)
	mt.RawSetString("__newindex", L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("attempt to modify read-only table")
		return 0
	}))
	st.protect(mt)
	proxy := L.CreateTable(0, 0)
	proxy.Metatable = mt
	st.roMeta[mt] = true
	return proxy
}

// isReadOnly reports whether t is one of this state's proxies.
func (st *state) isReadOnly(t *glua.LTable) bool {
	mt, ok := t.Metatable.(*glua.LTable)
	return ok && st.roMeta[mt]
}

// run executes the script in a fresh environment and returns that environment.
func (st *state) run(ctx context.Context, call *Call) (*glua.LTable, error) {
	L := st.L
	env := L.CreateTable(0, 8)
	env.Metatable = st.envMetaHook
	if call.Kind == KindAuthenticator {
		env.Metatable = st.envMetaAuth
	}
	env.RawSetString("_G", env)
	st.fillEnv(env, call)

	fn := L.NewFunctionFromProto(call.Script.proto)
	fn.Env = env
	L.SetContext(ctx)
	L.Push(fn)
	err := L.PCall(0, 0, nil)
	L.RemoveContext()
	L.SetTop(0)
	return env, err
}

func (st *state) fillEnv(env *glua.LTable, call *Call) {
	L := st.L
	// payload
	if call.PayloadForm != nil {
		t := L.CreateTable(0, len(call.PayloadForm))
		for k, v := range call.PayloadForm {
			t.RawSetString(k, glua.LString(v))
		}
		env.RawSetString("payload", t)
	} else {
		v, err := st.decodeJSON(call.Payload)
		if err != nil || v == glua.LNil {
			v = L.CreateTable(0, 0)
		}
		env.RawSetString("payload", v)
	}
	// headers
	h := L.CreateTable(0, len(call.Headers))
	for k, vs := range call.Headers {
		switch len(vs) {
		case 0:
		case 1:
			h.RawSetString(textproto.CanonicalMIMEHeaderKey(k), glua.LString(vs[0]))
		default:
			h.RawSetString(textproto.CanonicalMIMEHeaderKey(k), glua.LString(strings.Join(vs, ", ")))
		}
	}
	h.Metatable = st.hdrMeta
	env.RawSetString("headers", h)
	env.RawSetString("raw_data", glua.LString(call.RawData))
	// request
	r := call.Request
	rt := L.CreateTable(0, 6)
	rt.RawSetString("method", glua.LString(r.Method))
	rt.RawSetString("path", glua.LString(r.Path))
	rt.RawSetString("endpoint", glua.LString(r.Endpoint))
	rt.RawSetString("query", glua.LString(r.Query))
	rt.RawSetString("remote_addr", glua.LString(r.RemoteAddr))
	rt.RawSetString("id", glua.LString(r.ID))
	env.RawSetString("request", rt)
	// webhook / authenticator
	wt := L.CreateTable(0, 2+len(call.Info))
	for k, v := range call.Info {
		wt.RawSetString(k, glua.LString(v))
	}
	wt.RawSetString("reference", glua.LString(call.Reference))
	wt.RawSetString("name", glua.LString(call.Name))
	res := L.CreateTable(0, 4)
	if call.Kind == KindAuthenticator {
		env.RawSetString("authenticator", wt)
		res.RawSetString("allowed", glua.LFalse)
	} else {
		env.RawSetString("webhook", wt)
		res.RawSetString("exit_code", glua.LNumber(0))
	}
	env.RawSetString("result", res)
}

// headerIndex is headers' __index: a case-insensitive lookup.
func headerIndex(L *glua.LState) int {
	t := L.CheckTable(1)
	k, ok := L.Get(2).(glua.LString)
	if !ok {
		L.Push(glua.LNil)
		return 1
	}
	if v := t.RawGetString(textproto.CanonicalMIMEHeaderKey(string(k))); v != glua.LNil {
		L.Push(v)
		return 1
	}
	var found glua.LValue = glua.LNil
	t.ForEach(func(key, v glua.LValue) {
		if ks, ok := key.(glua.LString); ok && found == glua.LNil && strings.EqualFold(string(ks), string(k)) {
			found = v
		}
	})
	L.Push(found)
	return 1
}
