// Command towerhook serves Cetmix Tower-style incoming webhooks from a
// directory of YAML definitions. main stays thin: it parses flags (with
// TOWERHOOK_* environment fallbacks), turns signals into a context and hands
// over to the daemon package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"towerhook/daemon"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to the command named by args[0] (see commands.go).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeUsage(stderr)
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "-h", "--help", "-help":
		name = "help"
	case "--version", "-version":
		name = "version"
	}
	c, ok := lookupCommand(name)
	if !ok {
		unknownCommand(stderr, name)
		return 2
	}
	if wantsHelp(args) {
		// Asked-for help goes to stdout (pipe it to less).
		stderr = stdout
	}
	return c.run(args, stdout, stderr)
}

func serve(args []string, stderr io.Writer) int {
	o := daemon.DefaultOptions()
	fs := newFlagSet("serve", stderr)
	daemon.RegisterServeFlags(fs, &o)
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return exitParse(err)
	}
	if err := applyEnv(fs, "TOWERHOOK_"); err != nil {
		fmt.Fprintf(stderr, "towerhook serve: %v\n", err)
		return 2
	}
	o.Version = buildInfo().Version
	defer daemon.TuneRuntime(os.Getenv)()
	logger, err := daemon.NewLogger(stderr, o.LogFormat, o.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "towerhook serve: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	o.Reload = hup
	if err := daemon.Serve(ctx, o, logger); err != nil {
		fmt.Fprintf(stderr, "towerhook serve: %v\n", err)
		return daemon.ServeExitCode(err)
	}
	return 0
}

func validate(args []string, stdout, stderr io.Writer) int {
	o := daemon.ValidateOptions{RetentionDays: daemon.DefaultRetentionDays}
	fs := newFlagSet("validate", stderr)
	fs.IntVar(&o.RetentionDays, "log-retention-days", o.RetentionDays, "the daemon's call log retention: a longer dedup_window is an error (0 = forever)")
	fs.StringVar(&o.SecretsDir, "secrets-dir", "", "directory with one file per secret")
	fs.BoolVar(&o.RequireSecrets, "require-secrets", false, "fail on unresolved secrets even without --secrets-dir")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return exitParse(err)
	}
	o.Dir = pos[0]
	return daemon.Validate(o, stdout, stderr)
}

func call(args []string, stdout, stderr io.Writer) int {
	o := daemon.CallOptions{Method: "POST", Timeout: 10 * time.Second, RemoteAddr: "127.0.0.1"}
	var headers multiFlag
	fs := newFlagSet("call", stderr)
	fs.StringVar(&o.Method, "X", o.Method, "HTTP method (GET or POST)")
	fs.Var(&headers, "H", "request header 'Key: Value' (repeatable)")
	fs.StringVar(&o.Data, "d", "", "request body, or @file to read it from a file")
	fs.StringVar(&o.SecretsDir, "secrets-dir", "", "directory with one file per secret")
	fs.StringVar(&o.RemoteAddr, "remote-addr", o.RemoteAddr, "client address the request appears to come from: IP or IP:port ([v6]:port)")
	fs.StringVar(&o.Prefix, "prefix", daemon.DefaultPrefix, "URL prefix of webhook endpoints (as serve --prefix)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "default code time limit")
	fs.StringVar(&o.Mock, "mock", "", "file with a mocks: mapping answering requests and subprocess calls (nothing real is sent or started)")
	fs.BoolVar(&o.DisableRequests, "disable-requests", false, "remove the requests module")
	fs.BoolVar(&o.DisableSubprocess, "disable-subprocess", false, "remove the subprocess module")
	pos, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return exitParse(err)
	}
	o.Dir, o.Endpoint, o.Headers = pos[0], pos[1], headers
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return daemon.Call(ctx, o, stdout, stderr)
}

func test(args []string, stdout, stderr io.Writer) int {
	var o daemon.TestOptions
	fs := newFlagSet("test", stderr)
	fs.StringVar(&o.SecretsDir, "secrets-dir", "", "directory with one file per secret (default: each test's secrets, else placeholders)")
	fs.StringVar(&o.Run, "run", "", "run only the tests whose name matches this regular expression")
	fs.StringVar(&o.JUnit, "junit", "", "write a JUnit XML report to this file")
	fs.BoolVar(&o.Verbose, "v", false, "list every test, not only failures")
	fs.DurationVar(&o.Timeout, "timeout", daemon.DefaultTimeout, "code time limit of webhooks without a timeout")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return exitParse(err)
	}
	o.Dir = pos[0]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return daemon.Test(ctx, o, stdout, stderr)
}

func showLogs(args []string, stdout, stderr io.Writer) int {
	o := daemon.LogsOptions{Admin: "http://" + daemon.DefaultAdminListen, Limit: 50}
	fs := newFlagSet("logs", stderr)
	fs.StringVar(&o.Admin, "admin", o.Admin, "admin URL of the running daemon")
	fs.StringVar(&o.Data, "data", "", "data directory to read instead of asking the daemon (default ./data when no daemon is listening)")
	fs.StringVar(&o.Webhook, "webhook", "", "only this webhook reference")
	fs.StringVar(&o.Authenticator, "authenticator", "", "only this authenticator reference")
	fs.StringVar(&o.Status, "status", "", "success, failed, or an HTTP code (100-599)")
	fs.StringVar(&o.Since, "since", "", "RFC 3339 time or a duration ago (24h)")
	fs.StringVar(&o.Until, "until", "", "RFC 3339 time or a duration ago")
	fs.IntVar(&o.Limit, "limit", o.Limit, "number of records (1-1000; a page with --all)")
	fs.BoolVar(&o.JSON, "json", false, "print JSON lines")
	fs.BoolVar(&o.Follow, "follow", false, "print the last --limit calls, then new calls as they are logged")
	fs.BoolVar(&o.Follow, "f", false, "short for --follow")
	fs.BoolVar(&o.All, "all", false, "print every matching record, not one page")
	fs.StringVar(&o.Cursor, "cursor", "", "continue where the previous page ended")
	fs.BoolVar(&o.Local, "local", false, "print times in the local time zone instead of UTC")
	fs.BoolVar(&o.Check, "check", false, "check the store under --data (the daemon stopped) and its journal: OK or the damage; exit 0 or 1")
	pos, err := parseArgs(fs, args, 0, 2)
	if err != nil {
		return exitParse(err)
	}
	if len(pos) > 0 && (pos[0] != "show" || len(pos) != 2) {
		fmt.Fprintf(stderr, "towerhook logs: want no argument or \"show ID\", got %q\nRun \"towerhook logs --help\" for usage.\n", strings.Join(pos, " "))
		return 2
	}
	if len(pos) == 2 {
		o.Show = pos[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return daemon.Logs(ctx, o, stdout, stderr)
}

func showJobs(args []string, stdout, stderr io.Writer) int {
	o := daemon.JobsOptions{Admin: "http://" + daemon.DefaultAdminListen, Limit: 50}
	fs := newFlagSet("jobs", stderr)
	fs.StringVar(&o.Admin, "admin", o.Admin, "admin URL of the running daemon")
	fs.StringVar(&o.State, "state", "", "only jobs in this state (queued, running, retrying, succeeded, dead, superseded, canceled)")
	fs.StringVar(&o.Webhook, "webhook", "", "only this webhook reference")
	fs.IntVar(&o.Limit, "limit", o.Limit, "number of jobs")
	fs.BoolVar(&o.JSON, "json", false, "print JSON lines")
	pos, err := parseArgs(fs, args, 0, 2)
	if err != nil {
		return exitParse(err)
	}
	switch {
	case len(pos) == 0:
	case len(pos) == 2 && (pos[0] == "retry" || pos[0] == "cancel"):
		o.Action, o.ID = pos[0], pos[1]
	default:
		fmt.Fprintf(stderr, "towerhook jobs: want no argument, \"retry ID\" or \"cancel ID\", got %q\nRun \"towerhook jobs --help\" for usage.\n", strings.Join(pos, " "))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return daemon.Jobs(ctx, o, stdout, stderr)
}

// newFlagSet makes a command's flag set: -h/--help prints the command's
// help, a bad flag one line and a hint (help.go).
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("towerhook "+name, flag.ContinueOnError)
	out := &flagOutput{w: stderr}
	fs.SetOutput(out)
	fs.Usage = func() { out.usage(name, fs) }
	if c, ok := stderr.(*flagCollector); ok {
		c.fs = fs
	}
	return fs
}

// errUsage reports wrong positional arguments (usage already printed).
var errUsage = errors.New("usage")

// parseArgs parses flags that may appear before or after positional
// arguments and checks the number of positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		fmt.Fprint(fs.Output(), argCountError(minPos, maxPos, pos))
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

func exitParse(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// applyEnv sets every flag not given on the command line from the
// environment variable prefix + FLAG_NAME (dashes to underscores).
func applyEnv(fs *flag.FlagSet, prefix string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	return err
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
