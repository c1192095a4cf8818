package version

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/mqttoperator/mqtt-operator", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "abc123"},
			{Key: "vcs.time", Value: "2026-03-01T10:00:00Z"},
		},
	}
	tests := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Info
	}{
		{
			name: "nothing known",
			want: Info{Version: "dev", Commit: "unknown", Date: "unknown"},
		},
		{
			name:    "stamped by the linker wins over the toolchain's record",
			version: "v0.2.0", commit: "0123456789abcdef", date: "2026-01-02T03:04:05Z", bi: vcs,
			want: Info{Version: "v0.2.0", Commit: "0123456789abcdef", Date: "2026-01-02T03:04:05Z"},
		},
		{
			name: "a build from a checkout reports its VCS stamp",
			bi:   vcs,
			want: Info{Version: "dev", Commit: "abc123", Date: "2026-03-01T10:00:00Z"},
		},
		{
			name: "go install of a tagged module",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}},
			want: Info{Version: "v0.3.1", Commit: "unknown", Date: "unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.version, tt.commit, tt.date, tt.bi)
			tt.want.GoVersion, tt.want.Platform = runtime.Version(), platform
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestString(t *testing.T) {
	i := Info{Version: "v0.2.0", Commit: "abc", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", Platform: "linux/arm64"}
	want := "v0.2.0 (commit abc, built 2026-01-02T03:04:05Z, go1.26.8 linux/arm64)"
	if got := i.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
