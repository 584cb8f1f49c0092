package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// Globals removed from the base library: they load code, reach the file
// system, change environments or leak process state.
var removedGlobals = []string{
	"dofile", "loadfile", "load", "loadstring", "require", "module",
	"getfenv", "setfenv", "newproxy", "collectgarbage", "print", "_printregs",
	"_G", "module", "package",
}

// openSandbox builds the sandbox globals and the env metatables.
// Available: base (minus removedGlobals), string, table, math (minus
// randomseed), the helper modules, and for webhooks the capability modules.
// Not available: os, io, debug, package, channel, coroutine.
func (st *state) openSandbox() {
	L := st.L
	for _, lib := range []struct {
		name string
		fn   glua.LGFunction
	}{
		{glua.BaseLibName, glua.OpenBase},
		{glua.TabLibName, glua.OpenTable},
		{glua.StringLibName, glua.OpenString},
		{glua.MathLibName, glua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	raw := L.G.Global
	g := L.CreateTable(0, 48)
	raw.ForEach(func(k, v glua.LValue) { g.RawSet(k, v) })
	for _, name := range removedGlobals {
		g.RawSetString(name, glua.LNil)
	}
	g.RawSetString("setmetatable", L.NewFunction(st.luaSetMetatable))
	g.RawSetString("rawset", L.NewFunction(st.luaRawSet))
	// tostring of a string is the string itself (the protected string
	// metatable has no __tostring): returned as the same value instead of
	// gopher-lua's new copy, the rest as before.
	baseToString := raw.RawGetString("tostring").(*glua.LFunction).GFunction
	g.RawSetString("tostring", L.NewFunction(func(L *glua.LState) int {
		if v := L.Get(1); v.Type() == glua.LTString {
			L.Push(v)
			return 1
		}
		return baseToString(L)
	}))

	// pairs and next see the headers proxy as the plain table of all headers.
	next := raw.RawGetString("next").(*glua.LFunction)
	baseNext := next.GFunction
	g.RawSetString("pairs", L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		if st.isHeaders(t) {
			t = st.headersFull()
		}
		L.Push(next)
		L.Push(t)
		L.Push(glua.LNil)
		return 3
	}))
	g.RawSetString("next", L.NewFunction(func(L *glua.LState) int {
		if t := L.CheckTable(1); st.isHeaders(t) {
			L.Replace(1, st.headersFull())
		}
		return baseNext(L)
	}))

	// string: wrapped copy; the string metatable points at it and is protected.
	realStr := raw.RawGetString("string").(*glua.LTable)
	str := st.openSafeString(realStr)
	strMeta := L.CreateTable(0, 2)
	strMeta.RawSetString("__index", str)
	L.SetMetatable(glua.LString(""), st.protect(strMeta))
	g.RawSetString("string", st.readOnly(str))

	// table: raw mutators refuse the read-only proxies; concat is size-capped.
	g.RawSetString("table", st.readOnly(st.openSafeTable(raw.RawGetString("table").(*glua.LTable))))

	// math: no randomseed (it would reseed the process-wide source).
	math := copyTable(L, raw.RawGetString("math").(*glua.LTable))
	math.RawSetString("randomseed", glua.LNil)
	g.RawSetString("math", st.readOnly(math))

	// Helper modules.
	g.RawSetString("json", st.readOnly(st.openJSON()))
	g.RawSetString("hmac", st.readOnly(st.openHMAC()))
	g.RawSetString("hashlib", st.readOnly(st.openHashlib()))
	g.RawSetString("base64", st.readOnly(st.openBase64()))
	g.RawSetString("binascii", st.readOnly(st.openBinascii()))
	g.RawSetString("re", st.readOnly(st.openRe()))
	g.RawSetString("time", st.readOnly(st.openTime()))
	g.RawSetString("urllib_parse", st.readOnly(st.openURLLib()))
	logger := st.readOnly(st.openLogger())
	g.RawSetString("_logger", logger)
	g.RawSetString("log", logger)

	// Webhooks also get the capability modules; authenticators never do:
	// authentication must be side-effect free and fast.
	hook := copyTable(L, g)
	if st.e.proc != nil {
		hook.RawSetString("subprocess", st.readOnly(st.openSubprocess()))
	}
	if st.e.http != nil {
		hook.RawSetString("requests", st.readOnly(st.openRequests()))
	}

	// Names the sandbox does not have fall through to lazyIndex, which
	// builds the call's variables on first access.
	gMeta := L.CreateTable(0, 2)
	gMeta.RawSetString("__index", L.NewFunction(st.lazyIndex))
	st.protect(gMeta)
	g.Metatable = gMeta
	hook.Metatable = gMeta

	st.globals = g
	st.envMetaAuth = st.envMetaFor(g)
	st.envMetaHook = st.envMetaFor(hook)
	st.hdrMeta = L.CreateTable(0, 3)
	st.hdrMeta.RawSetString("__index", L.NewFunction(st.headerIndex))
	st.hdrMeta.RawSetString("__newindex", L.NewFunction(raiseReadOnly))
	st.protect(st.hdrMeta)
	st.roMeta[st.hdrMeta] = true
	st.ciMeta = L.CreateTable(0, 2)
	st.ciMeta.RawSetString("__index", L.NewFunction(tableHeaderIndex))
	st.protect(st.ciMeta)

	// Drop the real globals' contents so nothing but the sandbox remains.
	var keys []glua.LValue
	raw.ForEach(func(k, _ glua.LValue) { keys = append(keys, k) })
	for _, k := range keys {
		raw.RawSet(k, glua.LNil)
	}
}

func (st *state) envMetaFor(g *glua.LTable) *glua.LTable {
	mt := st.L.CreateTable(0, 3)
	mt.RawSetString("__index", g)
	mt.RawSetString("__newindex", st.L.NewFunction(st.envSet))
	return st.protect(mt)
}

func copyTable(L *glua.LState, t *glua.LTable) *glua.LTable {
	c := L.CreateTable(0, 32)
	t.ForEach(func(k, v glua.LValue) { c.RawSet(k, v) })
	return c
}

// luaSetMetatable is Lua 5.1's setmetatable: tables only, protected
// metatables stay. (gopher-lua's accepts any value and would change the
// state-wide metatable of numbers, booleans or functions.)
func (st *state) luaSetMetatable(L *glua.LState) int {
	t := L.CheckTable(1)
	L.CheckTypes(2, glua.LTNil, glua.LTTable)
	if mt, ok := t.Metatable.(*glua.LTable); ok && mt.RawGetString("__metatable") != glua.LNil {
		L.RaiseError("cannot change a protected metatable")
	}
	t.Metatable = L.Get(2)
	L.SetTop(1)
	return 1
}

func (st *state) luaRawSet(L *glua.LState) int {
	t := L.CheckTable(1)
	if st.isReadOnly(t) {
		L.RaiseError("attempt to modify read-only table")
	}
	k := L.CheckAny(2)
	if k == glua.LNil {
		L.ArgError(2, "table index is nil")
	}
	t.RawSet(k, L.CheckAny(3))
	L.SetTop(1)
	return 1
}

func (st *state) openSafeTable(real *glua.LTable) *glua.LTable {
	L := st.L
	t := copyTable(L, real)
	for _, name := range []string{"insert", "remove", "sort"} {
		orig := real.RawGetString(name).(*glua.LFunction).GFunction
		t.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			if st.isReadOnly(L.CheckTable(1)) {
				L.RaiseError("attempt to modify read-only table")
			}
			return orig(L)
		}))
	}
	concat := real.RawGetString("concat").(*glua.LFunction).GFunction
	t.RawSetString("concat", L.NewFunction(func(L *glua.LState) int {
		tb := L.CheckTable(1)
		sep := len(L.OptString(2, ""))
		i := L.OptInt(3, 1)
		j := L.OptInt(4, tb.Len())
		total := 0
		for k := i; k <= j; k++ {
			switch v := tb.RawGetInt(k).(type) {
			case glua.LString:
				total += len(v) + sep
			default:
				total += 24 + sep
			}
			if total > MaxStringSize {
				L.RaiseError("resulting string too large")
			}
		}
		return concat(L)
	}))
	return t
}
