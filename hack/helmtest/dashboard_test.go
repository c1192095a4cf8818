package helmtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// dashboardFile is the one source of the Grafana dashboard; the chart holds
// a copy (files/grafana/, made by `make manifests`).
const dashboardFile = "docs/grafana/mqtt-operator.json"

// grafanaDashboard is the part of Grafana's dashboard model the tests read.
type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *grafanaDS      `json:"datasource"`
	Targets    []grafanaTarget `json:"targets"`
	Panels     []grafanaPanel  `json:"panels"`
	GridPos    map[string]int  `json:"gridPos"`
}

type grafanaDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaTarget struct {
	Expr       string     `json:"expr"`
	RefID      string     `json:"refId"`
	Datasource *grafanaDS `json:"datasource"`
}

type grafanaVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *grafanaDS      `json:"datasource"`
}

// query is a query variable's PromQL-ish query, whether Grafana stored it
// as a string or as an object.
func (v grafanaVariable) query() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	if err := json.Unmarshal(readRepoFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// flatPanels lists the panels, those inside rows included.
func flatPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatPanels(p.Panels)...)
	}
	return out
}

// grafanaIntervals are the interval variables Grafana fills in before a
// query reaches Prometheus.
var grafanaIntervals = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)\}?`)

// promQL turns a dashboard query into PromQL as Grafana would send it:
// interval variables become a duration; other variables only appear inside
// label matchers' strings, where they parse as they are.
func promQL(expr string) string { return grafanaIntervals.ReplaceAllString(expr, "5m") }

// labelValuesQuery is Grafana's variable query label_values(selector, label).
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// Every query of the dashboard, and every variable's, parses and names only
// series the operator exports, with their labels, rate() only over counters;
// and every mqtt_* series the operator exports is on the dashboard.
func TestDashboardUsesExportedSeries(t *testing.T) {
	d := readDashboard(t)
	series := exportedSeries(t)
	used := map[string]bool{}
	check := func(where, expr string) {
		names, problems := inspectExpr(t, expr)
		for _, p := range problems {
			t.Errorf("%s: %s\n%s", where, p, expr)
		}
		for _, n := range names {
			used[n] = true
		}
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		m := labelValuesQuery.FindStringSubmatch(v.query())
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.query())
			continue
		}
		// The label must be on the selected series: group by it.
		check("variable "+v.Name, fmt.Sprintf("count by (%s) (%s)", m[2], m[1]))
	}
	queries := 0
	for _, p := range flatPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			where := fmt.Sprintf("panel %q query %s", p.Title, tg.RefID)
			for _, ref := range regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)`).FindAllStringSubmatch(tg.Expr, -1) {
				if !strings.HasPrefix(ref[1], "__") && !vars[ref[1]] {
					t.Errorf("%s: variable $%s is not defined", where, ref[1])
				}
			}
			check(where, promQL(tg.Expr))
		}
	}
	if queries == 0 {
		t.Fatalf("%s holds no queries", dashboardFile)
	}
	var unused []string
	for name := range series {
		if strings.HasPrefix(name, "mqtt_") && !used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("the dashboard shows none of %v, which the operator exports", unused)
	}
}

// The dashboard is well formed for Grafana: a fixed uid (so provisioning
// replaces it instead of adding copies), unique panel ids, every panel and
// query reading the data source variable, and no panel overlapping another.
func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed", d.UID, d.Title)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v grafanaVariable) bool { return v.Name == "datasource" && v.Type == "datasource" }) {
		t.Error("no datasource variable: users pick their Prometheus with it")
	}
	ids := map[int]string{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range flatPanels(d.Panels) {
		if other, ok := ids[p.ID]; ok || p.ID == 0 {
			t.Errorf("panel %q: id %d is not unique (also %q)", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		for x := p.GridPos["x"]; x < p.GridPos["x"]+p.GridPos["w"]; x++ {
			for y := p.GridPos["y"]; y < p.GridPos["y"]+p.GridPos["h"]; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panel %q overlaps %q at (%d,%d)", p.Title, other, x, y)
				}
				taken[cell{x, y}] = p.Title
			}
		}
		if p.GridPos["x"]+p.GridPos["w"] > 24 {
			t.Errorf("panel %q is wider than the dashboard's 24 columns", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		want := grafanaDS{Type: "prometheus", UID: "${datasource}"}
		if p.Datasource == nil || *p.Datasource != want {
			t.Errorf("panel %q data source %v, want %v", p.Title, p.Datasource, want)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || *tg.Datasource != want {
				t.Errorf("panel %q query %s data source %v, want %v", p.Title, tg.RefID, tg.Datasource, want)
			}
		}
	}
}

// grafana.dashboards.enabled renders the dashboard into a ConfigMap that
// Grafana's sidecar loads: its label, where it is wanted, byte for byte the
// dashboard of docs/grafana/.
func TestGrafanaDashboardConfigMap(t *testing.T) {
	if n := len(all[*corev1.ConfigMap](render(t, nil).objects)); n != 0 {
		t.Errorf("%d ConfigMaps by default, want none", n)
	}
	want := string(readRepoFile(t, dashboardFile))
	for _, tc := range []struct {
		name, values  string
		wantNamespace string
		wantLabel     [2]string
		wantAnnots    map[string]string
	}{
		{name: "defaults", values: `grafana: {dashboards: {enabled: true}}`,
			wantNamespace: "mqtt-operator-system", wantLabel: [2]string{"grafana_dashboard", "1"}},
		{name: "every value", values: `
grafana:
  dashboards:
    enabled: true
    label: dashboards.example.com/load
    labelValue: "yes"
    namespace: monitoring
    annotations: {grafana_folder: MQTT}
`, wantNamespace: "monitoring", wantLabel: [2]string{"dashboards.example.com/load", "yes"}, wantAnnots: map[string]string{"grafana_folder": "MQTT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := one[*corev1.ConfigMap](t, render(t, readValues(t, tc.values)).objects)
			if cm.Namespace != tc.wantNamespace {
				t.Errorf("namespace %q, want %q", cm.Namespace, tc.wantNamespace)
			}
			if got := cm.Labels[tc.wantLabel[0]]; got != tc.wantLabel[1] {
				t.Errorf("label %s = %q, want %q (labels %v)", tc.wantLabel[0], got, tc.wantLabel[1], cm.Labels)
			}
			if cm.Labels["app.kubernetes.io/instance"] != releaseName {
				t.Errorf("labels %v lack the release's", cm.Labels)
			}
			if d := cmp.Diff(tc.wantAnnots, cm.Annotations); d != "" {
				t.Errorf("annotations (-want +got):\n%s", d)
			}
			if d := cmp.Diff(map[string]string{"mqtt-operator.json": want}, cm.Data); d != "" {
				t.Errorf("data differs from %s (-want +got):\n%s", dashboardFile, d)
			}
		})
	}
}
