package definitions

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
}

// LoadDir reads every *.yaml / *.yml file below dir and returns a complete
// validated Set, or a non-nil error of type Errors listing every problem.
// It never returns a partial set.
func LoadDir(dir string, opts Options) (*Set, error) {
	panic("TODO: implemented by the definitions issue")
}
