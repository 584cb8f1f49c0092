package daemon

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"towerhook/definitions"
)

// slowHooks is a definitions file of n webhooks h00, h01, ... answering
// "<version>-<nn>", and the offset where record half starts (a cut there
// leaves a valid file of the first half webhooks).
func slowHooks(n, half int, version string) (string, int) {
	var pairs []string
	for i := range n {
		pairs = append(pairs, fmt.Sprintf("h%02d", i), fmt.Sprintf("%s-%02d", version, i))
	}
	s := rlHooks(pairs...)
	return s, strings.Index(s, fmt.Sprintf("- cetmix_tower_model: webhook\n  reference: h%02d\n", half))
}

// TestSlowInPlaceWriterNeverServedHalfWritten (issue 16, defect 11): a
// 50-webhook file rewritten in place in two halves 0.6 s apart (the first
// half alone is a valid file of 24 webhooks) is loaded once, whole: every
// load has all 50 webhooks, no reload fails, and a webhook of the second
// half never answers 404 while the file is written.
func TestSlowInPlaceWriterNeverServedHalfWritten(t *testing.T) {
	t.Parallel()
	v1, _ := slowHooks(50, 24, "v1")
	v2, cut := slowHooks(50, 24, "v2")
	var logw logBuffer
	// A settle period well above the writer's pause, so that a slow
	// machine cannot stretch the pause past it.
	d := startDaemonLogged(t, map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": v1},
		func(o *Options) { o.ReloadSettle = 3 * time.Second }, &logw)
	if got := rlAnswer(t, d.pub, "h40"); got != "200 v1-40" {
		t.Fatalf("initial answer %q", got)
	}
	loadsBefore := len(logw.entries("definitions loaded"))

	var stop atomic.Bool
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: time.Minute}
		for !stop.Load() {
			resp, err := client.Post(d.pub+DefaultPrefix+"h40", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			answers[fmt.Sprint(resp.StatusCode)]++
			mu.Unlock()
		}
	}()

	f, err := os.OpenFile(filepath.Join(d.dir, "hooks.yaml"), os.O_WRONLY|os.O_TRUNC, 0)
	rlMust(t, err)
	_, err = f.WriteString(v2[:cut])
	rlMust(t, err)
	time.Sleep(600 * time.Millisecond)
	_, err = f.WriteString(v2[cut:])
	rlMust(t, err)
	rlMust(t, f.Close())

	eventually(t, rlWait, "the whole new file to be served", func() bool { return rlAnswer(t, d.pub, "h40") == "200 v2-40" })
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(answers) != 1 || answers["200"] == 0 {
		t.Errorf("answers of h40 while the file was written: %v, want only 200", answers)
	}
	loads := logw.entries("definitions loaded")[loadsBefore:]
	for _, l := range loads {
		if fmt.Sprint(l["webhooks"]) != "50" {
			t.Errorf("a load of %v webhooks (reason %v): the half-written file was served", l["webhooks"], l["reason"])
		}
	}
	if len(loads) != 1 {
		t.Errorf("%d loads after the write, want 1", len(loads))
	}
	if v := rlMetric(t, d.admin, `towerhook_config_reloads_total{result="failure"}`); v > 0 {
		t.Errorf("%v failed reloads", v)
	}
	if n := len(rlDefinitions(t, d.admin).Webhooks); n != 50 {
		t.Errorf("%d webhooks served, want 50", n)
	}
}

// TestSettlerWait: which files hold a hinted reload back, and for how long.
func TestSettlerWait(t *testing.T) {
	const quiet = time.Second
	now := time.Now()
	tests := []struct {
		name string
		// change runs after the load of a.yaml (written 1 h ago).
		change func(t *testing.T, dir string)
		since  time.Duration // a postponement began this long before now
		want   time.Duration
		file   string
	}{
		{name: "unchanged", change: func(*testing.T, string) {}},
		{name: "rewritten in place just now", change: func(t *testing.T, dir string) {
			rlMust(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("half"), 0o644))
			rlMust(t, os.Chtimes(filepath.Join(dir, "a.yaml"), now, now.Add(-300*time.Millisecond)))
		}, want: 700 * time.Millisecond, file: "a.yaml"},
		{name: "rewritten in place a while ago", change: func(t *testing.T, dir string) {
			rlMust(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("whole"), 0o644))
			rlMust(t, os.Chtimes(filepath.Join(dir, "a.yaml"), now, now.Add(-1500*time.Millisecond)))
		}},
		{name: "renamed into place just now", change: func(t *testing.T, dir string) {
			rlAtomicWrite(t, filepath.Join(dir, "a.yaml"), "new")
		}},
		{name: "new file written just now", change: func(t *testing.T, dir string) {
			rlMust(t, os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("new"), 0o644))
			rlMust(t, os.Chtimes(filepath.Join(dir, "b.yaml"), now, now.Add(-100*time.Millisecond)))
		}, want: 900 * time.Millisecond, file: "b.yaml"},
		{name: "whole-second modification time", change: func(t *testing.T, dir string) {
			rlMust(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("half"), 0o644))
			rlMust(t, os.Chtimes(filepath.Join(dir, "a.yaml"), now, now.Add(-1500*time.Millisecond).Truncate(time.Second)))
		}, want: -1, file: "a.yaml"}, // 1.5 s old or more, but the write may have been up to 2 s later
		{name: "modification time in the future, bounded", change: func(t *testing.T, dir string) {
			rlMust(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("half"), 0o644))
			rlMust(t, os.Chtimes(filepath.Join(dir, "a.yaml"), now, now.Add(time.Hour)))
		}, since: 8 * time.Second, want: 2 * time.Second, file: "a.yaml"},
		{name: "bound reached: load anyway", change: func(t *testing.T, dir string) {
			rlMust(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("half"), 0o644))
			rlMust(t, os.Chtimes(filepath.Join(dir, "a.yaml"), now, now.Add(-100*time.Millisecond)))
		}, since: 10 * time.Second, want: 0, file: "a.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rlWrite(t, filepath.Join(dir, "a.yaml"), "loaded")
			rlMust(t, os.Chtimes(filepath.Join(dir, "a.yaml"), now, now.Add(-time.Hour)))
			s := newSettler(quiet)
			s.loading(definitions.StatFiles(dir))
			tt.change(t, dir)
			if tt.since > 0 {
				s.since = now.Add(-tt.since)
			}
			got, file := s.wait(now, definitions.StatFiles(dir))
			if tt.want < 0 {
				if got <= 0 || got > 1500*time.Millisecond {
					t.Errorf("wait = %v, want between 0 and 1.5s", got)
				}
			} else if got != tt.want {
				t.Errorf("wait = %v, want %v", got, tt.want)
			}
			if file != tt.file {
				t.Errorf("file = %q, want %q", file, tt.file)
			}
		})
	}
}
