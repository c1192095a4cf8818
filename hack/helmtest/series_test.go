package helmtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// seriesInfo is one line of config/prometheus/series.txt.
type seriesInfo struct {
	typ    string
	labels []string
}

// loadSeries reads config/prometheus/series.txt once.
var loadSeries = sync.OnceValues(func() (map[string]seriesInfo, error) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "config", "prometheus", "series.txt"))
	if err != nil {
		return nil, err
	}
	out := map[string]seriesInfo{}
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("config/prometheus/series.txt line %d: want a name, a type and labels: %q", i+1, line)
		}
		s := seriesInfo{typ: f[1]}
		if len(f) == 3 {
			s.labels = strings.Split(f[2], ",")
		}
		out[f[0]] = s
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("config/prometheus/series.txt lists no series")
	}
	return out, nil
})

// exportedSeries is the list of the series the manager serves, generated
// from a running manager by `make series` (cmd/series_test.go fails when it
// is stale). Alerts and dashboards are checked against it.
func exportedSeries(t *testing.T) map[string]seriesInfo {
	t.Helper()
	s, err := loadSeries()
	if err != nil {
		t.Fatalf("%v; run `make series`", err)
	}
	return s
}
