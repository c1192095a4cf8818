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

// labelValues are the only values some labels take.
var labelValues = map[string][]string{
	"status": {"ready", "progressing", "stalled", "suspended"},
}

// targetLabels are the labels Prometheus (through a ServiceMonitor) adds to
// every scraped series.
var targetLabels = []string{"job", "instance", "namespace", "service", "pod", "container", "endpoint"}

// seriesProblems parses a PromQL expression and lists what in it does not
// match the series the operator exports (config/prometheus/series.txt):
// unknown metric names, selectors without a metric name, label names that
// none of the expression's series carries, values a label never takes, and
// rate() or increase() over a gauge. It returns nil for a sound expression.
func seriesProblems(t *testing.T, expr string) []string {
	_, problems := inspectExpr(t, expr)
	return problems
}

// inspectExpr returns the metric names an expression selects, and its
// problems (see seriesProblems).
func inspectExpr(t *testing.T, expr string) (names, problems []string) {
	series := exportedSeries(t)
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, []string{fmt.Sprintf("does not parse: %v", err)}
	}
	known := map[string]bool{}
	for _, l := range targetLabels {
		known[l] = true
	}
	var used []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := selectorName(n)
			for _, m := range n.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					continue
				}
				used = append(used, m.Name)
				if values, ok := labelValues[m.Name]; ok && !slices.ContainsFunc(values, m.Matches) {
					problems = append(problems, fmt.Sprintf("%s: %s never matches %v", n, m, values))
				}
			}
			s, ok := series[name]
			switch {
			case name == "":
				problems = append(problems, fmt.Sprintf("%s: select series by an exact metric name", n))
			case !ok:
				problems = append(problems, fmt.Sprintf("%q is not a series the operator exports", name))
			default:
				names = append(names, name)
			}
			for _, l := range s.labels {
				known[l] = true
			}
		case *parser.Call:
			if !slices.Contains([]string{"rate", "irate", "increase"}, n.Func.Name) || len(n.Args) == 0 {
				break
			}
			if ms, ok := n.Args[0].(*parser.MatrixSelector); ok {
				if vs, ok := ms.VectorSelector.(*parser.VectorSelector); ok && series[selectorName(vs)].typ == "gauge" {
					problems = append(problems, fmt.Sprintf("%s() over %s, a gauge: use it as it is, or deriv()", n.Func.Name, selectorName(vs)))
				}
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
	return names, problems
}

// selectorName is the exact metric name a selector asks for, or "".
func selectorName(vs *parser.VectorSelector) string {
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
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
		{`mqtt_broker_live_connections * on (namespace, name) group_left mqtt_operator_broker_ready`, nil},
		{`max by (namespace, name) (rate(mqtt_broker_messages_received_total{namespace=~"$namespace"}[5m]))`, nil},
		{`rate(mqtt_broker_connections[5m])`, []string{"rate() over mqtt_broker_connections, a gauge: use it as it is, or deriv()"}},
		{`sum by (kind) (mqtt_broker_topics)`, []string{`label "kind" is on none of the series used`}},
		{`mqtt_operator_objects{ready="False"} > 0`, []string{`label "ready" is on none of the series used`}},
		{`mqtt_operator_objects{status="Stalled"}`, []string{`mqtt_operator_objects{status="Stalled"}: status="Stalled" never matches [ready progressing stalled suspended]`}},
		{`sum(mqtt_operator_object_count)`, []string{`"mqtt_operator_object_count" is not a series the operator exports`}},
		{`up{job="mqtt-operator"} == 0`, []string{`"up" is not a series the operator exports`}},
		{`{__name__=~"mqtt_operator_.+"}`, []string{`{__name__=~"mqtt_operator_.+"}: select series by an exact metric name`}},
		{`sum by (broker) (mqtt_operator_drift_corrections_total)`, []string{`label "broker" is on none of the series used`}},
		{`sum(rate(mqtt_operator_broker_requests_total[5m]`, []string{"does not parse: 1:49: parse error: unclosed left parenthesis"}},
	} {
		if d := cmp.Diff(tc.want, seriesProblems(t, tc.expr)); d != "" {
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
			for _, p := range seriesProblems(t, r.Expr.String()) {
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
