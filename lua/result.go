package lua

import (
	"errors"
	"math"

	"towerhook/internal/secrets"

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
	if res.Err = st.readMessage(rt, res); res.Err != nil {
		return true
	}
	if res.Err = st.readAnswer(rt, res); res.Err != nil {
		res.Headers, res.Body, res.ContentType = nil, nil, ""
	}
	return true
}

// readMessage fills the message fields of res from result.message, masked
// and within MaxStringSize (README "Lua API", "Secrets").
func (st *state) readMessage(rt *glua.LTable, res *Result) error {
	switch m := rt.RawGetString("message").(type) {
	case *glua.LNilType:
	case glua.LString:
		s, err := st.outText("result.message", string(m))
		if err != nil {
			return err
		}
		res.Message, res.HasMessage = s, true
	case glua.LBool:
		// false is no message (the default text applies), as Python's
		// `message or default` would have it; true is sent as JSON.
		if m {
			res.Message, res.MessageJSON, res.HasMessage = "true", true, true
		}
	case *glua.LTable, glua.LNumber:
		// Sent as JSON, as Python's {"message": 42} would be.
		b, err := st.encodeJSONMasked(m, "", st.e.mask)
		if err != nil {
			if errors.Is(err, errInterrupted) {
				return err
			}
			return errors.New("result.message: " + err.Error())
		}
		text := string(b)
		if st.e.mask.Mask(text) != text {
			// A secret spelled across JSON tokens: no part is sent.
			text = `"` + secrets.Redacted + `"`
		}
		res.Message, res.MessageJSON, res.HasMessage = text, true, true
	default:
		if m != st.null {
			return errors.New("result.message: cannot be a " + m.Type().String())
		}
		res.Message, res.MessageJSON, res.HasMessage = "null", true, true
	}
	return nil
}

// readAnswer fills the verbatim answer of res (headers, body, content
// type) from result, masked and within MaxStringSize: header names and
// values count together.
func (st *state) readAnswer(rt *glua.LTable, res *Result) error {
	if ht, ok := rt.RawGetString("headers").(*glua.LTable); ok {
		total := 0
		var herr error
		ht.ForEach(func(k, v glua.LValue) {
			ks, ok := k.(glua.LString)
			if !ok || herr != nil {
				return
			}
			switch v.(type) {
			case glua.LString, glua.LNumber:
				vs := v.String()
				if total += len(ks) + len(vs); total > MaxStringSize {
					herr = errTextTooLarge("result.headers")
					return
				}
				if res.Headers == nil {
					res.Headers = map[string]string{}
				}
				res.Headers[st.e.mask.Mask(string(ks))] = st.e.mask.Mask(vs)
			}
		})
		if herr != nil {
			return herr
		}
		if err := st.interrupted(); err != nil {
			return err
		}
	}
	switch b := rt.RawGetString("body").(type) {
	case glua.LString, glua.LNumber:
		s, err := st.outText("result.body", b.String())
		if err != nil {
			return err
		}
		res.Body = &s
	}
	if ct, ok := rt.RawGetString("content_type").(glua.LString); ok {
		s, err := st.outText("result.content_type", string(ct))
		if err != nil {
			return err
		}
		res.ContentType = s
	}
	return nil
}

// outText returns s masked, or an error naming field when s is longer
// than MaxStringSize.
func (st *state) outText(field, s string) (string, error) {
	if len(s) > MaxStringSize {
		return "", errTextTooLarge(field)
	}
	return st.e.mask.Mask(s), nil
}

// interrupted returns errInterrupted when the running call was interrupted
// (its deadline passed, its caller went away or the memory guard stopped it).
func (st *state) interrupted() error {
	if ctx := st.cur.ctx; ctx != nil {
		select {
		case <-ctx.Done():
			return errInterrupted
		default:
		}
	}
	return nil
}
