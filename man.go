package main

// towerhook(1), generated from the command table and the flag sets that
// also make `help` and the completions (`towerhook man`; make install
// writes it to share/man/man1/towerhook.1).

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// manPage is `towerhook man`.
func manPage(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("man", stderr)
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return exitParse(err)
	}
	writeMan(stdout, buildInfo().Version)
	return 0
}

// roff escapes text for a roff line.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func writeMan(w io.Writer, version string) {
	fmt.Fprintf(w, ".TH TOWERHOOK 1 \"\" \"towerhook %s\" \"User Commands\"\n", roff(version))
	fmt.Fprint(w, ".SH NAME\ntowerhook \\- serve Cetmix Tower\\-style incoming webhooks from YAML definitions\n")
	fmt.Fprint(w, ".SH SYNOPSIS\n.B towerhook\n.I command\n[\\fIflags\\fR] [\\fIarguments\\fR]\n")
	fmt.Fprintf(w, ".SH DESCRIPTION\n%s\nFlags may come before or after the arguments.\n", roff(intro))
	fmt.Fprint(w, ".SH COMMANDS\n")
	for _, c := range commands() {
		fmt.Fprintf(w, ".SS \"%s\"\n", roff(strings.TrimSpace("towerhook "+c.name+" "+c.usage)))
		fmt.Fprintf(w, "%s.\n", roff(strings.ToUpper(c.summary[:1])+c.summary[1:]))
		if c.about != "" {
			fmt.Fprintf(w, ".PP\n%s\n", roff(c.about))
		}
		for _, f := range commandFlags(c) {
			writeManFlag(w, c, f)
		}
		if len(c.examples) > 0 {
			fmt.Fprint(w, ".PP\nExamples:\n.RS\n.nf\n")
			for _, e := range c.examples {
				fmt.Fprintf(w, "%s\n", roff(e))
			}
			fmt.Fprint(w, ".fi\n.RE\n")
		}
	}
	fmt.Fprint(w, ".SH ENVIRONMENT\nEvery flag of \\fBserve\\fR can be set by \\fBTOWERHOOK_\\fIFLAG\\fR "+
		"(upper case, \\- becomes _); a flag on the command line wins. "+
		"\\fBTOWERHOOK_SECRET_\\fIREF\\fR supplies the secret \\fIREF\\fR.\n")
	fmt.Fprint(w, ".SH EXIT STATUS\n0 on success, 1 on failure (validate: errors found; call: a non\\-2xx answer), 2 on a usage error.\n")
	fmt.Fprint(w, ".SH SEE ALSO\nThe README and the docs/ pages of the towerhook source, installed in share/doc/towerhook/.\n")
}

func writeManFlag(w io.Writer, c command, f *flag.Flag) {
	syn := `\fB` + roff(dashName(f.Name)) + `\fR`
	if v := valueName(f); v != "" {
		syn += ` \fI` + roff(v) + `\fR`
	}
	fmt.Fprintf(w, ".TP\n%s\n%s\n", syn, roff(flagDescription(c, f)))
}
