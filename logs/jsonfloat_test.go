package logs

import (
	"encoding/json"
	"math"
	"testing"
)

// TestAppendFloat: the same text as encoding/json for every notation and
// its edges; non-finite values (which JSON cannot hold) are 0.
func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.25, 1.5e-3, 1e-6, 9.99e-7, 1e-7, -1e-9, 1e-10, 5e-324,
		1e20, 123456789012345678901, 1e21, -1e21, 1.7976931348623157e308, 0.000123, 2.5e-8} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := appendFloat(nil, f); string(got) != "0" {
			t.Errorf("appendFloat(%v) = %s", f, got)
		}
	}
}

// FuzzAppendFloat holds appendFloat to encoding/json for finite values.
func FuzzAppendFloat(f *testing.F) {
	f.Add(uint64(0x3e7ad7f29abcaf48)) // 1e-7
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		want, _ := json.Marshal(x)
		if got := appendFloat(nil, x); string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, want %s", x, got, want)
		}
	})
}

// BenchmarkAppendFloat writes call durations (plain notation) and a tiny
// one (scientific).
func BenchmarkAppendFloat(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = appendFloat(buf[:0], 0.012345)
		buf = appendFloat(buf, 2.5)
		buf = appendFloat(buf, 3.2e-7)
	}
}
