package logs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSON(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	tooDeep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	for _, in := range []string{
		``, ` `, `{}`, `[]`, `{ }`, `[ ]`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e5`, `1E+5`, `1e`, `.5`,
		`"a"`, `"\u00e9\n"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x01\"", "\"\xff\"", `"abc`,
		`true`, `tru`, `nulll`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`,
		`[1,2,[3,{"x":[null,true,false]}]]`, `[1,]`, `[,1]`, `[1 2]`, `{"a":{"b":{}}}`, `{"a":[}`,
		` {"a" : [ 1 , 2 ] } `, `{} {}`, `[]]`, `{"a":1}}`, `{"":""}`, "\t\r\n[]\n", deep, tooDeep,
	} {
		if got, want := validJSON([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("validJSON(%.40q) = %v, json.Valid says %v", in, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9",true,null,{}]}`, `[`, `"\`, `-01`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	payload := []byte(`{"ref":"refs/heads/main","repository":{"id":1296269,"full_name":"octocat/Hello-World","private":false},` +
		`"pusher":{"name":"octocat","email":"octocat@github.com"},"commits":[` + strings.Repeat(`{"id":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","message":"Update README.md","distinct":true},`, 8) + `{}]}`)
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			validJSON(payload)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			json.Valid(payload)
		}
	})
}
