package lua

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkJSONDecodeEscaped decodes a 7.5 KB push payload whose commit
// messages hold escapes (quotes, newlines, \/ and \u00e9): the string
// unescaping of json.loads.
func BenchmarkJSONDecodeEscaped(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"ref":"refs/heads/main","commits":[`)
	for i := range 40 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"id":"%040d","message":"Commit number %d\n\nWith a \"body\" caf\u00e9.","url":"https:\/\/github.com\/x\/y","author":{"name":"Monalisa","email":"mona@github.com"}}`, i, i)
	}
	sb.WriteString(`]}`)
	in := sb.String()
	e := NewEngine(Options{PoolSize: 1})
	defer e.Close()
	st := e.newState()
	defer st.L.Close()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.decodeJSONString(in); err != nil {
			b.Fatal(err)
		}
	}
}
