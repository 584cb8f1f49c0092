package lua

import "testing"

func TestShared(t *testing.T) {
	sh := NewShared(1, NewMetrics(nil))
	t.Cleanup(sh.Close)
	for _, tc := range []struct {
		name       string
		a, b       Options
		same, owns bool
	}{
		{"shared", Options{Shared: sh}, Options{Shared: sh}, true, false},
		{"private", Options{}, Options{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := testEngine(t, tc.a), testEngine(t, tc.b)
			if (a.proc == b.proc) != tc.same || (a.http == b.http) != tc.same {
				t.Fatalf("proc shared=%v http shared=%v, want %v", a.proc == b.proc, a.http == b.http, tc.same)
			}
			if a.ownHTTP != tc.owns {
				t.Fatalf("ownHTTP=%v want %v", a.ownHTTP, tc.owns)
			}
			if tc.same && cap(a.proc.sem) != 1 {
				t.Fatalf("bound %d", cap(a.proc.sem))
			}
			a.Close() // closing one engine leaves the other usable
			if r := run(t, b, KindWebhook, `result.message = "ok"`, nil); r.Err != nil || r.Message != "ok" {
				t.Fatalf("%+v", r)
			}
		})
	}
	e := testEngine(t, Options{Shared: sh, DisableSubprocess: true, DisableRequests: true})
	if e.proc != nil || e.http != nil {
		t.Fatal("disabled modules still wired")
	}
}
