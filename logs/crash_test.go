package logs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const crashEnv = "TOWERHOOK_LOGS_CRASH_HELPER_DB"

// TestHelperAppender is the child of TestCrashDurability: it appends in
// durable mode from several goroutines and prints "ID <id>" for every
// Append that returned nil, until it is killed (or 60 s pass).
func TestHelperAppender(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrashDurability")
	}
	s, err := Open(path, Options{Sync: true})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				r := rec(fmt.Sprint("crash", g), 200)
				if err := s.Append(context.Background(), r); err != nil {
					fmt.Println("ERR", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Println("ID", r.ID) // one write(2) per line
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "towerhook.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "ID "); ok && len(id) == 32 {
			ids = append(ids, id)
		} else if strings.HasPrefix(line, "ERR") {
			t.Fatalf("child: %s", line)
		}
		if len(ids) == 300 && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true // keep reading what the child had already printed
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed (%d ids)", len(ids))
	}
	s := openTest(t, path, Options{ReadOnly: true})
	for _, id := range ids {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("record %s acknowledged before the crash is missing: %v", id, err)
		}
	}
	t.Logf("%d acknowledged records all present after SIGKILL", len(ids))
	_ = s.Close()
	// And the store reopens for writing.
	s = openTest(t, path, Options{Sync: true})
	if err := s.Append(context.Background(), rec("after", 200)); err != nil {
		t.Fatal(err)
	}
}
