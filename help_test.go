package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // all on stdout
		wantErr  []string // all on stderr
		notOut   []string
	}{
		{"help lists commands", []string{"help"}, 0,
			[]string{"Usage:\n  towerhook COMMAND", "serve ", "validate ", "logs ", "completion ", "man "}, nil, nil},
		{"--help is help", []string{"--help"}, 0, []string{"Commands:"}, nil, nil},
		{"help serve", []string{"help", "serve"}, 0, []string{
			"towerhook serve - serve webhooks from a definitions directory",
			"Examples:\n  towerhook serve",
			"--max-body SIZE\n      largest accepted request body",
			"default 10MiB; env TOWERHOOK_MAX_BODY",
			"--rescan-interval DURATION", "default 1m; env TOWERHOOK_RESCAN_INTERVAL",
			"--admin-web-config FILE", "env TOWERHOOK_ADMIN_WEB_CONFIG",
			"--web-config FILE", "env TOWERHOOK_WEB_CONFIG",
			"default 90% of the cgroup memory limit, else 0 (off)",
		}, nil, []string{"10485760", "1m0s"}},
		{"serve --help on stdout", []string{"serve", "--help"}, 0, []string{"towerhook serve - ", "env TOWERHOOK_LISTEN"}, nil, nil},
		{"validate -h after the argument", []string{"validate", "dir", "-h"}, 0, []string{"towerhook validate DIR [flags]", "--secrets-dir DIR"}, nil, []string{"TOWERHOOK_"}},
		{"help call", []string{"help", "call"}, 0, []string{"-X METHOD", "(default POST)", "-H 'KEY: VALUE'", "--timeout DURATION", "(default 10s)"}, nil, nil},
		{"help logs", []string{"help", "logs"}, 0, []string{"--limit N", "(default 50)", "--webhook REF"}, nil, nil},
		{"help unknown", []string{"help", "srve"}, 2, nil, []string{`unknown command "srve" (did you mean "serve"?)`}, nil},
		{"unknown command", []string{"bogus"}, 2, nil, []string{`towerhook: unknown command "bogus"`, `Run "towerhook help"`}, nil},
		{"bad flag: one line and a hint", []string{"serve", "--lisen", ":1"}, 2, nil,
			[]string{"towerhook serve: unknown flag --lisen (did you mean --listen?)\nRun \"towerhook serve --help\" for usage.\n"}, nil},
		{"bad flag far from any", []string{"validate", "x", "--zzzzzz"}, 2, nil, []string{"towerhook validate: unknown flag --zzzzzz\n"}, nil},
		{"bad value", []string{"serve", "--max-body", "lots"}, 2, nil, []string{`towerhook serve: invalid value "lots" for --max-body: invalid size`}, nil},
		{"missing value", []string{"logs", "--limit"}, 2, nil, []string{"towerhook logs: flag --limit needs a value"}, nil},
		{"missing argument", []string{"validate"}, 2, nil, []string{"towerhook validate: expected 1 argument, got 0\n"}, nil},
		{"completion without shell", []string{"completion"}, 2, nil, []string{"towerhook completion: expected 1 argument"}, nil},
		{"completion bad shell", []string{"completion", "tcsh"}, 2, nil, []string{`unknown shell "tcsh"`}, nil},
		{"version", []string{"version"}, 0, []string{"towerhook ", "(revision: ", "go version:", "platform:"}, nil, nil},
		{"--version", []string{"--version"}, 0, []string{"towerhook "}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) && !strings.Contains(oneSpace(out.String()), oneSpace(w)) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(out.String(), w) {
					t.Errorf("stdout has %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if tt.wantCode == 2 && strings.Count(errb.String(), "\n") > 2 {
				t.Errorf("a usage error prints more than a line and a hint:\n%s", errb.String())
			}
		})
	}
}

// TestHelpCoversEveryFlag: every command's every flag appears in its help,
// the man page and the completions (they share one source).
func TestHelpCoversEveryFlag(t *testing.T) {
	var man, bash, zsh, fish bytes.Buffer
	run([]string{"man"}, &man, &man)
	run([]string{"completion", "bash"}, &bash, &bash)
	run([]string{"completion", "zsh"}, &zsh, &zsh)
	run([]string{"completion", "fish"}, &fish, &fish)
	for _, c := range commands() {
		var h bytes.Buffer
		if code := run([]string{"help", c.name}, &h, &h); code != 0 {
			t.Fatalf("help %s: exit %d", c.name, code)
		}
		if !strings.Contains(man.String(), `.SS "towerhook `+c.name) {
			t.Errorf("man page lacks command %s", c.name)
		}
		if !strings.Contains(fish.String(), "-a "+c.name+" -d") || !strings.Contains(zsh.String(), "'"+c.name+":") {
			t.Errorf("completions lack command %s", c.name)
		}
		for _, f := range commandFlags(c) {
			dash := dashName(f.Name)
			if !strings.Contains(h.String(), "  "+dash) {
				t.Errorf("help %s lacks %s", c.name, dash)
			}
			if !strings.Contains(man.String(), `\fB`+roff(dash)+`\fR`) {
				t.Errorf("man page lacks %s %s", c.name, dash)
			}
			if !strings.Contains(bash.String(), dash) || !strings.Contains(zsh.String(), "'"+dash+"[") {
				t.Errorf("bash/zsh completion lacks %s %s", c.name, dash)
			}
			if !strings.Contains(fish.String(), "__fish_seen_subcommand_from "+c.name+"' -"+map[bool]string{true: "o", false: "l"}[len(f.Name) == 1]+" "+f.Name) {
				t.Errorf("fish completion lacks %s %s", c.name, dash)
			}
		}
	}
}

// TestCompletionScriptsParse checks the generated scripts with the shells'
// own syntax check (zsh and fish only where installed).
func TestCompletionScriptsParse(t *testing.T) {
	for _, sh := range []struct{ shell, check string }{{"bash", "bash"}, {"zsh", "zsh"}, {"fish", "fish"}} {
		t.Run(sh.shell, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run([]string{"completion", sh.shell}, &out, &errb); code != 0 || out.Len() == 0 {
				t.Fatalf("completion %s: exit %d %s", sh.shell, code, errb.String())
			}
			path, err := exec.LookPath(sh.check)
			if err != nil {
				if sh.shell == "bash" {
					t.Fatal("bash not found")
				}
				t.Skipf("%s not installed", sh.check)
			}
			f := filepath.Join(t.TempDir(), "towerhook."+sh.shell)
			if err := os.WriteFile(f, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.Command(path, "-n", f).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", sh.check, err, b)
			}
		})
	}
}

// TestBashCompletionCompletes runs the bash function for a few lines.
func TestBashCompletionCompletes(t *testing.T) {
	var script bytes.Buffer
	run([]string{"completion", "bash"}, &script, &script)
	dir := t.TempDir()
	f := filepath.Join(dir, "c.bash")
	if err := os.WriteFile(f, script.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		line string // words; the last is being completed
		want string
	}{
		{"towerhook se", "serve"},
		{"towerhook serve --admin-w", "--admin-web-config"},
		{"towerhook serve --log-format ", "json text"},
		{"towerhook completion ", "bash zsh fish"},
		{"towerhook help va", "validate"},
	} {
		words := strings.Split(tt.line, " ")
		arr := "("
		for _, w := range words {
			arr += "'" + w + "' "
		}
		arr += ")"
		prog := "source " + f + "; COMP_WORDS=" + arr + "; COMP_CWORD=" + strconv.Itoa(len(words)-1) + "; _towerhook; echo \"${COMPREPLY[*]}\""
		b, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil || strings.TrimSpace(string(b)) != tt.want {
			t.Errorf("%q: got %q (%v), want %q", tt.line, b, err, tt.want)
		}
	}
}

// oneSpace folds runs of white space (help wraps lines).
func oneSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
