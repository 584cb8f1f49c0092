package main

// Shell completion scripts (`towerhook completion bash|zsh|fish`),
// generated from the command table and each command's flag set.

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// completion is `towerhook completion SHELL`.
func completion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("completion", stderr)
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return exitParse(err)
	}
	gen, ok := map[string]func(io.Writer, []cmdSpec){"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[pos[0]]
	if !ok {
		fmt.Fprintf(stderr, "towerhook completion: unknown shell %q (bash, zsh or fish)\n", pos[0])
		return 2
	}
	gen(stdout, specs())
	return 0
}

// cmdSpec is what a completion script needs of a command.
type cmdSpec struct {
	command
	flags []*flag.Flag
	// words completes the positional argument from a fixed list.
	words []string
}

func specs() []cmdSpec {
	var out []cmdSpec
	for _, c := range commands() {
		s := cmdSpec{command: c, flags: commandFlags(c)}
		switch c.name {
		case "completion":
			s.words = []string{"bash", "zsh", "fish"}
		case "help":
			s.words = commandNames()
		}
		out = append(out, s)
	}
	return out
}

// valueKind is how a flag's value completes: "dir", "file", a fixed list
// of words, or "" (free text).
func valueKind(f *flag.Flag) (kind string, words []string) {
	switch f.Name {
	case "log-format":
		return "words", []string{"json", "text"}
	case "log-level":
		return "words", []string{"debug", "info", "warn", "error"}
	case "status":
		return "words", []string{"success", "failed"}
	case "state":
		return "words", []string{"queued", "running", "retrying", "succeeded", "dead", "superseded", "canceled"}
	case "X":
		return "words", []string{"GET", "POST"}
	}
	switch {
	case strings.HasSuffix(f.Name, "dir") || f.Name == "data":
		return "dir", nil
	case strings.HasSuffix(f.Name, "config") || f.Name == "d":
		return "file", nil
	}
	return "", nil
}

func bashCompletion(w io.Writer, specs []cmdSpec) {
	var names []string
	for _, s := range specs {
		names = append(names, s.name)
	}
	fmt.Fprintf(w, `# bash completion for towerhook (towerhook completion bash)
_towerhook() {
    local cur prev cmd i flags words args
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W %q -- "$cur"))
        return
    fi
    case "$cmd $prev" in
`, strings.Join(names, " "))
	for _, s := range specs {
		for _, f := range s.flags {
			if isBool(f) {
				continue
			}
			kind, words := valueKind(f)
			pat := fmt.Sprintf("%q", s.name+" "+dashName(f.Name))
			if len(f.Name) > 1 {
				pat += fmt.Sprintf("|%q", s.name+" -"+f.Name)
			}
			switch kind {
			case "dir":
				fmt.Fprintf(w, "    %s) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", pat)
			case "file":
				fmt.Fprintf(w, "    %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", pat)
			case "words":
				fmt.Fprintf(w, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", pat, strings.Join(words, " "))
			default:
				fmt.Fprintf(w, "    %s) return ;;\n", pat)
			}
		}
	}
	fmt.Fprint(w, "    esac\n    case $cmd in\n")
	for _, s := range specs {
		fmt.Fprintf(w, "    %s) flags=%q; args=%q; words=%q ;;\n", s.name, strings.Join(sortedFlagNames(s.flags), " "), s.args, strings.Join(s.words, " "))
	}
	fmt.Fprint(w, `    *) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -n $words ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    elif [[ $args == dir ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
    fi
}
complete -F _towerhook towerhook
`)
}

// zshQuote makes text safe inside a single-quoted _arguments spec.
func zshQuote(s string) string {
	r := strings.NewReplacer("'", "", "[", "(", "]", ")", ":", " -", "\\", "")
	return r.Replace(s)
}

func zshCompletion(w io.Writer, specs []cmdSpec) {
	fmt.Fprint(w, "#compdef towerhook\n# zsh completion for towerhook (towerhook completion zsh): put it on $fpath as\n"+
		"# _towerhook, or source it after compinit.\n_towerhook() {\n    local -a commands\n    commands=(\n")
	for _, s := range specs {
		fmt.Fprintf(w, "        '%s:%s'\n", s.name, zshQuote(s.summary))
	}
	fmt.Fprint(w, "    )\n    if (( CURRENT == 2 )); then\n        _describe 'command' commands\n        return\n    fi\n    shift words\n    (( CURRENT-- ))\n    case $words[1] in\n")
	for _, s := range specs {
		fmt.Fprintf(w, "    %s)\n        _arguments -s \\\n", s.name)
		for _, f := range s.flags {
			_, usage := flag.UnquoteUsage(f)
			spec := dashName(f.Name) + "[" + zshQuote(usage) + "]"
			if !isBool(f) {
				kind, words := valueKind(f)
				action := ""
				switch kind {
				case "dir":
					action = "_files -/"
				case "file":
					action = "_files"
				case "words":
					action = "(" + strings.Join(words, " ") + ")"
				}
				spec += ":" + strings.ToLower(valueName(f)) + ":" + action
			}
			fmt.Fprintf(w, "            '%s' \\\n", spec)
		}
		switch {
		case len(s.words) > 0:
			fmt.Fprintf(w, "            '1:%s:(%s)' \\\n", s.name, strings.Join(s.words, " "))
		case s.args == "dir":
			fmt.Fprint(w, "            '1:directory:_files -/' \\\n")
		}
		fmt.Fprint(w, "            && return 0\n        ;;\n")
	}
	fmt.Fprint(w, "    esac\n}\nif [ \"$funcstack[1]\" = \"_towerhook\" ]; then\n    _towerhook \"$@\"\nelse\n    compdef _towerhook towerhook\nfi\n")
}

// fishQuote single-quotes s for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

func fishCompletion(w io.Writer, specs []cmdSpec) {
	fmt.Fprint(w, "# fish completion for towerhook (towerhook completion fish)\ncomplete -c towerhook -f\n")
	for _, s := range specs {
		fmt.Fprintf(w, "complete -c towerhook -n __fish_use_subcommand -a %s -d %s\n", s.name, fishQuote(s.summary))
	}
	for _, s := range specs {
		cond := fishQuote("__fish_seen_subcommand_from " + s.name)
		if len(s.words) > 0 {
			fmt.Fprintf(w, "complete -c towerhook -n %s -a %s\n", cond, fishQuote(strings.Join(s.words, " ")))
		}
		if s.args == "dir" {
			fmt.Fprintf(w, "complete -c towerhook -n %s -a '(__fish_complete_directories)'\n", cond)
		}
		for _, f := range s.flags {
			_, usage := flag.UnquoteUsage(f)
			opt := "-l " + f.Name
			if len(f.Name) == 1 {
				opt = "-o " + f.Name
			}
			val := ""
			if !isBool(f) {
				kind, words := valueKind(f)
				switch kind {
				case "dir":
					val = " -x -a '(__fish_complete_directories)'"
				case "file":
					val = " -r -F"
				case "words":
					val = " -x -a " + fishQuote(strings.Join(words, " "))
				default:
					val = " -x"
				}
			}
			fmt.Fprintf(w, "complete -c towerhook -n %s %s%s -d %s\n", cond, opt, val, fishQuote(usage))
		}
	}
}
