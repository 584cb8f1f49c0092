// Package daemon is towerhook's HTTP pipeline: it builds routing tables from
// definition sets, swaps them atomically on reload, serves the public webhook
// listener and the admin listener, and exposes Prometheus metrics.
package daemon

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults shared by the command line and tests.
const (
	DefaultPrefix        = "/cetmix_tower_webhooks/"
	DefaultListen        = ":8080"
	DefaultAdminListen   = "127.0.0.1:8081"
	DefaultTimeout       = 10 * time.Second
	DefaultMaxBody       = 10 << 20
	DefaultRetentionDays = 30
)

// Options configure Serve. Every field has a `serve` flag and a
// TOWERHOOK_<FLAG> environment variable.
type Options struct {
	Dir                  string
	Listen               string
	AdminListen          string
	Data                 string
	SecretsDir           string
	LogRetentionDays     int
	Timeout              time.Duration
	MaxBody              Size
	MaxConcurrent        int
	LogSync              bool
	Prefix               string
	LogFormat            string
	LogLevel             string
	RescanInterval       time.Duration
	DisableSubprocess    bool
	DisableRequests      bool
	ShutdownTimeout      time.Duration
	MaxConcurrentProcess int
	// AdminHosts lists (comma-separated) the host names, besides IP
	// literals and localhost, that the admin listener answers (README
	// "Console": protection against DNS rebinding).
	AdminHosts string
	// ReloadSettle is how long a file changed in place must stay unchanged
	// before a watched or periodic reload loads it (README "Reload"); 0
	// loads at once.
	ReloadSettle time.Duration
	// MaxMemory arms the Lua memory guard (lua.Shared.GuardMemory): code
	// is interrupted when the live heap passes 80% of it. 0 turns it off.
	MaxMemory Size
	// LogMaxSize is the call log's size budget (logs.Options.MaxSizeBytes):
	// the oldest days are dropped beyond it. 0 is unlimited.
	LogMaxSize Size
	// LogRecover moves a damaged call log aside and starts a new one
	// (logs.Options.Recover) instead of refusing to start.
	LogRecover bool

	// Version is reported by the admin API.
	Version string
	// Reload, when non-nil, triggers a reload on every receive (SIGHUP).
	Reload <-chan os.Signal
	// OnReady, when non-nil, is called with the bound public and admin
	// addresses once both listeners are up (tests use it with ":0").
	OnReady func(public, admin string)
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Dir:              "webhooks",
		Listen:           DefaultListen,
		AdminListen:      DefaultAdminListen,
		Data:             "data",
		LogRetentionDays: DefaultRetentionDays,
		Timeout:          DefaultTimeout,
		MaxBody:          DefaultMaxBody,
		MaxConcurrent:    defaultMaxConcurrent(),
		LogSync:          true,
		Prefix:           DefaultPrefix,
		LogFormat:        "json",
		LogLevel:         "info",
		RescanInterval:   60 * time.Second,
		ReloadSettle:     DefaultReloadSettle,
		ShutdownTimeout:  30 * time.Second,
		// Children mostly wait (deploy scripts, network); 16 per CPU keeps a
		// burst from fork-bombing the host without starving short commands
		// (loopback /bin/true: 1.18k req/s at 8, 1.38k at 32 on 2 CPUs).
		MaxConcurrentProcess: 16 * runtime.GOMAXPROCS(0),
		MaxMemory:            Size(defaultMaxMemory(cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup"))),
	}
}

// defaultMaxMemory is 90% of the cgroup memory limit (a container's or a
// systemd unit's MemoryMax), leaving room for what the Go heap does not
// count; 0 (no guard) without a limit.
func defaultMaxMemory(cgroupLimit int64) int64 { return cgroupLimit / 10 * 9 }

// cgroupMemoryLimit returns the memory limit of the cgroup the process is
// in (v2 memory.max, v1 memory.limit_in_bytes) read from procCgroup (the
// /proc/self/cgroup file) and the cgroup filesystem at root; 0 when there
// is none or it cannot be read.
func cgroupMemoryLimit(procCgroup, root string) int64 {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var files []string
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			files = []string{filepath.Join(root, parts[2], "memory.max"), filepath.Join(root, "memory.max")}
		case slices.Contains(strings.Split(parts[1], ","), "memory"): // v1
			files = []string{filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes"), filepath.Join(root, "memory", "memory.limit_in_bytes")}
		}
		for _, f := range files {
			if n := readMemoryLimit(f); n > 0 {
				return n
			}
		}
	}
	return 0
}

// readMemoryLimit reads a cgroup limit file: "max" (v2) and v1's huge
// "unlimited" value are no limit (0).
func readMemoryLimit(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}

func defaultMaxConcurrent() int {
	n := 16 * runtime.GOMAXPROCS(0)
	if n < 64 {
		n = 64
	}
	return n
}

// RegisterServeFlags binds the serve flags to o.
func RegisterServeFlags(fs *flag.FlagSet, o *Options) {
	fs.StringVar(&o.Dir, "dir", o.Dir, "definitions directory (watched)")
	fs.StringVar(&o.Listen, "listen", o.Listen, "public listen address")
	fs.StringVar(&o.AdminListen, "admin-listen", o.AdminListen, "admin listen address (metrics, health, API)")
	fs.StringVar(&o.Data, "data", o.Data, "data directory for the call log")
	fs.StringVar(&o.SecretsDir, "secrets-dir", o.SecretsDir, "directory with one file per secret")
	fs.IntVar(&o.LogRetentionDays, "log-retention-days", o.LogRetentionDays, "days of call log to keep (0 = forever)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "default time limit for code")
	fs.Var(&o.MaxBody, "max-body", "largest accepted request body (bytes or 64KiB, 10MiB)")
	fs.IntVar(&o.MaxConcurrent, "max-concurrent", o.MaxConcurrent, "most concurrent code executions before 503")
	fs.BoolVar(&o.LogSync, "log-sync", o.LogSync, "answer only after the call log record is durable (journaled and synced)")
	fs.StringVar(&o.Prefix, "prefix", o.Prefix, "URL prefix of webhook endpoints")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "json or text")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
	fs.DurationVar(&o.RescanInterval, "rescan-interval", o.RescanInterval, "periodic full rescan (0 disables)")
	fs.DurationVar(&o.ReloadSettle, "reload-settle", o.ReloadSettle, "a file written in place loads once unchanged this long (at most 10 times this wait; 0 = at once)")
	fs.BoolVar(&o.DisableSubprocess, "disable-subprocess", o.DisableSubprocess, "remove the subprocess module")
	fs.BoolVar(&o.DisableRequests, "disable-requests", o.DisableRequests, "remove the requests module")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "longest wait for in-flight requests on shutdown")
	fs.IntVar(&o.MaxConcurrentProcess, "max-subprocesses", o.MaxConcurrentProcess, "most concurrent subprocesses")
	fs.StringVar(&o.AdminHosts, "admin-hosts", o.AdminHosts, "host names the admin listener answers besides IP addresses and localhost (comma-separated)")
	fs.Var(&o.LogMaxSize, "log-max-size", "size budget of the call log: beyond it the oldest days are dropped, never today's (bytes or 500MiB, 10GiB; 0 = unlimited)")
	fs.BoolVar(&o.LogRecover, "log-recover", o.LogRecover, "when the call log is damaged, move it aside (towerhook.db.damaged-<UTC time>) and start a new one")
	fs.Var(&o.MaxMemory, "max-memory", "memory for the daemon: code is interrupted when the live heap passes 80% of it (0 = off; default 90% of the cgroup memory limit, else off)")
}

// Size is a byte count flag accepting plain bytes or KiB/MiB/GiB (and KB/MB/GB).
type Size int64

// String formats the size in bytes.
func (s *Size) String() string { return strconv.FormatInt(int64(*s), 10) }

// Set parses "1024", "64KiB", "10MiB", "1GB".
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// ParseSize parses a byte size with an optional unit.
func ParseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (use bytes or a unit: 64KiB, 10MiB)", v)
	}
	return n * mult, nil
}

// NewLogger builds the daemon's slog logger.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q", level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q (json or text)", format)
}

// normalizePrefix applies serve's rules for --prefix: it must start with
// "/", and a missing trailing "/" is added. The error text is serve's.
func normalizePrefix(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("--prefix %q must start with /", p)
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p, nil
}
