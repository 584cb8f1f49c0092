package main

import (
	"io"
	"sort"
)

// command is one `towerhook` subcommand: the source of `help`, `CMD
// --help`, the shell completions and the man page. Its flags are not
// listed here: they are read from the command's own flag set (see
// commandFlags), so a flag added to a command shows up everywhere.
type command struct {
	name    string
	summary string // one line, lower case, no period
	usage   string // arguments after "towerhook NAME"
	// about is the longer description (paragraphs separated by blank lines).
	about    string
	examples []string
	// env: every flag can also be set by TOWERHOOK_<FLAG>.
	env bool
	// defaults replaces a flag's default in help where the value depends
	// on the machine.
	defaults map[string]string
	// args completes positional arguments: "dir", "file" or "" (none).
	args string
	run  func(args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand in help order.
func commands() []command {
	return []command{
		{
			name: "serve", summary: "serve webhooks from a definitions directory", usage: "[flags]",
			about: "Serves the webhooks of --dir on --listen and metrics, health, reload and the APIs on " +
				"--admin-listen. The directory is watched and reloaded on change, SIGHUP and POST /-/reload; " +
				"a broken change keeps the last good set serving. SIGTERM drains and exits 0.",
			examples: []string{
				"towerhook serve --dir /etc/towerhook/webhooks --secrets-dir /etc/towerhook/secrets --data /var/lib/towerhook",
				"TOWERHOOK_LISTEN=:9000 towerhook serve --dir webhooks",
				"towerhook serve --admin-web-config admin-web.yml   # TLS and basic auth on the admin listener",
			},
			env: true,
			defaults: map[string]string{
				"max-concurrent":   "16 x CPUs, at least 64",
				"max-subprocesses": "16 x CPUs",
				"max-memory":       "90% of the cgroup memory limit, else 0 (off)",
			},
			run: func(a []string, _, e io.Writer) int { return serve(a, e) },
		},
		{
			name: "validate", summary: "check a definitions directory", usage: "DIR [flags]",
			about: "Loads and compiles DIR exactly as serve does. Prints a summary and exits 0, or prints " +
				"every error as file:line: message and exits 1. Without --secrets-dir secrets are not " +
				"checked and the ones needed are listed.",
			examples: []string{
				"towerhook validate webhooks/",
				"towerhook validate /etc/towerhook/webhooks --secrets-dir /etc/towerhook/secrets",
			},
			args: "dir", run: validate,
		},
		{
			name: "call", summary: "run one webhook call without a server (--mock: a dry run)", usage: "DIR ENDPOINT [flags]",
			about: "Runs one request through the same pipeline as serve, without a server or a call log, " +
				"and prints the matched webhook and authenticator (file:line), the authentication result, the status, " +
				"the body, the code's log lines and the duration. Exit 0 on a 2xx answer, 1 otherwise. The code's " +
				"requests and subprocesses are real unless --mock answers them or --disable-requests / " +
				"--disable-subprocess remove them.",
			examples: []string{
				`towerhook call webhooks/ github/push -H 'X-GitHub-Event: push' -d @payload.json --secrets-dir secrets/`,
				`towerhook call webhooks/ monitoring/heartbeat -X GET --remote-addr 203.0.113.7`,
				`towerhook call webhooks/ deploy/app -d @push.json --mock mocks.yaml   # nothing real is sent or started`,
			},
			args: "dir", run: call,
		},
		{
			name: "test", summary: "run the *_test.yaml tests of a definitions directory", usage: "DIR [flags]",
			about: "Loads DIR exactly as serve does and runs every test of its *_test.yaml files through the " +
				"same pipeline, in process and in parallel: requests and subprocess calls are answered by the " +
				"tests' mocks, nothing is sent and nothing is started. Prints failures with file:line (every " +
				"test with -v) and ends with 'N passed, N failed'. Exit 0 when all pass, 1 when a test fails, " +
				"2 when the directory or a test file does not load.",
			examples: []string{
				"towerhook test webhooks/",
				"towerhook test webhooks/ --run 'github' -v",
				"towerhook test webhooks/ --junit report.xml   # for GitLab, GitHub or Jenkins test reports",
			},
			args: "dir", run: test,
		},
		{
			name: "logs", summary: "show the call log (from the running daemon, or the store)", usage: "[show ID] [flags]",
			about: "Asks the daemon's admin API at --admin for call log records, newest first, one page of " +
				"--limit (a line on stderr gives the --cursor of the next; --all prints every page). " +
				"--follow prints the last calls, then new ones as they are logged, and reconnects when the " +
				"daemon restarts. `logs show ID` prints one record with its headers, payload and log lines. " +
				"When no daemon answers it reads ./data directly (and says so on stderr); --data DIR reads " +
				"that store instead (the daemon must be stopped), and --check checks it. Times are UTC unless --local.",
			examples: []string{
				"towerhook logs --since 1h --status failed",
				"towerhook logs -f --webhook github_push",
				"towerhook logs show 0189f3c2a1b04c5e0000000000000001",
				"towerhook logs --all --since 24h --json > calls.jsonl",
				"towerhook logs --check --data /var/lib/towerhook   # the daemon stopped",
				"towerhook logs --admin https://prometheus:PASSWORD@towerhook.internal:8081",
			},
			run: showLogs,
		},
		{
			name: "jobs", summary: "list background jobs of the running daemon; retry or cancel one",
			usage: "[retry ID | cancel ID] [flags]",
			about: "Asks the daemon's admin API at --admin for the background jobs of delivery: async " +
				"webhooks (docs/delivery.md), newest first. `jobs retry ID` runs a dead job again now; " +
				"`jobs cancel ID` ends a queued or retrying one canceled.",
			examples: []string{
				"towerhook jobs --state dead",
				"towerhook jobs retry 0189f3c2a1b04c5e0000000000000001",
				"towerhook jobs cancel 0189f3c2a1b04c5e0000000000000001",
			},
			run: showJobs,
		},
		{
			name: "completion", summary: "print a shell completion script (bash, zsh or fish)", usage: "bash|zsh|fish",
			about: "Prints the completion script for the shell. `make install` installs all three.",
			examples: []string{
				"source <(towerhook completion bash)",
				"towerhook completion zsh > \"${fpath[1]}/_towerhook\"",
				"towerhook completion fish > ~/.config/fish/completions/towerhook.fish",
			},
			run: completion,
		},
		{
			name: "man", summary: "print the man page (roff)", usage: "",
			about:    "Prints towerhook(1), generated from the same source as the help.",
			examples: []string{"towerhook man | man -l -"},
			run:      manPage,
		},
		{
			name: "version", summary: "print the version, revision, build time and Go version", usage: "",
			run: func(_ []string, o, _ io.Writer) int { writeVersion(o, buildInfo()); return 0 },
		},
		{
			name: "help", summary: "show help for a command", usage: "[COMMAND]",
			examples: []string{"towerhook help serve"},
			run:      help,
		},
	}
}

// lookupCommand finds a command by name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// commandNames lists the command names (sorted).
func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	sort.Strings(names)
	return names
}
