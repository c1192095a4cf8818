// Package version holds what a binary knows about its own build. The release
// build stamps Version, Commit and Date through the linker:
//
//	go build -ldflags "-X github.com/mqttoperator/mqtt-operator/internal/version.Version=v0.2.0 \
//	  -X github.com/mqttoperator/mqtt-operator/internal/version.Commit=$(git rev-parse HEAD) \
//	  -X github.com/mqttoperator/mqtt-operator/internal/version.Date=2026-01-02T03:04:05Z" ./cmd
//
// An unstamped build (go run, go test, go install pkg@version) falls back to
// what the Go toolchain recorded in the binary, then to "dev" and "unknown".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker (-ldflags -X); they must stay plain string variables.
var (
	// Version is the release, e.g. v0.2.0.
	Version = ""
	// Commit is the full Git commit the binary was built from.
	Commit = ""
	// Date is when the commit was made, RFC 3339 in UTC. The commit's time
	// rather than the build's keeps rebuilds of one commit byte-identical.
	Date = ""
)

// Info describes the running binary's build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build of the running binary.
func Get() Info {
	var bi *debug.BuildInfo
	if b, ok := debug.ReadBuildInfo(); ok {
		bi = b
	}
	return resolve(Version, Commit, Date, bi)
}

// resolve fills what the linker did not stamp from the toolchain's record:
// the module version (go install …@v0.2.0) and the VCS stamp of a build from
// a Git checkout.
func resolve(version, commit, date string, bi *debug.BuildInfo) Info {
	if bi != nil {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && commit == "":
				commit = s.Value
			case s.Key == "vcs.time" && date == "":
				date = s.Value
			}
		}
	}
	return Info{
		Version:   orDefault(version, "dev"),
		Commit:    orDefault(commit, "unknown"),
		Date:      orDefault(date, "unknown"),
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// String is one line for --version output and logs, e.g.
// "v0.2.0 (commit 0123abc, built 2026-01-02T03:04:05Z, go1.26.8 linux/amd64)".
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, built %s, %s %s)", i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
}

// KeysAndValues are the build's fields for a structured log line.
func (i Info) KeysAndValues() []any {
	return []any{"version", i.Version, "commit", i.Commit, "date", i.Date, "goVersion", i.GoVersion, "platform", i.Platform}
}
