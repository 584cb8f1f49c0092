package lua

import (
	"reflect"
	"slices"

	"github.com/yuin/gopher-lua/ast"
)

// Payload projection.
//
// Most webhook code reads a few fields of a payload that holds hundreds
// (a GitHub push event is 7-30 KB), and turning all of it into Lua tables
// is the largest cost of a call. At compile time payloadKeys looks at how
// the code names the global payload: when every use is a field read with a
// constant string key (payload.ref, payload["repository"].full_name), only
// those top-level members are decoded into tables; the other members are
// still checked as JSON (an invalid body is {} either way) but skipped.
// Any other use (payload passed or returned as a value, iterated, indexed
// with a computed key, a local or parameter named payload) decodes
// everything, and so does any mention of _G (the environment, which
// reaches payload by computed names); getfenv and setfenv do not exist in
// the sandbox but are treated alike.

// payloadKeys returns the sorted top-level keys that chunk reads from the
// global payload, and ok=false when the whole table may be observed.
func payloadKeys(chunk []ast.Stmt) (keys []string, ok bool) {
	p := projector{ok: true}
	p.walk(reflect.ValueOf(chunk))
	if !p.ok {
		return nil, false
	}
	slices.Sort(p.keys)
	return slices.Compact(p.keys), true
}

type projector struct {
	keys []string
	ok   bool
}

// walk visits every node under v; names declared anywhere (locals,
// parameters, loop variables) that shadow payload, any use of payload
// other than payload.<constant string>, and any mention of the
// environment clear ok.
func (p *projector) walk(v reflect.Value) {
	if !p.ok {
		return
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return
		}
		if !v.CanInterface() {
			return
		}
		switch e := v.Interface().(type) {
		case *ast.AttrGetExpr:
			if id, isIdent := e.Object.(*ast.IdentExpr); isIdent && id.Value == "payload" {
				k, isString := e.Key.(*ast.StringExpr)
				if !isString {
					p.ok = false
					return
				}
				p.keys = append(p.keys, k.Value)
				return
			}
		case *ast.IdentExpr:
			switch e.Value {
			case "payload", "_G", "getfenv", "setfenv":
				// The table itself, or the environment it lives in.
				p.ok = false
			}
			return
		}
		p.walk(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if name := v.Type().Field(i).Name; (name == "Names" || name == "Name") && declares(f) {
				p.ok = false
				return
			}
			p.walk(f)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			p.walk(v.Index(i))
		}
	}
}

// declares reports whether a Name/Names field declares payload.
func declares(f reflect.Value) bool {
	switch f.Kind() {
	case reflect.String:
		return f.String() == "payload"
	case reflect.Slice:
		if names, ok := f.Interface().([]string); ok {
			return slices.Contains(names, "payload")
		}
	}
	return false
}
