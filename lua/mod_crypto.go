package lua

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"slices"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// hashNames maps Python hashlib names to constructors.
var hashNames = map[string]func() hash.Hash{
	"md5":      md5.New,
	"sha1":     sha1.New,
	"sha224":   sha256.New224,
	"sha256":   sha256.New,
	"sha384":   sha512.New384,
	"sha512":   sha512.New,
	"sha3_256": func() hash.Hash { return sha3.New256() },
	"sha3_512": func() hash.Hash { return sha3.New512() },
}

// hashObj is the userdata behind hmac/hashlib objects.
type hashObj struct {
	h    hash.Hash
	name string
	// mk rebuilds an equivalent fresh hash, for copy().
	key string
	mac bool
}

func (st *state) hashMeta() *glua.LTable {
	L := st.L
	if st.hashMt != nil {
		return st.hashMt
	}
	check := func(L *glua.LState) *hashObj {
		ud := L.CheckUserData(1)
		o, ok := ud.Value.(*hashObj)
		if !ok {
			L.ArgError(1, "hash object expected")
		}
		return o
	}
	methods := L.CreateTable(0, 6)
	methods.RawSetString("hexdigest", L.NewFunction(func(L *glua.LState) int {
		// Sum and hex-encode into the state's scratch buffer: one string
		// allocation. Sum does not retain the slice it appends to.
		b := check(L).h.Sum(st.buf[:0])
		n := len(b)
		b = slices.Grow(b, 2*n)[:3*n]
		hex.Encode(b[n:], b[:n])
		st.buf = b[:0]
		L.Push(glua.LString(b[n:]))
		return 1
	}))
	methods.RawSetString("digest", L.NewFunction(func(L *glua.LState) int {
		b := check(L).h.Sum(st.buf[:0])
		st.buf = b[:0]
		L.Push(glua.LString(b))
		return 1
	}))
	methods.RawSetString("update", L.NewFunction(func(L *glua.LState) int {
		o := check(L)
		o.h.Write(bytesOf(L.CheckString(2)))
		return 0
	}))
	methods.RawSetString("copy", L.NewFunction(func(L *glua.LState) int {
		o := check(L)
		// Hashes in the standard library implement encoding.BinaryMarshaler.
		n := st.newHashObj(o.name, o.key, o.mac)
		if m, ok := o.h.(interface{ MarshalBinary() ([]byte, error) }); ok {
			if u, ok2 := n.h.(interface{ UnmarshalBinary([]byte) error }); ok2 {
				if b, err := m.MarshalBinary(); err == nil && u.UnmarshalBinary(b) == nil {
					L.Push(st.wrapHash(n))
					return 1
				}
			}
		}
		L.RaiseError("copy is not supported for this hash")
		return 0
	}))
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", methods)
	st.protect(mt)
	st.hashMt = mt
	return mt
}

func (st *state) newHashObj(name string, key string, mac bool) *hashObj {
	mk := hashNames[name]
	if mac {
		// hmac.New only reads the key (it copies it into its pads), so the
		// Lua string's bytes are passed without a copy.
		return &hashObj{h: hmac.New(mk, bytesOf(key)), name: name, key: key, mac: true}
	}
	return &hashObj{h: mk(), name: name}
}

// hmacFor returns a fresh HMAC object. The state keeps its first HMAC of
// each call and, when the next call asks for the same digest and key
// (an authenticator checking a signature), resets and returns it instead of
// deriving the pads again. Objects handed out earlier in the same call are
// never reused; those of earlier calls are unreachable from Lua.
func (st *state) hmacFor(name, key string) *hashObj {
	if c := st.mac; c != nil && !st.cur.macUsed && c.name == name && c.key == key {
		st.cur.macUsed = true
		c.h.Reset()
		return c
	}
	o := st.newHashObj(name, key, true)
	if !st.cur.macUsed {
		st.cur.macUsed = true
		st.mac = o
	}
	return o
}

// wrapHash returns o as a Lua value. The state's reused HMAC (hmacFor)
// keeps its userdata too: like the object, it is handed out at most once
// per call and unreachable from Lua after the call that had it.
func (st *state) wrapHash(o *hashObj) *glua.LUserData {
	if o == st.mac && st.macUD != nil && st.macUD.Value == o {
		return st.macUD
	}
	ud := st.L.NewUserData()
	ud.Value = o
	ud.Metatable = st.hashMeta()
	if o == st.mac {
		st.macUD = ud
	}
	return ud
}

// digestName resolves a digest argument: a name ("sha256") or a hashlib constructor.
func (st *state) digestName(L *glua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case glua.LString:
		name := strings.ToLower(strings.ReplaceAll(string(v), "-", "_"))
		if _, ok := hashNames[name]; ok {
			return name
		}
		L.RaiseError("unsupported hash type %s", string(v))
	case *glua.LFunction:
		if name, ok := st.hashFns[v]; ok {
			return name
		}
	case *glua.LNilType:
		L.RaiseError("missing required parameter 'digestmod'")
	}
	L.RaiseError("unsupported digestmod")
	return ""
}

func (st *state) openHMAC() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 2)
	t.RawSetString("new", L.NewFunction(func(L *glua.LState) int {
		key := L.CheckString(1)
		name := st.digestName(L, 3)
		o := st.hmacFor(name, key)
		if msg, ok := L.Get(2).(glua.LString); ok {
			o.h.Write(bytesOf(string(msg)))
		} else if L.Get(2) != glua.LNil {
			L.ArgError(2, "string expected")
		}
		L.Push(st.wrapHash(o))
		return 1
	}))
	t.RawSetString("compare_digest", L.NewFunction(func(L *glua.LState) int {
		a, b := L.CheckString(1), L.CheckString(2)
		L.Push(glua.LBool(subtle.ConstantTimeCompare(bytesOf(a), bytesOf(b)) == 1))
		return 1
	}))
	return t
}

func (st *state) openHashlib() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 10)
	for name := range hashNames {
		fn := L.NewFunction(func(L *glua.LState) int {
			o := st.newHashObj(name, "", false)
			if L.GetTop() >= 1 && L.Get(1) != glua.LNil {
				o.h.Write(bytesOf(L.CheckString(1)))
			}
			L.Push(st.wrapHash(o))
			return 1
		})
		st.hashFns[fn] = name
		t.RawSetString(name, fn)
	}
	t.RawSetString("new", L.NewFunction(func(L *glua.LState) int {
		name := st.digestName(L, 1)
		o := st.newHashObj(name, "", false)
		if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
			o.h.Write(bytesOf(L.CheckString(2)))
		}
		L.Push(st.wrapHash(o))
		return 1
	}))
	return t
}

// b64clean drops bytes outside the alphabet, as Python's b64decode does by default.
func b64clean(s string, urlsafe bool) string {
	ok := func(c byte) bool {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '=':
			return true
		case urlsafe:
			return c == '-' || c == '_'
		default:
			return c == '+' || c == '/'
		}
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if ok(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func b64decode(L *glua.LState, s string, enc *base64.Encoding, urlsafe bool) string {
	s = b64clean(s, urlsafe)
	if len(s)%4 != 0 {
		L.RaiseError("Incorrect padding")
	}
	out, err := enc.DecodeString(s)
	if err != nil {
		L.RaiseError("Invalid base64-encoded string")
	}
	return string(out)
}

func (st *state) openBase64() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 6)
	enc := func(e *base64.Encoding) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			s := L.CheckString(1)
			if e.EncodedLen(len(s)) > MaxStringSize {
				L.RaiseError("resulting string too large")
			}
			L.Push(glua.LString(e.EncodeToString(bytesOf(s))))
			return 1
		})
	}
	dec := func(e *base64.Encoding, urlsafe bool) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LString(b64decode(L, L.CheckString(1), e, urlsafe)))
			return 1
		})
	}
	t.RawSetString("b64encode", enc(base64.StdEncoding))
	t.RawSetString("b64decode", dec(base64.StdEncoding, false))
	t.RawSetString("urlsafe_b64encode", enc(base64.URLEncoding))
	t.RawSetString("urlsafe_b64decode", dec(base64.URLEncoding, true))
	t.RawSetString("standard_b64encode", enc(base64.StdEncoding))
	t.RawSetString("standard_b64decode", dec(base64.StdEncoding, false))
	return t
}

func (st *state) openBinascii() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 4)
	hexlify := L.NewFunction(func(L *glua.LState) int {
		s := L.CheckString(1)
		if 2*len(s) > MaxStringSize {
			L.RaiseError("resulting string too large")
		}
		L.Push(glua.LString(hex.EncodeToString(bytesOf(s))))
		return 1
	})
	unhexlify := L.NewFunction(func(L *glua.LState) int {
		s := L.CheckString(1)
		if len(s)%2 != 0 {
			L.RaiseError("Odd-length string")
		}
		out, err := hex.DecodeString(s)
		if err != nil {
			L.RaiseError("Non-hexadecimal digit found")
		}
		L.Push(glua.LString(out))
		return 1
	})
	t.RawSetString("hexlify", hexlify)
	t.RawSetString("b2a_hex", hexlify)
	t.RawSetString("unhexlify", unhexlify)
	t.RawSetString("a2b_hex", unhexlify)
	return t
}
