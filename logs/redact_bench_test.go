package logs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRedactPayloadEscaped: as BenchmarkRedactPayload, with a secret
// whose letters occur in the payload, so every string with an escape is
// decoded and searched (the JSON unescaping of the call log).
func BenchmarkRedactPayloadEscaped(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"ref":"refs/heads/main","commits":[`)
	for i := range 40 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"id":"%040d","message":"Commit number %d\n\nWith a \"body\" caf\u00e9.","url":"https:\/\/github.com\/x\/y","author":{"name":"Monalisa","email":"mona@github.com"}}`, i, i)
	}
	sb.WriteString(`]}`)
	p := json.RawMessage(sb.String())
	ps := NewPayloadSecrets([]string{"Monalisa/s3cr3t"})
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		RedactPayload(p, ps)
	}
}
