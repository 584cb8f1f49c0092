package lua

import (
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// openJSON builds the json module: dumps/encode(v[, indent]), loads/decode(s), null.
func (st *state) openJSON() *glua.LTable {
	L := st.L
	st.null = L.NewUserData()
	nullMeta := L.CreateTable(0, 2)
	nullMeta.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString("null"))
		return 1
	}))
	st.null.Metatable = st.protect(nullMeta)
	st.arrMeta = st.protect(L.CreateTable(0, 1))

	dumps := L.NewFunction(func(L *glua.LState) int {
		v := L.CheckAny(1)
		indent := ""
		switch o := L.Get(2).(type) {
		case glua.LNumber:
			indent = strings.Repeat(" ", clampInt(int(o), 0, 16))
		case glua.LString:
			if len(o) <= 16 {
				indent = string(o)
			}
		case *glua.LTable:
			switch i := o.RawGetString("indent").(type) {
			case glua.LNumber:
				indent = strings.Repeat(" ", clampInt(int(i), 0, 16))
			case glua.LString:
				if len(i) <= 16 {
					indent = string(i)
				}
			}
		}
		b, err := st.encodeJSON(v, indent)
		if err != nil {
			L.RaiseError("json.dumps: %s", err.Error())
		}
		L.Push(glua.LString(b))
		return 1
	})
	loads := L.NewFunction(func(L *glua.LState) int {
		s := L.CheckString(1)
		if strings.TrimSpace(s) == "" {
			L.RaiseError("json.loads: expecting value at char 0")
		}
		v, err := st.decodeJSONString(s)
		if err != nil {
			L.RaiseError("json.loads: %s", err.Error())
		}
		L.Push(v)
		return 1
	})
	t := L.CreateTable(0, 6)
	t.RawSetString("dumps", dumps)
	t.RawSetString("encode", dumps)
	t.RawSetString("loads", loads)
	t.RawSetString("decode", loads)
	t.RawSetString("null", st.null)
	return t
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
