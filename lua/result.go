package lua

import (
	"errors"
	"math"

	glua "github.com/yuin/gopher-lua"
)

var errNotDict = errors.New("result is not a dict")

// readResult fills res from env.result; false when result is not a table.
func (st *state) readResult(kind Kind, env *glua.LTable, res *Result) bool {
	rv := env.RawGetString("result")
	if rv == glua.LNil && st.cur.done&lazyResult == 0 {
		// Never read nor assigned: the seed, without building it.
		if kind == KindWebhook {
			res.HasExitCode = true
		}
		return true
	}
	rt, ok := rv.(*glua.LTable)
	if !ok {
		res.Err = errNotDict
		return false
	}
	if kind == KindAuthenticator {
		res.Allowed = glua.LVAsBool(rt.RawGetString("allowed"))
	} else if n, ok := rt.RawGetString("exit_code").(glua.LNumber); ok {
		// A non-integer (0.5) is no exit code: Python's 0.5 == 0 is false.
		f := float64(n)
		if f == math.Trunc(f) && math.Abs(f) < 1<<31 {
			res.ExitCode, res.HasExitCode = int(f), true
		}
	}
	// A final answer cannot be 1xx: net/http sends 100/103 as informational
	// and then a 200, and 101 hangs the connection.
	if n, ok := rt.RawGetString("http_code").(glua.LNumber); ok && n >= 200 && n <= 599 && n == glua.LNumber(math.Trunc(float64(n))) {
		res.HTTPCode = int(n)
	}
	switch m := rt.RawGetString("message").(type) {
	case *glua.LNilType:
	case glua.LString:
		res.Message, res.HasMessage = string(m), true
	case glua.LBool:
		// false is no message (the default text applies), as Python's
		// `message or default` would have it; true is sent as JSON.
		if m {
			res.Message, res.MessageJSON, res.HasMessage = "true", true, true
		}
	case *glua.LTable, glua.LNumber:
		// Sent as JSON, as Python's {"message": 42} would be.
		b, err := st.encodeJSON(m, "")
		if err != nil {
			res.Err = errors.New("result.message: " + err.Error())
			return true
		}
		res.Message, res.MessageJSON, res.HasMessage = string(b), true, true
	default:
		if m != st.null {
			res.Err = errors.New("result.message: cannot be a " + m.Type().String())
			return true
		}
		res.Message, res.MessageJSON, res.HasMessage = "null", true, true
	}
	if ht, ok := rt.RawGetString("headers").(*glua.LTable); ok {
		ht.ForEach(func(k, v glua.LValue) {
			ks, ok := k.(glua.LString)
			if !ok {
				return
			}
			switch v.(type) {
			case glua.LString, glua.LNumber:
				if res.Headers == nil {
					res.Headers = map[string]string{}
				}
				res.Headers[string(ks)] = v.String()
			}
		})
	}
	switch b := rt.RawGetString("body").(type) {
	case glua.LString, glua.LNumber:
		s := b.String()
		res.Body = &s
	}
	if ct, ok := rt.RawGetString("content_type").(glua.LString); ok {
		res.ContentType = string(ct)
	}
	return true
}
