package lua

import (
	"net/http"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// openRequests builds requests.get/post/put/patch/delete/head(url, opts) and
// requests.request(method, url, opts); opts: {headers, params, data, json,
// timeout}. The response is {status_code, ok, text, headers, truncated,
// json = function}; resp:json() decodes text. Bounded by the call deadline.
func (st *state) openRequests() *glua.LTable {
	L := st.L
	jsonMethod := L.NewFunction(func(L *glua.LState) int {
		self := L.CheckTable(1)
		text, _ := self.RawGetString("text").(glua.LString)
		v, err := st.decodeJSONString(string(text))
		if err != nil || strings.TrimSpace(string(text)) == "" {
			msg := "expecting value at char 0"
			if err != nil {
				msg = err.Error()
			}
			L.RaiseError("response is not JSON: %s", msg)
		}
		L.Push(v)
		return 1
	})
	do := func(L *glua.LState, method string, base int) int {
		spec := HTTPSpec{Method: method, URL: L.CheckString(base)}
		if opts := optTable(L, base+1); opts != nil {
			spec.Headers = stringMap(L, opts.RawGetString("headers"), "headers")
			spec.Params = stringMap(L, opts.RawGetString("params"), "params")
			switch d := opts.RawGetString("data").(type) {
			case glua.LString:
				checkTextLen(L, "data", len(d))
				spec.Data = []byte(d)
			case *glua.LTable:
				m := stringMap(L, d, "data")
				checkFormLen(L, m)
				form := make([]string, 0, len(m))
				for k, v := range m {
					form = append(form, pyQuote(k, "", true)+"="+pyQuote(v, "", true))
				}
				sortStrings(form)
				spec.Data = []byte(strings.Join(form, "&"))
				if spec.Headers == nil {
					spec.Headers = map[string]string{}
				}
				if !hasHeader(spec.Headers, "Content-Type") {
					spec.Headers["Content-Type"] = "application/x-www-form-urlencoded"
				}
			}
			if j := opts.RawGetString("json"); j != glua.LNil {
				b, err := st.encodeJSON(j, "")
				if err != nil {
					L.RaiseError("requests: json: %s", err.Error())
				}
				spec.JSON = b
			}
			spec.Timeout = seconds(L, opts.RawGetString("timeout"))
		}
		resp, err := st.doHTTP(spec)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		r := L.CreateTable(0, 6)
		r.RawSetString("status_code", glua.LNumber(resp.StatusCode))
		r.RawSetString("ok", glua.LBool(resp.StatusCode < 400))
		if resp.Truncated {
			// The cap cut the body unmasked: drop a secret it split.
			resp.Text = st.e.mask.TrimCut(resp.Text)
		}
		r.RawSetString("text", glua.LString(resp.Text))
		r.RawSetString("truncated", glua.LBool(resp.Truncated))
		h := L.CreateTable(0, len(resp.Headers))
		for k, v := range resp.Headers {
			h.RawSetString(k, glua.LString(v))
		}
		h.Metatable = st.ciMeta
		r.RawSetString("headers", h)
		r.RawSetString("json", jsonMethod)
		L.Push(r)
		return 1
	}
	t := L.CreateTable(0, 7)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead} {
		t.RawSetString(strings.ToLower(m), L.NewFunction(func(L *glua.LState) int { return do(L, m, 1) }))
	}
	t.RawSetString("request", L.NewFunction(func(L *glua.LState) int {
		return do(L, L.CheckString(1), 2)
	}))
	return t
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
