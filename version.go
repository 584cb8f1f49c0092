package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Build facts set by `make` with -ldflags "-X main.version=... -X
// main.buildTime=..."; a plain `go build` leaves them empty and
// buildInfo fills them from the module and VCS data Go embeds.
var (
	version   = ""
	buildTime = ""
)

// build describes the running binary (`towerhook version`).
type build struct {
	Version, Revision, Time, GoVersion, Platform string
	Modified                                     bool
	// TimeIsCommit: no build time was set, Time is the commit's.
	TimeIsCommit bool
}

// buildInfo combines the link-time facts with runtime/debug.ReadBuildInfo.
func buildInfo() build {
	b := build{Version: version, Time: buildTime, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			case "vcs.time":
				if b.Time == "" {
					b.Time, b.TimeIsCommit = s.Value, true
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// writeVersion prints the version the way Prometheus tools do.
func writeVersion(w io.Writer, b build) {
	rev := b.Revision
	if rev == "" {
		rev = "unknown"
	} else if b.Modified {
		rev += ", modified"
	}
	fmt.Fprintf(w, "towerhook %s (revision: %s)\n", b.Version, rev)
	when, label := b.Time, "build time"
	if b.TimeIsCommit {
		label = "commit time"
	}
	if when == "" {
		when = "unknown"
	}
	fmt.Fprintf(w, "  %-12s %s\n  %-12s %s\n  %-12s %s\n", label+":", when, "go version:", b.GoVersion, "platform:", b.Platform)
}
