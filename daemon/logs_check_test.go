package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"towerhook/logs"
)

// damagedStore writes a store with one record in a new data directory and
// cuts its file short on disk, as `truncate` would (its pages in use are
// gone); it returns the directory.
func damagedStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeStore(t, dir, &logs.Record{Webhook: "old", HTTPStatus: 200, ResultMessage: "before the damage"})
	if err := os.Truncate(filepath.Join(dir, logs.FileName), 2*16<<10); err != nil {
		t.Fatal(err)
	}
	return dir
}

// towerhook logs --data DIR --check: OK and exit 0 for a sound store, the
// damage and the way out with exit 1 for a damaged one; and reading the
// damaged store's records fails with one line instead of crashing.
func TestLogsCheck(t *testing.T) {
	sound := t.TempDir()
	writeStore(t, sound, &logs.Record{Webhook: "w", HTTPStatus: 200})
	tests := []struct {
		name     string
		o        LogsOptions
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{"sound store", LogsOptions{Data: sound, Check: true}, 0,
			[]string{"towerhook.db: OK: 1 days, 1 records, "}, nil},
		{"damaged store", LogsOptions{Data: damagedStore(t), Check: true}, 1,
			[]string{"towerhook.db: DAMAGED: the file was cut short: 32768 bytes, but its last transaction uses ",
				"way out: run towerhook serve once with --log-recover"}, nil},
		{"no store", LogsOptions{Data: t.TempDir(), Check: true}, 1, []string{"towerhook.db: no call log here"}, nil},
		{"records of a damaged store", LogsOptions{Data: damagedStore(t), Limit: 10}, 1, nil,
			[]string{"towerhook.db is damaged (the file was cut short", "run towerhook serve once with --log-recover"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Logs(context.Background(), tt.o, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if tt.wantErr != nil && strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("stderr is not one line:\n%s", errb.String())
			}
		})
	}
}

// serve refuses a damaged call log with one line and exit status 3 (a
// systemd unit stops restarting), and starts with --log-recover: the old
// file is kept aside, a new log takes the calls (and the records the old
// journal held).
func TestServeDamagedLog(t *testing.T) {
	data := damagedStore(t)
	o := DefaultOptions()
	o.Dir = t.TempDir()
	writeFiles(t, o.Dir, map[string]string{"hooks.yaml": cliFiles})
	o.Data, o.Listen, o.AdminListen = data, "127.0.0.1:0", "127.0.0.1:0"
	err := Serve(context.Background(), o, discardLogger())
	if err == nil || ServeExitCode(err) != ExitDamagedLog || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), filepath.Join(data, logs.FileName)+" is damaged") || !strings.Contains(err.Error(), "--log-recover") {
		t.Fatalf("Serve over a damaged log: exit %d, %v", ServeExitCode(err), err)
	}
	damaged, _ := os.ReadFile(filepath.Join(data, logs.FileName))

	d := startDaemon(t, map[string]string{"hooks.yaml": cliFiles}, func(o *Options) { o.Data, o.LogRecover = data, true })
	if r := do(t, "POST", d.pub+DefaultPrefix+"echo", "{}", nil); r.Status != 200 {
		t.Fatalf("echo answered %d %s", r.Status, r.Body)
	}
	asides, _ := filepath.Glob(filepath.Join(data, logs.FileName+".damaged-*Z"))
	if len(asides) != 1 {
		t.Fatalf("moved aside: %v", asides)
	}
	if kept, _ := os.ReadFile(asides[0]); !bytes.Equal(kept, damaged) {
		t.Error("the damaged file was not kept as it was")
	}
	var out, errb bytes.Buffer
	eventually(t, 10*time.Second, "the new record", func() bool {
		out.Reset()
		return Logs(context.Background(), LogsOptions{Admin: d.admin, Limit: 10}, &out, &errb) == 0 && strings.Contains(out.String(), "echo")
	})
}
