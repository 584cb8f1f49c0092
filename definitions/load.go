package definitions

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options control how LoadDir resolves secrets.
type Options struct {
	// SecretsDir holds one file per secret (file name = reference, trailing
	// newline trimmed), like a mounted Kubernetes Secret. Optional.
	SecretsDir string
	// Environ is the environment searched for TOWERHOOK_SECRET_<REF>
	// (upper-cased reference). Nil means os.Environ().
	Environ []string
	// AllowMissingSecrets substitutes a placeholder for unresolved secrets
	// instead of failing (for `towerhook validate` without secrets); the
	// missing references are listed by Set.MissingSecrets.
	AllowMissingSecrets bool
	// Secrets are secret values that win over SecretsDir and Environ
	// (towerhook test's per-test secrets). Optional.
	Secrets map[string]string
	// SkipCodeCheck leaves Lua syntax checking of a valid directory to the
	// caller: the daemon's build step compiles every code with the lua
	// package anyway and reports errors the same way (file, line,
	// reference, Lua line), so a reload parses each code once, not twice.
	// A load that fails for other reasons still checks every code, so it
	// reports exactly the errors a load without SkipCodeCheck reports.
	SkipCodeCheck bool
	// RetentionDays is the call log's retention: a dedup_window longer
	// than it is an error (0 = kept forever, no limit).
	RetentionDays int
}

// LoadDir reads every *.yaml / *.yml file below dir and returns a complete
// validated Set, or a non-nil error of type Errors listing every problem.
// It never returns a partial set.
//
// Names starting with "." are skipped, except that when dir holds a
// Kubernetes "..data" link the scan reads through it, so one scan sees one
// snapshot. Symbolic links to files and folders are followed.
func LoadDir(dir string, opts Options) (*Set, error) {
	root, files, errs := scanDir(dir, false)
	if len(errs) > 0 {
		return nil, errs
	}
	d := &decoder{secrets: newSecretResolver(opts), skipCode: opts.SkipCodeCheck,
		maxWindow: time.Duration(max(opts.RetentionDays, 0)) * 24 * time.Hour}
	results := make([]fileResult, len(files))
	workers := min(runtime.GOMAXPROCS(0), len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(files[i])))
				if err != nil {
					results[i] = fileResult{errs: []*Error{{File: files[i], Msg: "cannot read file: " + pathErrText(err)}}}
					continue
				}
				results[i] = d.decodeFile(files[i], data)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return build(files, results)
}

// StatFiles returns the files LoadDir would read below dir, by their
// slash-separated path relative to the scanned root, with what os.Stat
// says of them (symbolic links followed). A file that vanishes meanwhile
// is left out; folders that cannot be read are skipped (LoadDir reports
// them). The daemon compares the files between reloads to hold back one
// that is still being written (docs/operations.md "Reload").
func StatFiles(dir string) map[string]fs.FileInfo {
	root, files, _ := scanDir(dir, false)
	out := make(map[string]fs.FileInfo, len(files))
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(f))); err == nil {
			out[f] = fi
		}
	}
	return out
}

// pathErrText is err without the absolute path that fs.PathError carries.
func pathErrText(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// scanDir lists the definition files (or, with tests, the test files:
// IsTestFile) below dir (relative, slash-separated, sorted) and the root
// they are relative to.
func scanDir(dir string, tests bool) (string, []string, Errors) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", nil, Errors{{Msg: fmt.Sprintf("cannot read definitions directory %s: %s", dir, pathErrText(err))}}
	}
	if !st.IsDir() {
		return "", nil, Errors{{Msg: fmt.Sprintf("definitions directory %s is not a directory", dir)}}
	}
	root := dir
	if _, err := os.Lstat(filepath.Join(dir, "..data")); err == nil {
		resolved, err := filepath.EvalSymlinks(filepath.Join(dir, "..data"))
		if err != nil {
			return "", nil, Errors{{Msg: fmt.Sprintf("cannot resolve %s: %s", filepath.Join(dir, "..data"), pathErrText(err))}}
		}
		root = resolved
	}
	var files []string
	var errs Errors
	visited := map[string]bool{}
	var walk func(abs, rel string)
	walk = func(abs, rel string) {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			if visited[real] {
				return // a symlink loop or a folder seen twice
			}
			visited[real] = true
		}
		entries, err := os.ReadDir(abs)
		if err != nil {
			errs = append(errs, &Error{File: rel, Msg: "cannot read directory: " + pathErrText(err)})
			return
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			childAbs, childRel := filepath.Join(abs, name), path.Join(rel, name)
			isYAML := strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
			mode := e.Type()
			if mode&fs.ModeSymlink != 0 {
				fi, err := os.Stat(childAbs)
				if err != nil {
					if isYAML {
						errs = append(errs, &Error{File: childRel, Msg: "cannot read file: " + pathErrText(err)})
					}
					continue
				}
				mode = fi.Mode().Type()
			}
			switch {
			case mode.IsDir():
				walk(childAbs, childRel)
			case mode.IsRegular() && isYAML && IsTestFile(name) == tests:
				files = append(files, childRel)
			}
		}
	}
	walk(root, "")
	sort.Strings(files)
	return root, files, errs
}

// byPlace orders records by file, then line.
func byPlace(a, b *rawRecord) int {
	if c := cmp.Compare(a.file, b.file); c != 0 {
		return c
	}
	return cmp.Compare(a.line, b.line)
}

// build validates the decoded files as a whole and assembles the Set.
func build(files []string, results []fileResult) (*Set, error) {
	var errs Errors
	var all, auths, hooks []*rawRecord
	for _, res := range results {
		errs = append(errs, res.errs...)
		for _, r := range res.records {
			all = append(all, r)
			if r.nested != nil {
				all = append(all, r.nested)
			}
		}
	}
	for _, r := range all {
		switch r.model {
		case ModelAuthenticator:
			auths = append(auths, r)
		case ModelWebhook:
			hooks = append(hooks, r)
		}
	}
	slices.SortStableFunc(auths, byPlace)
	slices.SortStableFunc(hooks, byPlace)

	assignReferences(auths, ModelAuthenticator)
	assignReferences(hooks, ModelWebhook)
	authByRef := dedupe(auths, "authenticator", sameAuth, true)
	dedupe(hooks, "webhook", sameWebhook, false)

	routes := map[RouteKey]*rawRecord{}
	for _, w := range hooks {
		if w.canonical != w {
			continue
		}
		switch {
		case w.nested != nil:
			if w.nested.model == ModelAuthenticator {
				w.auth = w.nested.canonical
			}
		case w.authRef != "":
			if a, ok := authByRef[w.authRef]; ok {
				w.auth = a
			} else {
				w.errf(w.authLine, "authenticator_id: unknown authenticator %q", w.authRef)
			}
		}
		if !w.endpointOK {
			continue
		}
		key := RouteKey{Endpoint: w.endpoint, Method: w.method}
		if prev, ok := routes[key]; ok {
			w.errf(w.endpointLine, "endpoint %q with method %s is already used by webhook %q at %s:%d",
				w.endpoint, w.method, prev.ref, prev.file, prev.endpointLine)
			continue
		}
		routes[key] = w
	}

	if len(errs) > 0 || slices.ContainsFunc(all, func(r *rawRecord) bool { return len(r.errs) > 0 }) {
		// The load fails: list every error, Lua syntax errors included,
		// whatever the caller meant to compile itself.
		for _, r := range all {
			r.checkPendingCode()
		}
	}
	for _, r := range all {
		for _, e := range r.errs {
			if e.Reference == "" {
				e.Reference = r.ref
			}
		}
		errs = append(errs, r.errs...)
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int {
			if c := cmp.Compare(a.File, b.File); c != 0 {
				return c
			}
			return cmp.Compare(a.Line, b.Line)
		})
		return nil, errs
	}
	return assemble(files, auths, hooks), nil
}

// assignReferences generates missing references from names as Tower does,
// in file/line order, suffixing _2, _3, ... on collisions.
func assignReferences(recs []*rawRecord, model string) {
	taken := map[string]bool{}
	for _, r := range recs {
		if r.ref != "" {
			taken[r.ref] = true
		}
	}
	for _, r := range recs {
		if r.ref != "" {
			continue
		}
		base := fixReference(r.name)
		if base == "" {
			base = model
		}
		ref := base
		for i := 2; taken[ref]; i++ {
			ref = base + "_" + strconv.Itoa(i)
		}
		taken[ref] = true
		r.ref = ref
	}
}

// dedupe maps references to their first definition; every later definition
// points to it. A later definition with different content is an error
// naming both places; so is an identical one unless copies is set.
// Authenticators allow copies: a Tower export nests the authenticator in
// every webhook that uses it, so the same one appears in many files. A
// webhook is defined once (docs/definitions.md: a reference is unique per model across
// the directory), so a copied file is an error, not a silent no-op.
func dedupe(recs []*rawRecord, kind string, same func(a, b *rawRecord) bool, copies bool) map[string]*rawRecord {
	byRef := make(map[string]*rawRecord, len(recs))
	for _, r := range recs {
		prev, ok := byRef[r.ref]
		if !ok {
			byRef[r.ref] = r
			r.canonical = r
			continue
		}
		r.canonical = prev
		switch {
		case !same(prev, r):
			r.errf(0, "%s %q is already defined at %s:%d with different content", kind, r.ref, prev.file, prev.line)
		case !copies:
			r.errf(0, "%s %q is already defined at %s:%d (an identical copy: a %s reference must be unique across the directory)",
				kind, r.ref, prev.file, prev.line, kind)
		}
	}
	return byRef
}

func sameAuth(a, b *rawRecord) bool {
	return a.name == b.name && a.code == b.code &&
		slices.Equal(a.allowed, b.allowed) && slices.Equal(a.proxies, b.proxies)
}

func sameWebhook(a, b *rawRecord) bool {
	if a.name != b.name || a.code != b.code || a.active != b.active || a.endpoint != b.endpoint ||
		a.method != b.method || a.contentType != b.contentType || a.runAs != b.runAs || a.timeout != b.timeout ||
		!sameDelivery(a.delivery, b.delivery) {
		return false
	}
	// Nested authenticators with equal references were compared by dedupe.
	return authRefOf(a) == authRefOf(b)
}

func authRefOf(w *rawRecord) string {
	if w.nested != nil {
		return w.nested.ref
	}
	return w.authRef
}

// assemble turns validated records into the immutable Set.
func assemble(files []string, auths, hooks []*rawRecord) *Set {
	s := &Set{
		routes:    make(map[RouteKey]*Webhook, len(hooks)),
		authByRef: make(map[string]*Authenticator, len(auths)),
		files:     files,
	}
	if s.files == nil {
		s.files = []string{}
	}
	values := map[string]bool{}
	missing := map[string]bool{}
	note := func(r *rawRecord) {
		for _, v := range r.values {
			if v != "" {
				values[v] = true
			}
		}
		for _, m := range r.missing {
			missing[m] = true
		}
	}
	authOf := map[*rawRecord]*Authenticator{}
	for _, r := range auths {
		if r.canonical != r {
			continue
		}
		a := &Authenticator{
			Reference: r.ref, Name: r.name, Code: r.code,
			AllowedIPs: r.allowed, TrustedProxies: r.proxies,
			File: r.file, Line: r.line, CodeLine: r.codeLine, Secrets: r.secrets, codeLines: r.codeLines,
		}
		authOf[r] = a
		s.authByRef[a.Reference] = a
		s.authenticators = append(s.authenticators, a)
		note(r)
	}
	for _, r := range hooks {
		if r.canonical != r {
			continue
		}
		w := &Webhook{
			Reference: r.ref, Name: r.name, Active: r.active, Endpoint: r.endpoint,
			Method: r.method, ContentType: r.contentType, Authenticator: authOf[r.auth],
			RunAs: r.runAs, Timeout: r.timeout, Code: r.code, Delivery: r.delivery,
			File: r.file, Line: r.line, CodeLine: r.codeLine, Secrets: r.secrets, codeLines: r.codeLines,
		}
		s.webhooks = append(s.webhooks, w)
		s.routes[RouteKey{w.Endpoint, w.Method}] = w
		note(r)
	}
	slices.SortFunc(s.authenticators, func(a, b *Authenticator) int { return cmp.Compare(a.Reference, b.Reference) })
	slices.SortFunc(s.webhooks, func(a, b *Webhook) int { return cmp.Compare(a.Reference, b.Reference) })
	for v := range values {
		s.secretValues = append(s.secretValues, v)
	}
	sortSecretValues(s.secretValues)
	for m := range missing {
		s.missingSecrets = append(s.missingSecrets, m)
	}
	sort.Strings(s.missingSecrets)
	s.hash = hashSet(s)
	return s
}

// sortSecretValues orders values longest first (ties lexically).
func sortSecretValues(v []string) {
	slices.SortFunc(v, func(a, b string) int {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
}

func sortStrings(s []string) { sort.Strings(s) }

// hashSet is a sha256 over a canonical, length-prefixed serialisation of
// every definition in reference order, locations and substituted code
// (hence secret values) included.
func hashSet(s *Set) string {
	h := sha256.New()
	w := hashWriter{h: h}
	w.str("towerhook-definitions-v1")
	w.int(int64(len(s.authenticators)))
	for _, a := range s.authenticators {
		w.str(a.Reference)
		w.str(a.Name)
		w.str(a.Code)
		w.prefixes(a.AllowedIPs)
		w.prefixes(a.TrustedProxies)
		w.str(a.File)
		w.int(int64(a.Line))
		w.int(int64(a.CodeLine))
		w.ints(a.codeLines)
	}
	w.int(int64(len(s.webhooks)))
	for _, wh := range s.webhooks {
		w.str(wh.Reference)
		w.str(wh.Name)
		w.bool(wh.Active)
		w.str(wh.Endpoint)
		w.str(wh.Method)
		w.str(wh.ContentType)
		w.str(wh.Authenticator.Reference)
		w.str(wh.RunAs)
		w.int(int64(wh.Timeout))
		hashDelivery(&w, wh.Delivery)
		w.str(wh.Code)
		w.str(wh.File)
		w.int(int64(wh.Line))
		w.int(int64(wh.CodeLine))
		w.ints(wh.codeLines)
	}
	w.int(int64(len(s.missingSecrets)))
	for _, m := range s.missingSecrets {
		w.str(m)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type hashWriter struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
}

func (w *hashWriter) int(n int64) {
	w.h.Write(w.buf[:binary.PutVarint(w.buf[:], n)])
}

// ints writes a length-prefixed list (a nil list as -1).
func (w *hashWriter) ints(ns []int) {
	if ns == nil {
		w.int(-1)
		return
	}
	w.int(int64(len(ns)))
	for _, n := range ns {
		w.int(int64(n))
	}
}

func (w *hashWriter) str(s string) {
	w.int(int64(len(s)))
	w.h.Write([]byte(s))
}

func (w *hashWriter) bool(b bool) {
	if b {
		w.int(1)
	} else {
		w.int(0)
	}
}

func (w *hashWriter) prefixes(ps []netip.Prefix) {
	w.int(int64(len(ps)))
	for _, p := range ps {
		w.str(p.String())
	}
}
