package lua

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkJSONDecodeEscaped decodes a 7 KB list of commits whose strings
// hold escapes (quotes, newlines, \/ and \u00e9): the string unescaping of
// json.loads.
func BenchmarkJSONDecodeEscaped(b *testing.B) {
	commits := make([]map[string]string, 40)
	for i := range commits {
		commits[i] = map[string]string{
			"message": "Commit number " + strconv.Itoa(i) + "\n\nWith a \"body\" café.",
			"url":     "https://github.com/x/y",
			"author":  "Monalisa <mona@github.com>",
		}
	}
	raw, _ := json.Marshal(commits)
	in := strings.NewReplacer("/", `\/`, "é", `\u00e9`).Replace(string(raw))
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
