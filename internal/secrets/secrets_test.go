package secrets

import (
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	m := NewMasker([]string{"ab", "abcd", "", "ab"})
	if got := m.Mask("xabcdyab"); got != "x*****y*****" {
		t.Errorf("Mask = %q", got)
	}
	var none *Masker
	if NewMasker([]string{""}) != nil || none.Mask("ab") != "ab" {
		t.Error("an empty masker masks")
	}
}

// TestMaskCut: a secret that straddles the cut is masked whole (the
// 64 KiB log line that leaked 21 of 22 characters), and no readable part of
// a secret survives anywhere around the cut.
func TestMaskCut(t *testing.T) {
	const secret = "S3cr3t-0123456789-abcd" // 22 bytes
	m := NewMasker([]string{secret})
	const limit = 64
	for off := 0; off < limit+len(secret)+2; off++ {
		s := strings.Repeat("x", off) + secret + strings.Repeat("y", 40)
		for _, l := range []int{len(s), off + len(secret), off + len(secret) + 3} {
			if l > len(s) {
				continue
			}
			out, cut := m.MaskCut(s[:l], limit)
			if len(out) > limit {
				t.Fatalf("off %d len %d: %d bytes", off, l, len(out))
			}
			if cut != (l > limit || len(m.Mask(s[:l])) > limit) {
				t.Errorf("off %d len %d: cut = %v", off, l, cut)
			}
			for i := 0; i+8 <= len(secret); i++ {
				if strings.Contains(out, secret[i:i+8]) {
					t.Fatalf("off %d len %d: %q leaks %q", off, l, out, secret[i:i+8])
				}
			}
		}
	}
	if out, cut := (*Masker)(nil).MaskCut("héllo", 2); out != "h" || !cut {
		t.Errorf("nil MaskCut = %q, %v", out, cut)
	}
}

// FuzzMask: looking for the forms first (short texts) changes nothing, and
// no form is left in the masked text (unless made of a mask's stars).
func FuzzMask(f *testing.F) {
	f.Add("push/tok3n", "tok3n", "other")
	f.Add(`a"x\"y"b`, `x"y`, "y")
	f.Add("\x00\xff", "\xff", "\x00")
	f.Fuzz(func(t *testing.T, s, v1, v2 string) {
		m := NewMasker([]string{v1, v2})
		got := m.Mask(s)
		if m != nil && got != m.r.Replace(s) {
			t.Fatalf("Mask(%q) = %q, one pass %q", s, got, m.r.Replace(s))
		}
		for _, v := range []string{v1, v2} {
			if v != "" && !strings.Contains(v, "*") && strings.Contains(got, v) {
				t.Fatalf("Mask(%q) = %q keeps %q", s, got, v)
			}
		}
	})
}
