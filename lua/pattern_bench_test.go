package lua

import (
	"context"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/pm"
)

// patternBenchCases are typical webhook-code searches over a ~1 KB text.
var patternBenchCases = []struct {
	name, pattern string
	limit         int
}{
	{"key=value all", "(%w+)=(%w+)", -1},
	{"trim", "^%s*(.-)%s*$", 1},
	{"numbers all", "%d+", -1},
	{"identifier first", "[%a_][%w_]*", 1},
	{"literal late", "needle", 1},
	{"balanced all", "%b()", -1},
	{"dollar vars all", "%$(%w+)", -1},
	{"lazy to end", "^(.-)needle", 1},
}

func patternBenchSubject() string {
	var b strings.Builder
	b.WriteString("   ")
	for b.Len() < 1000 {
		b.WriteString("user=alice id=42 (role (admin)) $home path=/srv/app_1 ")
	}
	b.WriteString("needle   ")
	return b.String()
}

// BenchmarkPattern compares findPattern ("ours") with gopher-lua's matcher
// ("upstream", what the string library used before) on typical searches.
func BenchmarkPattern(b *testing.B) {
	subject := patternBenchSubject()
	src := []byte(subject)
	ctx := context.Background()
	for _, tc := range patternBenchCases {
		b.Run(tc.name+"/ours", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := findPattern(ctx, tc.pattern, subject, 0, tc.limit); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/upstream", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pm.Find(tc.pattern, src, 0, tc.limit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
