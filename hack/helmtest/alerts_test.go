package helmtest

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// operatorSeries are the series the operator exports, each with its labels:
// the metrics contract that alerts, dashboards and docs are written against.
// The manager registers them (controllers/metrics.go, and the build info);
// a histogram is listed by its _bucket, _sum and _count series.
var operatorSeries = map[string][]string{
	"mqtt_operator_objects":                                {"kind", "status"},
	"mqtt_operator_broker_ready":                           {"namespace", "name"},
	"mqtt_operator_drift_corrections_total":                {"kind"},
	"mqtt_operator_broker_requests_total":                  {"broker", "operation", "code"},
	"mqtt_operator_broker_request_duration_seconds_bucket": {"broker", "operation", "le"},
	"mqtt_operator_broker_request_duration_seconds_sum":    {"broker", "operation"},
	"mqtt_operator_broker_request_duration_seconds_count":  {"broker", "operation"},
	"mqtt_operator_build_info":                             {"version", "commit", "date", "goversion"},
}

// labelValues are the only values some labels take.
var labelValues = map[string][]string{
	"status": {"ready", "progressing", "stalled", "suspended"},
}

// targetLabels are the labels Prometheus (through a ServiceMonitor) adds to
// every scraped series.
var targetLabels = []string{"job", "instance", "namespace", "service", "pod", "container", "endpoint"}

// seriesProblems parses a PromQL expression and lists what in it does not
// match operatorSeries: unknown metric names, selectors without a metric
// name, label names that none of the expression's series carries, and
// values a label never takes. It returns nil for a sound expression.
func seriesProblems(expr string) []string {
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("does not parse: %v", err)}
	}
	var problems []string
	known := map[string]bool{}
	for _, l := range targetLabels {
		known[l] = true
	}
	var used []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := ""
			for _, m := range n.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					if m.Type == labels.MatchEqual {
						name = m.Value
					}
					continue
				}
				used = append(used, m.Name)
				if values, ok := labelValues[m.Name]; ok && !slices.ContainsFunc(values, m.Matches) {
					problems = append(problems, fmt.Sprintf("%s: %s never matches %v", n, m, values))
				}
			}
			ls, ok := operatorSeries[name]
			switch {
			case name == "":
				problems = append(problems, fmt.Sprintf("%s: select series by an exact metric name", n))
			case !ok:
				problems = append(problems, fmt.Sprintf("%q is not a series the operator exports", name))
			}
			for _, l := range ls {
				known[l] = true
			}
		case *parser.AggregateExpr:
			used = append(used, n.Grouping...)
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil {
				used = append(used, vm.MatchingLabels...)
				used = append(used, vm.Include...)
			}
		}
		return nil
	})
	for _, l := range used {
		if !known[l] {
			problems = append(problems, fmt.Sprintf("label %q is on none of the series used", l))
		}
	}
	sort.Strings(problems)
	return problems
}

// The checker itself: it accepts expressions over the exported series and
// names the faults of the others.
func TestSeriesProblems(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`max by (kind) (mqtt_operator_objects{status="stalled"}) > 0`, nil},
		{`histogram_quantile(0.99, sum by (broker, le) (rate(mqtt_operator_broker_request_duration_seconds_bucket[5m])))`, nil},
		{`sum by (namespace, pod) (rate(mqtt_operator_broker_requests_total{code!="error"}[5m]))`, nil},
		{`mqtt_operator_objects{status=~"stalled|suspended"}`, nil},
		{`mqtt_operator_build_info * on (instance) group_left (version) mqtt_operator_broker_ready`, nil},
		{`mqtt_operator_objects{ready="False"} > 0`, []string{`label "ready" is on none of the series used`}},
		{`mqtt_operator_objects{status="Stalled"}`, []string{`mqtt_operator_objects{status="Stalled"}: status="Stalled" never matches [ready progressing stalled suspended]`}},
		{`sum(mqtt_operator_object_count)`, []string{`"mqtt_operator_object_count" is not a series the operator exports`}},
		{`up{job="mqtt-operator"} == 0`, []string{`"up" is not a series the operator exports`}},
		{`{__name__=~"mqtt_operator_.+"}`, []string{`{__name__=~"mqtt_operator_.+"}: select series by an exact metric name`}},
		{`sum by (broker) (mqtt_operator_drift_corrections_total)`, []string{`label "broker" is on none of the series used`}},
		{`sum(rate(mqtt_operator_broker_requests_total[5m]`, []string{"does not parse: 1:49: parse error: unclosed left parenthesis"}},
	} {
		if d := cmp.Diff(tc.want, seriesProblems(tc.expr)); d != "" {
			t.Errorf("seriesProblems(%s) (-want +got):\n%s", tc.expr, d)
		}
	}
}

// Every alert the chart (and config/prometheus) ships is written against
// series the operator exports, and says how bad it is and what it means.
func TestAlertsUseExportedSeries(t *testing.T) {
	pr := one[*monitoringv1.PrometheusRule](t, renderSet(t, "metrics.prometheusRule.enabled=true").objects)
	n := 0
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" {
				t.Errorf("group %s holds a recording rule %q; only alerts are expected", g.Name, r.Record)
			}
			for _, p := range seriesProblems(r.Expr.String()) {
				t.Errorf("alert %s: %s\n%s", r.Alert, p, r.Expr.String())
			}
			if !slices.Contains([]string{"warning", "critical"}, r.Labels["severity"]) {
				t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("alert %s has no %s annotation", r.Alert, a)
				}
			}
			if r.For == nil || *r.For == "" {
				t.Errorf("alert %s fires on a single evaluation; give it a for: duration", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("the PrometheusRule holds no rules")
	}
}
