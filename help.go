package main

// Help in the habits of kubectl and promtool (docs/cli.md):
// `towerhook help CMD` and `CMD --help` print a description, examples and
// every flag with its human default and TOWERHOOK_* variable; a bad flag
// prints one line and a hint instead of the whole list.

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"towerhook/daemon"
)

const intro = "towerhook serves Cetmix Tower-style incoming webhooks from a directory of YAML definitions."

// writeUsage prints the command list.
func writeUsage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  towerhook COMMAND [flags]\n\nCommands:\n", intro)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"towerhook help COMMAND\" or \"towerhook COMMAND --help\" for its flags and examples.\n")
}

// help is `towerhook help [COMMAND]`.
func help(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("help", stderr)
	pos, err := parseArgs(fs, args, 0, 1)
	if err != nil {
		return exitParse(err)
	}
	if len(pos) == 0 {
		writeUsage(stdout)
		return 0
	}
	c, ok := lookupCommand(pos[0])
	if !ok {
		unknownCommand(stderr, pos[0])
		return 2
	}
	writeCommandHelp(stdout, c, commandFlags(c))
	return 0
}

// unknownCommand prints one line and a hint.
func unknownCommand(w io.Writer, name string) {
	fmt.Fprintf(w, "towerhook: unknown command %q%s\nRun \"towerhook help\" for the list of commands.\n", name, didYouMean(name, commandNames(), "%q"))
}

// flagCollector, passed as a command's stderr, receives the command's
// flag set from newFlagSet: commandFlags runs the command with --help to
// read its flags from the one place they are declared.
type flagCollector struct{ fs *flag.FlagSet }

func (*flagCollector) Write(p []byte) (int, error) { return len(p), nil }

// commandFlags returns c's flags, sorted by name (none: nil).
func commandFlags(c command) []*flag.Flag {
	col := &flagCollector{}
	c.run([]string{"--help"}, io.Discard, col)
	if col.fs == nil {
		return nil
	}
	var out []*flag.Flag
	col.fs.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	return out
}

// writeCommandHelp prints a command's help.
func writeCommandHelp(w io.Writer, c command, flags []*flag.Flag) {
	fmt.Fprintf(w, "towerhook %s - %s\n\nUsage:\n  %s\n", c.name, c.summary, strings.TrimSpace("towerhook "+c.name+" "+c.usage))
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", wrap(c.about, 78, ""))
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nExamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if len(flags) == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	for _, f := range flags {
		fmt.Fprintf(w, "  %s\n%s\n", flagSynopsis(f), wrap(flagDescription(c, f), 76, "      "))
	}
	if c.env {
		fmt.Fprint(w, "\nA flag on the command line wins over its variable.\n")
	}
}

// flagSynopsis is "--name VALUE" ("-X VALUE" for one-letter flags).
func flagSynopsis(f *flag.Flag) string {
	s := dashName(f.Name)
	if v := valueName(f); v != "" {
		s += " " + v
	}
	return s
}

// flagDescription is the usage text, the default and the variable.
func flagDescription(c command, f *flag.Flag) string {
	_, usage := flag.UnquoteUsage(f)
	var extra []string
	if d := humanDefault(c, f); d != "" {
		extra = append(extra, "default "+d)
	}
	if c.env {
		extra = append(extra, "env "+envName(f.Name))
	}
	if len(extra) > 0 {
		usage += " (" + strings.Join(extra, "; ") + ")"
	}
	return usage
}

// envName is the TOWERHOOK_* variable of a flag (see applyEnv).
func envName(flagName string) string {
	return "TOWERHOOK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func dashName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// isBool reports a flag that takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// valueName names a flag's value for help: a `backquoted` word of the
// usage, else from its type.
func valueName(f *flag.Flag) string {
	if isBool(f) {
		return ""
	}
	name, usage := flag.UnquoteUsage(f)
	if usage != f.Usage { // a `backquoted` name
		return name
	}
	switch f.Value.(type) {
	case *daemon.Size:
		return "SIZE"
	}
	switch name {
	case "duration":
		return "DURATION"
	case "int", "uint", "int64", "uint64":
		return "N"
	}
	if v, ok := map[string]string{"H": "'KEY: VALUE'", "X": "METHOD", "d": "BODY|@FILE", "since": "TIME", "until": "TIME",
		"webhook": "REF", "authenticator": "REF"}[f.Name]; ok {
		return v
	}
	parts := strings.Split(f.Name, "-")
	last := parts[len(parts)-1]
	if v, ok := map[string]string{"listen": "ADDR", "data": "DIR", "config": "FILE", "admin": "URL"}[last]; ok {
		return v
	}
	return strings.ToUpper(last)
}

// humanDefault is the default as a person writes it: 10MiB, 1m, none for
// false and "".
func humanDefault(c command, f *flag.Flag) string {
	if d, ok := c.defaults[f.Name]; ok {
		return d
	}
	v := f.DefValue
	if v == "" || v == "false" || v == "[]" {
		return ""
	}
	if d, err := time.ParseDuration(v); err == nil && valueName(f) == "DURATION" {
		return shortDuration(d)
	}
	return v
}

// shortDuration drops zero units: 1m0s -> 1m, 1h0m0s -> 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// wrap fills text to width columns after indent.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	for i, para := range strings.Split(text, "\n\n") {
		if i > 0 {
			b.WriteString("\n\n")
		}
		line := indent
		for _, word := range strings.Fields(para) {
			if len(line) > len(indent) && len(line)+1+len(word) > width {
				b.WriteString(strings.TrimRight(line, " ") + "\n")
				line = indent
			}
			if len(line) > len(indent) {
				line += " "
			}
			line += word
		}
		b.WriteString(line)
	}
	return b.String()
}

// flagOutput is a flag set's output: it holds the flag package's error
// message until Usage turns it into one line and a hint.
type flagOutput struct {
	w       io.Writer
	pending strings.Builder
}

func (o *flagOutput) Write(p []byte) (int, error) { return o.pending.Write(p) }

// usage is the flag set's Usage: the full help after -h/--help, one line
// and a hint after an error.
func (o *flagOutput) usage(name string, fs *flag.FlagSet) {
	msg := strings.TrimSpace(o.pending.String())
	o.pending.Reset()
	c, ok := lookupCommand(name)
	if msg == "" {
		if !ok {
			c = command{name: name}
		}
		var flags []*flag.Flag
		fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
		writeCommandHelp(o.w, c, flags)
		return
	}
	fmt.Fprintf(o.w, "towerhook %s: %s\nRun \"towerhook %s --help\" for usage.\n", name, flagError(msg, fs), name)
}

// flagError rewrites the flag package's messages in --double-dash form
// and suggests the nearest flag for an unknown one.
func flagError(msg string, fs *flag.FlagSet) string {
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		name = strings.TrimPrefix(name, "-")
		return "unknown flag " + dashName(name) + didYouMean(name, names, "--%s")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "flag " + dashName(strings.TrimPrefix(name, "-")) + " needs a value"
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			tail := rest[i+len(" for flag -"):]
			if j := strings.Index(tail, ": "); j >= 0 {
				return "invalid value " + rest[:i] + " for " + dashName(tail[:j]) + ": " + tail[j+2:]
			}
		}
	}
	return msg
}

// didYouMean returns ` (did you mean X?)` for the nearest of names within
// two edits (or sharing a prefix), formatted with format; "" when none is.
func didYouMean(s string, names []string, format string) string {
	best, bestD := "", 3
	for _, n := range names {
		d := editDistance(s, n)
		if strings.HasPrefix(n, s) && len(s) >= 3 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + fmt.Sprintf(format, best) + "?)"
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// wantsHelp reports -h/--help among the flags (before "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// sortedFlagNames lists flag names for completion.
func sortedFlagNames(flags []*flag.Flag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, dashName(f.Name))
	}
	sort.Strings(out)
	return out
}

// argCountError says how many positional arguments were expected.
func argCountError(minPos, maxPos int, pos []string) string {
	want := fmt.Sprintf("%d to %d arguments", minPos, maxPos)
	switch {
	case minPos == maxPos && minPos == 0:
		return fmt.Sprintf("unexpected argument %q", pos[0])
	case minPos == maxPos && minPos == 1:
		want = "1 argument"
	case minPos == maxPos:
		want = fmt.Sprintf("%d arguments", minPos)
	}
	return fmt.Sprintf("expected %s, got %d", want, len(pos))
}
