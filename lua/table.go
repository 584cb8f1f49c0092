package lua

import (
	"reflect"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
)

// Fast table construction.
//
// gopher-lua's LTable.RawSetString keeps three structures per string key (a
// map to the value, a key slice and a key->index map for next) and grows
// them one insertion at a time, boxing the key twice. For tables the runtime
// builds itself (decoded JSON objects) and for the per-state environment
// that is cleared and reused between calls, it pays to reach those fields
// directly. tableLayout mirrors LTable field for field; layoutMatches checks
// the mirror against the real type with reflect once per Engine, and the
// runtime falls back to the public API when they differ (another
// gopher-lua version), so a layout change costs speed, never correctness.

// tableLayout mirrors gopher-lua v1.1.2's LTable.
type tableLayout struct {
	Metatable glua.LValue
	array     []glua.LValue
	dict      map[glua.LValue]glua.LValue
	strdict   map[string]glua.LValue
	keys      []glua.LValue
	k2i       map[glua.LValue]int
}

// layoutMatches reports whether tableLayout has exactly LTable's fields.
func layoutMatches() bool {
	real, mirror := reflect.TypeOf(glua.LTable{}), reflect.TypeOf(tableLayout{})
	if real.Size() != mirror.Size() || real.NumField() != mirror.NumField() {
		return false
	}
	for i := 0; i < real.NumField(); i++ {
		a, b := real.Field(i), mirror.Field(i)
		if a.Name != b.Name || a.Type != b.Type || a.Offset != b.Offset {
			return false
		}
	}
	return true
}

func layoutOf(t *glua.LTable) *tableLayout { return (*tableLayout)(unsafe.Pointer(t)) }

// newStringTable returns a table holding ms (later duplicates win), built
// with exact sizes. Keys and pending string values (v == nil) are boxed
// from one slab; a small table, its key slice and its slab are one
// allocation (tableBlock).
func newStringTable(ms []jsonMember, tab unsafe.Pointer) *glua.LTable {
	n := len(ms)
	t, keys, strs := tableBlock(n, n+pendingStrings(ms))
	lt := layoutOf(t)
	var sl stringSlab
	sl.tab = tab
	sl.use(strs)
	lt.strdict = make(map[string]glua.LValue, n)
	lt.keys = keys
	lt.k2i = make(map[glua.LValue]int, n)
	for i := range ms {
		k, v := ms[i].k, ms[i].v
		if v == nil {
			v = sl.box(ms[i].s)
		}
		if lt.strdict[k] = v; len(lt.strdict) == len(lt.keys) {
			continue // a duplicate key: the value is replaced, the key is indexed
		}
		lk := sl.box(k) // boxed once for keys and k2i
		lt.k2i[lk] = len(lt.keys)
		lt.keys = append(lt.keys, lk)
	}
	return t
}

// The blocks of tableBlock: a table with room for N keys (or array
// elements) and 2N boxed strings.
type (
	tableBlock2 struct {
		t    glua.LTable
		keys [2]glua.LValue
		strs [4]glua.LString
	}
	tableBlock4 struct {
		t    glua.LTable
		keys [4]glua.LValue
		strs [8]glua.LString
	}
	tableBlock8 struct {
		t    glua.LTable
		keys [8]glua.LValue
		strs [16]glua.LString
	}
)

// tableBlock returns a new empty table (no metatable), an empty slice with
// room for n keys or elements and an empty slab with room for m strings.
// For small n and m the three share one allocation: a decoded JSON object
// has a handful of members, and each allocation costs more than its bytes.
// Appending beyond the slice's room moves the keys out of the block, as
// any append does; the block stays alive as long as any part of it is.
func tableBlock(n, m int) (*glua.LTable, []glua.LValue, []glua.LString) {
	switch {
	case n <= 2 && m <= 4:
		b := &tableBlock2{t: glua.LTable{Metatable: glua.LNil}}
		return &b.t, b.keys[:0], b.strs[:0]
	case n <= 4 && m <= 8:
		b := &tableBlock4{t: glua.LTable{Metatable: glua.LNil}}
		return &b.t, b.keys[:0], b.strs[:0]
	case n <= 8 && m <= 16:
		b := &tableBlock8{t: glua.LTable{Metatable: glua.LNil}}
		return &b.t, b.keys[:0], b.strs[:0]
	}
	var strs []glua.LString
	if m > 1 {
		strs = make([]glua.LString, 0, m)
	}
	return &glua.LTable{Metatable: glua.LNil}, make([]glua.LValue, 0, n), strs
}

// newSeedTable returns {[k] = v} (k a boxed LString) with room for n keys.
func newSeedTable(k, v glua.LValue, n int) *glua.LTable {
	t := &glua.LTable{Metatable: glua.LNil}
	lt := layoutOf(t)
	lt.strdict = make(map[string]glua.LValue, n)
	lt.keys = make([]glua.LValue, 1, n)
	lt.k2i = make(map[glua.LValue]int, n)
	lt.strdict[string(k.(glua.LString))] = v
	lt.keys[0] = k
	lt.k2i[k] = 0
	return t
}

// newArrayTable returns the table {ms[0].v, ms[1].v, ...}; pending string
// values (v == nil) are boxed from one slab, which a small table shares
// with its element slice (tableBlock).
func newArrayTable(ms []jsonMember, tab unsafe.Pointer) *glua.LTable {
	t, arr, strs := tableBlock(len(ms), pendingStrings(ms))
	var sl stringSlab
	sl.tab = tab
	sl.use(strs)
	arr = arr[:len(ms)]
	for i := range ms {
		if arr[i] = ms[i].v; arr[i] == nil {
			arr[i] = sl.box(ms[i].s)
		}
	}
	layoutOf(t).array = arr
	return t
}

func pendingStrings(ms []jsonMember) int {
	n := 0
	for i := range ms {
		if ms[i].v == nil {
			n++
		}
	}
	return n
}

// envReuseMaxKeys bounds the keys an environment may have held (including
// keys set to nil, which gopher-lua never forgets) to be reused.
const envReuseMaxKeys = 32

// resetEnv empties env, keeping its allocated maps, and reports whether it
// can serve the next call: false when it held non-string keys or too many
// names (then a fresh table is used). After a reset the table is
// indistinguishable from a new one with no metatable.
func resetEnv(env *glua.LTable) bool {
	lt := layoutOf(env)
	if lt.array != nil || lt.dict != nil || len(lt.keys) > envReuseMaxKeys {
		return false
	}
	clear(lt.strdict)
	clear(lt.k2i)
	clear(lt.keys)
	lt.keys = lt.keys[:0]
	lt.Metatable = glua.LNil
	return true
}

// setStringKey is env.RawSetString(string(k), v) for a key that is already
// boxed (k is an LString): the boxed value is stored in the key index as is,
// so the store allocates nothing once the table's maps have room.
func (st *state) setStringKey(t *glua.LTable, k glua.LValue, v glua.LValue) {
	ks := string(k.(glua.LString))
	if !st.e.fastTables {
		t.RawSetString(ks, v)
		return
	}
	lt := layoutOf(t)
	if v == glua.LNil {
		if lt.strdict != nil {
			delete(lt.strdict, ks)
		}
		return
	}
	if lt.strdict == nil {
		lt.strdict = make(map[string]glua.LValue, 8)
	}
	if lt.keys == nil || lt.k2i == nil {
		lt.keys = make([]glua.LValue, 0, 8)
		lt.k2i = make(map[glua.LValue]int, 8)
	}
	lt.strdict[ks] = v
	if _, ok := lt.k2i[k]; !ok {
		lt.k2i[k] = len(lt.keys)
		lt.keys = append(lt.keys, k)
	}
}

// Batched boxing.
//
// Storing a string in a Lua table boxes it: converting an LString to the
// LValue interface allocates 16 bytes for the string header. A decoded JSON
// document holds dozens of keys and strings, so the decoder writes the
// headers into a slab (one allocation for many) and builds each interface
// value from the LString itab and a pointer to its slab element, exactly
// what the compiler's conversion produces, minus the allocation. A slab
// element is written once, before its interface exists, and never again;
// the garbage collector keeps a slab alive through any interior pointer.

// iface is the runtime layout of a non-empty interface value.
type iface struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

// lstringTab returns the itab of (LValue, LString), or nil if an LValue
// does not have the two-word layout that boxAt relies on.
func lstringTab() unsafe.Pointer {
	var v glua.LValue = glua.LString("probe")
	if unsafe.Sizeof(v) != unsafe.Sizeof(iface{}) {
		return nil
	}
	w := (*iface)(unsafe.Pointer(&v))
	if *(*glua.LString)(w.data) != "probe" {
		return nil
	}
	return w.tab
}

// stringSlab boxes a known number of strings with one allocation.
type stringSlab struct {
	tab   unsafe.Pointer // nil: box one by one
	chunk []glua.LString
}

// reset prepares sl for n strings.
func (sl *stringSlab) reset(n int) {
	if sl.tab != nil && n > 1 {
		sl.chunk = make([]glua.LString, 0, n)
	} else {
		sl.chunk = nil
	}
}

// use makes chunk (empty, with room) the slab; with no itab the strings
// are boxed one by one instead.
func (sl *stringSlab) use(chunk []glua.LString) {
	if sl.tab != nil {
		sl.chunk = chunk
	} else {
		sl.chunk = nil
	}
}

// box returns s as an LValue, from the slab while it has room.
func (sl *stringSlab) box(s string) glua.LValue {
	if len(sl.chunk) == cap(sl.chunk) {
		return glua.LString(s)
	}
	sl.chunk = append(sl.chunk, glua.LString(s))
	var v glua.LValue
	*(*iface)(unsafe.Pointer(&v)) = iface{tab: sl.tab, data: unsafe.Pointer(&sl.chunk[len(sl.chunk)-1])}
	return v
}
