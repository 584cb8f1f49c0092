package definitions

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// secretMarker starts every secret placeholder in code.
const secretMarker = "#!cxtower.secret."

// secretRe matches a secret placeholder; group 1 is the reference.
var secretRe = regexp.MustCompile(`#!cxtower\.secret\.([A-Za-z0-9_.-]+)!#`)

// SecretEnvName returns the environment variable consulted for the secret
// ref: TOWERHOOK_SECRET_ followed by ref upper-cased, with every character
// other than a letter or digit replaced by "_".
func SecretEnvName(ref string) string {
	b := make([]byte, 0, len("TOWERHOOK_SECRET_")+len(ref))
	b = append(b, "TOWERHOOK_SECRET_"...)
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

// LuaString returns s as a Lua string literal that evaluates to exactly the
// bytes of s. Printable ASCII passes through; quotes, backslashes, control
// bytes and bytes >= 0x80 become three-digit decimal escapes (\ddd), so the
// literal never spans lines and survives any input.
func LuaString(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
			continue
		}
		b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
	}
	b = append(b, '"')
	return string(b)
}

// secretResult is the outcome of resolving one secret reference.
type secretResult struct {
	value string
	found bool
	err   string // never contains the value
}

// secretResolver resolves and caches secret references for one load. It is
// safe for concurrent use.
type secretResolver struct {
	given        map[string]string
	dir          string
	env          map[string]string
	allowMissing bool

	mu    sync.Mutex
	cache map[string]secretResult
}

func newSecretResolver(opts Options) *secretResolver {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := make(map[string]string)
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "TOWERHOOK_SECRET_") {
			continue
		}
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return &secretResolver{given: opts.Secrets, dir: opts.SecretsDir, env: env, allowMissing: opts.AllowMissingSecrets, cache: make(map[string]secretResult)}
}

// resolve returns the secret named ref.
func (r *secretResolver) resolve(ref string) secretResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := r.cache[ref]; ok {
		return res
	}
	res := r.lookup(ref)
	r.cache[ref] = res
	return res
}

func (r *secretResolver) lookup(ref string) secretResult {
	if v, ok := r.given[ref]; ok {
		return secretResult{value: v, found: true}
	}
	if r.dir != "" && !strings.HasPrefix(ref, ".") {
		data, err := os.ReadFile(filepath.Join(r.dir, ref))
		switch {
		case err == nil:
			v := string(data)
			if strings.HasSuffix(v, "\r\n") {
				v = v[:len(v)-2]
			} else if strings.HasSuffix(v, "\n") {
				v = v[:len(v)-1]
			}
			return secretResult{value: v, found: true}
		case errors.Is(err, fs.ErrNotExist):
			// fall through to the environment
		default:
			var pe *fs.PathError
			msg := err.Error()
			if errors.As(err, &pe) {
				msg = pe.Err.Error()
			}
			return secretResult{err: "cannot read secret file " + strconv.Quote(ref) + " in secrets directory: " + msg}
		}
	}
	if v, ok := r.env[SecretEnvName(ref)]; ok {
		return secretResult{value: v, found: true}
	}
	return secretResult{}
}

// substitution is the outcome of replacing secret placeholders in one code.
type substitution struct {
	code    string
	refs    []string // distinct, sorted
	values  []string // resolved values (may repeat)
	missing []string // unresolved refs replaced by placeholders
	errs    []string // messages; each names a secret ref, never a value
}

// substitute replaces every secret placeholder in code.
func (r *secretResolver) substitute(code string) substitution {
	if !strings.Contains(code, secretMarker) {
		return substitution{code: code}
	}
	var sub substitution
	seen := map[string]bool{}
	sub.code = secretRe.ReplaceAllStringFunc(code, func(m string) string {
		ref := m[len(secretMarker) : len(m)-2]
		res := r.resolve(ref)
		first := !seen[ref]
		seen[ref] = true
		if first {
			sub.refs = append(sub.refs, ref)
		}
		switch {
		case res.err != "":
			if first {
				sub.errs = append(sub.errs, res.err)
			}
			return LuaString(placeholder(ref))
		case res.found:
			if first {
				sub.values = append(sub.values, res.value)
			}
			return LuaString(res.value)
		default:
			if first {
				if r.allowMissing {
					sub.missing = append(sub.missing, ref)
				} else {
					where := "no --secrets-dir"
					if r.dir != "" {
						where = "no file " + strconv.Quote(ref) + " in the secrets directory"
					}
					sub.errs = append(sub.errs, "unresolved secret "+strconv.Quote(ref)+
						" ("+where+", no "+SecretEnvName(ref)+" variable)")
				}
			}
			return LuaString(placeholder(ref))
		}
	})
	sortStrings(sub.refs)
	return sub
}

// placeholder is the value an unresolved secret gets when missing secrets
// are allowed.
func placeholder(ref string) string { return "<missing secret " + ref + ">" }

// ResolveSecrets returns the value of each secret in refs as LoadDir with
// opts would substitute it: Options.Secrets, the secrets directory, the
// environment, else (with AllowMissingSecrets) the placeholder. A secret
// that cannot be resolved is left out. towerhook test hands these values to
// a test's sign code, so it signs with what the code checks against.
func ResolveSecrets(refs []string, opts Options) map[string]string {
	r := newSecretResolver(opts)
	out := make(map[string]string, len(refs))
	for _, ref := range refs {
		switch res := r.resolve(ref); {
		case res.found:
			out[ref] = res.value
		case res.err == "" && opts.AllowMissingSecrets:
			out[ref] = placeholder(ref)
		}
	}
	return out
}
