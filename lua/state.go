package lua

import (
	"context"
	"net/textproto"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// lazyVar identifies a per-call variable that is built on first access.
type lazyVar uint8

const (
	lazyPayload lazyVar = 1 << iota
	lazyHeaders
	lazyRawData
	lazyRequest
	lazyInfo // webhook or authenticator, by kind
	lazyResult
	lazyG
)

// callState is what Go helpers need to know about the running call.
type callState struct {
	ctx  context.Context
	call *Call
	res  *Result
	// env is the call's global environment.
	env *glua.LTable
	// done marks the variables materialised in env or assigned by the code:
	// they are never built (again) by the sandbox's __index.
	done lazyVar
	// raw is raw_data as a Lua string, converted once and shared with the
	// payload decoder when Payload and RawData are the same bytes.
	raw     glua.LValue
	hdrFull *glua.LTable // headers as a plain table, built for pairs/next/json
	macUsed bool         // state.mac was handed out (or replaced) in this call
}

// state is one sandboxed LState plus the immutable objects shared by every
// call that runs on it. A state is used by one goroutine at a time.
type state struct {
	e           *Engine
	L           *glua.LState
	globals     *glua.LTable // the sandbox globals; never reachable from Lua
	envMetaAuth *glua.LTable // {__index = globals, __newindex = envSet, __metatable = false}
	envMetaHook *glua.LTable // the same over globals + capability modules
	hdrMeta     *glua.LTable // the headers proxy: case-insensitive lookup in the Go header
	ciMeta      *glua.LTable // plain header tables (requests responses): case-insensitive lookup
	roMeta      map[*glua.LTable]bool
	null        *glua.LUserData // json.null
	arrMeta     *glua.LTable    // marks empty JSON arrays so they dump as []
	hashFns     map[*glua.LFunction]string
	hashMt      *glua.LTable    // hmac/hashlib object methods
	matchMt     *glua.LTable    // re match object methods
	buf         []byte          // scratch for digests (never escapes a Go helper)
	jstack      []jsonMember    // scratch stack of the JSON decoder
	env         *glua.LTable    // an emptied environment for the next call (nil: create one)
	ctx         *callCtx        // the context of every call on this state
	mac         *hashObj        // the first HMAC of the last call, reused by hmacFor
	macUD       *glua.LUserData // mac as a Lua value, reused with it (wrapHash)
	keyAllowed  glua.LValue     // "allowed", boxed once
	keyExitCode glua.LValue     // "exit_code", boxed once
	// chunks holds the main function of each script run on this state
	// (at most maxStateChunks): a chunk's function is never reachable from
	// Lua (no debug library), so one object serves every call, its
	// environment set per call and dropped after it.
	chunks map[*glua.FunctionProto]*glua.LFunction
	cur    callState
}

// maxStateChunks bounds the chunk functions a state keeps.
const maxStateChunks = 256

func (e *Engine) newState() *state {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       callStackSize,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		RegistryGrowStep:    registryGrow,
		IncludeGoStackTrace: false,
	})
	st := &state{e: e, L: L, ctx: newCallCtx(), roMeta: map[*glua.LTable]bool{}, hashFns: map[*glua.LFunction]string{},
		keyAllowed: glua.LString("allowed"), keyExitCode: glua.LString("exit_code")}
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
	mt.RawSetString("__newindex", L.NewFunction(raiseReadOnly))
	st.protect(mt)
	proxy := L.CreateTable(0, 0)
	proxy.Metatable = mt
	st.roMeta[mt] = true
	return proxy
}

func raiseReadOnly(L *glua.LState) int {
	L.RaiseError("attempt to modify read-only table")
	return 0
}

// isReadOnly reports whether t is one of this state's proxies.
func (st *state) isReadOnly(t *glua.LTable) bool {
	mt, ok := t.Metatable.(*glua.LTable)
	return ok && st.roMeta[mt]
}

// run executes the script in a fresh environment and returns that environment.
//
// The environment starts empty: its __index is the read-only sandbox, whose
// own __index (lazyIndex) builds payload, headers, raw_data, request,
// webhook/authenticator, result and _G from the current call on first
// access and stores them in the environment. A script that never reads
// payload never decodes it.
func (st *state) run(ctx context.Context, call *Call) (*glua.LTable, error) {
	L := st.L
	env := st.env
	st.env = nil
	if env == nil {
		env = L.CreateTable(0, 8)
	}
	env.Metatable = st.envMetaHook
	if call.Kind == KindAuthenticator {
		env.Metatable = st.envMetaAuth
	}
	st.cur.env = env

	fn := st.chunk(call.Script.proto)
	fn.Env = env
	L.SetContext(ctx)
	L.Push(fn)
	err := L.PCall(0, 0, nil)
	L.RemoveContext()
	L.SetTop(0)
	fn.Env = nil // the call's environment is not kept alive by the cache
	return env, err
}

// chunk returns the function of the main chunk proto, made once per state.
func (st *state) chunk(proto *glua.FunctionProto) *glua.LFunction {
	if fn := st.chunks[proto]; fn != nil {
		return fn
	}
	fn := st.L.NewFunctionFromProto(proto)
	if st.chunks == nil {
		st.chunks = map[*glua.FunctionProto]*glua.LFunction{}
	}
	if len(st.chunks) < maxStateChunks {
		st.chunks[proto] = fn
	}
	return fn
}

// lazyVarOf returns the lazy variable called name for kind (0: none).
func lazyVarOf(name string, kind Kind) lazyVar {
	switch name {
	case "payload":
		return lazyPayload
	case "headers":
		return lazyHeaders
	case "raw_data":
		return lazyRawData
	case "request":
		return lazyRequest
	case "result":
		return lazyResult
	case "_G":
		return lazyG
	case "webhook":
		if kind == KindWebhook {
			return lazyInfo
		}
	case "authenticator":
		if kind == KindAuthenticator {
			return lazyInfo
		}
	}
	return 0
}

// lazyIndex is the sandbox globals' __index: reached only for names the
// sandbox does not have, it materialises the current call's variables.
func (st *state) lazyIndex(L *glua.LState) int {
	key := L.Get(2)
	k, ok := key.(glua.LString)
	cs := &st.cur
	if !ok || cs.env == nil || cs.call == nil {
		L.Push(glua.LNil)
		return 1
	}
	v := lazyVarOf(string(k), cs.call.Kind)
	if v == 0 || cs.done&v != 0 {
		L.Push(glua.LNil)
		return 1
	}
	cs.done |= v
	val := st.build(v)
	st.setStringKey(cs.env, key, val)
	L.Push(val)
	return 1
}

// envSet is the environment's __newindex (the key is not in the
// environment): a lazy variable assigned before it was read is never built.
func (st *state) envSet(L *glua.LState) int {
	t := L.CheckTable(1)
	k, v := L.Get(2), L.Get(3)
	switch x := k.(type) {
	case glua.LString:
		if st.cur.call != nil {
			st.cur.done |= lazyVarOf(string(x), st.cur.call.Kind)
		}
		if v != glua.LNil {
			st.setStringKey(t, k, v)
		}
		return 0
	case *glua.LNilType:
		L.RaiseError("table index is nil")
	}
	if v != glua.LNil {
		t.RawSet(k, v)
	}
	return 0
}

// build returns the value of one lazy variable for the current call.
func (st *state) build(v lazyVar) glua.LValue {
	L, cs := st.L, &st.cur
	call := cs.call
	switch v {
	case lazyPayload:
		if call.PayloadForm != nil {
			t := L.CreateTable(0, len(call.PayloadForm))
			for k, v := range call.PayloadForm {
				t.RawSetString(k, glua.LString(v))
			}
			return t
		}
		var val glua.LValue
		var err error
		if call.Script.projected {
			val, err = st.decodeJSONProjected(call.Payload, call.Script.payloadKeys)
		} else {
			val, err = st.decodeJSONString(call.Payload)
		}
		if err != nil || val == glua.LNil {
			val = L.CreateTable(0, 0)
		}
		return val
	case lazyHeaders:
		h := L.CreateTable(0, 0)
		h.Metatable = st.hdrMeta
		return h
	case lazyRawData:
		return st.rawData()
	case lazyRequest:
		r := &call.Request
		rt := L.CreateTable(0, 8)
		rt.RawSetString("method", glua.LString(r.Method))
		rt.RawSetString("path", glua.LString(r.Path))
		rt.RawSetString("endpoint", glua.LString(r.Endpoint))
		rt.RawSetString("query", glua.LString(r.Query))
		rt.RawSetString("remote_addr", glua.LString(r.RemoteAddr))
		rt.RawSetString("id", glua.LString(r.ID))
		rt.RawSetString("attempt", glua.LNumber(max(r.Attempt, 1)))
		if r.Job != "" {
			rt.RawSetString("job", glua.LString(r.Job))
		}
		return rt
	case lazyInfo:
		wt := L.CreateTable(0, 2+len(call.Info))
		for k, v := range call.Info {
			wt.RawSetString(k, glua.LString(v))
		}
		wt.RawSetString("reference", glua.LString(call.Reference))
		wt.RawSetString("name", glua.LString(call.Name))
		return wt
	case lazyResult:
		k, v := st.keyExitCode, glua.LValue(glua.LNumber(0))
		if call.Kind == KindAuthenticator {
			k, v = st.keyAllowed, glua.LFalse
		}
		if st.e.fastTables {
			// Room for the usual fields (message, http_code, ...) without growth.
			return newSeedTable(k, v, 4)
		}
		res := L.CreateTable(0, 4)
		res.RawSetString(string(k.(glua.LString)), v)
		return res
	case lazyG:
		return cs.env
	}
	return glua.LNil
}

// rawData returns raw_data as a Lua string, converting the bytes once per call.
func (st *state) rawData() glua.LValue {
	if st.cur.raw == nil {
		st.cur.raw = glua.LString(st.cur.call.RawData)
	}
	return st.cur.raw
}

// headerIndex is the headers proxy's __index: a case-insensitive lookup
// straight in the call's http.Header (repeated headers joined with ", ").
func (st *state) headerIndex(L *glua.LState) int {
	k, ok := L.Get(2).(glua.LString)
	if !ok || st.cur.call == nil {
		L.Push(glua.LNil)
		return 1
	}
	vs := lookupHeader(st.cur.call.Headers, string(k))
	switch len(vs) {
	case 0:
		L.Push(glua.LNil)
	case 1:
		L.Push(glua.LString(vs[0]))
	default:
		L.Push(glua.LString(strings.Join(vs, ", ")))
	}
	return 1
}

func lookupHeader(h map[string][]string, k string) []string {
	if vs, ok := h[k]; ok {
		return vs
	}
	if vs, ok := h[textproto.CanonicalMIMEHeaderKey(k)]; ok {
		return vs
	}
	for hk, vs := range h {
		if strings.EqualFold(hk, k) {
			return vs
		}
	}
	return nil
}

// isHeaders reports whether t is the headers proxy.
func (st *state) isHeaders(t *glua.LTable) bool {
	return t.Metatable == st.hdrMeta && st.hdrMeta != nil
}

// headersFull returns the call's headers as a plain table (canonical names),
// built once per call; pairs, next and json.dumps use it for the proxy.
func (st *state) headersFull() *glua.LTable {
	cs := &st.cur
	if cs.hdrFull != nil {
		return cs.hdrFull
	}
	var h map[string][]string
	if cs.call != nil {
		h = cs.call.Headers
	}
	t := st.L.CreateTable(0, len(h))
	for k, vs := range h {
		switch len(vs) {
		case 0:
		case 1:
			t.RawSetString(textproto.CanonicalMIMEHeaderKey(k), glua.LString(vs[0]))
		default:
			t.RawSetString(textproto.CanonicalMIMEHeaderKey(k), glua.LString(strings.Join(vs, ", ")))
		}
	}
	cs.hdrFull = t
	return t
}

// tableHeaderIndex is the __index of plain header tables (ciMeta): a
// case-insensitive lookup among the table's own keys.
func tableHeaderIndex(L *glua.LState) int {
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
