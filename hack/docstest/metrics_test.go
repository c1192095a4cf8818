package docstest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/metrics.md has a table row for every mqtt_* series the manager
// exports (config/prometheus/series.txt, generated from a running manager;
// a histogram by its base name) and for every alert of the PrometheusRule,
// and documents no series or alert that does not exist.
func TestMetricsPageCoversSeriesAndAlerts(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(docsDir, "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := tableKeys(string(page))
	list, err := os.ReadFile(filepath.Join(repoRoot, "config", "prometheus", "series.txt"))
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, line := range strings.Split(string(list), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || !strings.HasPrefix(f[0], "mqtt_") {
			continue
		}
		name := f[0]
		if f[1] == "histogram" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				name = strings.TrimSuffix(name, suffix)
			}
		}
		exported[name] = true
	}
	if len(exported) == 0 {
		t.Fatal("config/prometheus/series.txt lists no mqtt_* series")
	}
	rules, err := os.ReadFile(filepath.Join(repoRoot, "config", "prometheus", "prometheus_rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(rules), -1) {
		alerts[m[1]] = true
	}
	if len(alerts) == 0 {
		t.Fatal("config/prometheus/prometheus_rule.yaml holds no alert")
	}
	for name := range exported {
		if !rows[name] {
			t.Errorf("metrics.md has no table row for the series %s", name)
		}
	}
	for name := range alerts {
		if !rows[name] {
			t.Errorf("metrics.md has no table row for the alert %s", name)
		}
	}
	for key := range rows {
		if strings.HasPrefix(key, "mqtt_") && !exported[key] {
			t.Errorf("metrics.md documents %s, which the manager does not export", key)
		}
		if strings.HasPrefix(key, "MQTT") && !alerts[key] {
			t.Errorf("metrics.md documents the alert %s, which the PrometheusRule does not hold", key)
		}
	}
}
