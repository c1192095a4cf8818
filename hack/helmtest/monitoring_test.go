package helmtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

const tokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// The ServiceMonitor finds the metrics Service and scrapes it the way the
// manager serves it: HTTPS with a bearer token (Prometheus's own, or an
// authorization block given), or plain HTTP with metrics.secure=false.
func TestServiceMonitor(t *testing.T) {
	if n := len(all[*monitoringv1.ServiceMonitor](render(t, nil).objects)); n != 0 {
		t.Errorf("%d ServiceMonitors by default, want 0", n)
	}
	if n := len(all[*monitoringv1.ServiceMonitor](renderSet(t, "metrics.serviceMonitor.enabled=true,metrics.enabled=false").objects)); n != 0 {
		t.Errorf("%d ServiceMonitors with metrics off, want 0", n)
	}

	https, http := monitoringv1.Scheme("https"), monitoringv1.Scheme("http")
	for _, tc := range []struct {
		name, values string
		wantLabels   map[string]string
		want         monitoringv1.Endpoint
	}{
		{
			name:   "defaults",
			values: `metrics: {serviceMonitor: {enabled: true}}`,
			want: monitoringv1.Endpoint{
				Port: "metrics", Path: "/metrics", Scheme: &https, HonorLabels: true,
				// Deprecated in favour of authorization, which needs a Secret holding
				// a token; the chart's default uses Prometheus's own token instead.
				BearerTokenFile: tokenFile, //nolint:staticcheck // see above
				HTTPConfigWithProxyAndTLSFiles: monitoringv1.HTTPConfigWithProxyAndTLSFiles{
					HTTPConfigWithTLSFiles: monitoringv1.HTTPConfigWithTLSFiles{
						TLSConfig: &monitoringv1.TLSConfig{SafeTLSConfig: monitoringv1.SafeTLSConfig{InsecureSkipVerify: ptr.To(true)}},
					},
				},
			},
		},
		{
			name: "every value",
			values: `
metrics:
  serviceMonitor:
    enabled: true
    labels: {release: kube-prometheus-stack}
    interval: 15s
    scrapeTimeout: 10s
    tlsConfig: {serverName: mqtt-operator-metrics.mqtt-operator-system.svc, ca: {configMap: {name: ca, key: ca.crt}}}
    authorization: {type: Bearer, credentials: {name: prometheus-token, key: token}}
    relabelings: [{action: replace, targetLabel: cluster, replacement: east}]
    metricRelabelings: [{action: drop, sourceLabels: [__name__], regex: go_.*}]
`,
			wantLabels: map[string]string{"release": "kube-prometheus-stack"},
			want: monitoringv1.Endpoint{
				Port: "metrics", Path: "/metrics", Scheme: &https, HonorLabels: true,
				Interval: "15s", ScrapeTimeout: "10s",
				RelabelConfigs: []monitoringv1.RelabelConfig{{Action: "replace", TargetLabel: "cluster", Replacement: ptr.To("east")}},
				MetricRelabelConfigs: []monitoringv1.RelabelConfig{{
					Action: "drop", SourceLabels: []monitoringv1.LabelName{"__name__"}, Regex: "go_.*",
				}},
				HTTPConfigWithProxyAndTLSFiles: monitoringv1.HTTPConfigWithProxyAndTLSFiles{
					HTTPConfigWithTLSFiles: monitoringv1.HTTPConfigWithTLSFiles{
						TLSConfig: &monitoringv1.TLSConfig{SafeTLSConfig: monitoringv1.SafeTLSConfig{
							ServerName: ptr.To("mqtt-operator-metrics.mqtt-operator-system.svc"),
							CA: monitoringv1.SecretOrConfigMap{ConfigMap: &corev1.ConfigMapKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}, Key: "ca.crt",
							}},
						}},
						HTTPConfigWithoutTLS: monitoringv1.HTTPConfigWithoutTLS{
							Authorization: &monitoringv1.SafeAuthorization{Type: "Bearer", Credentials: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "prometheus-token"}, Key: "token",
							}},
						},
					},
				},
			},
		},
		{
			name:   "plain HTTP",
			values: `metrics: {secure: false, serviceMonitor: {enabled: true}}`,
			want:   monitoringv1.Endpoint{Port: "metrics", Path: "/metrics", Scheme: &http, HonorLabels: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, readValues(t, tc.values))
			sm := one[*monitoringv1.ServiceMonitor](t, r.objects)
			if len(sm.Spec.Endpoints) != 1 {
				t.Fatalf("%d endpoints, want 1", len(sm.Spec.Endpoints))
			}
			if d := cmp.Diff(tc.want, sm.Spec.Endpoints[0]); d != "" {
				t.Errorf("endpoint (-want +got):\n%s", d)
			}
			for k, v := range tc.wantLabels {
				if sm.Labels[k] != v {
					t.Errorf("ServiceMonitor labels %v lack %s=%s", sm.Labels, k, v)
				}
			}
			// It selects the metrics Service, in its own namespace, by a port that Service has.
			svc := one[*corev1.Service](t, r.objects)
			sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(labels.Set(svc.Labels)) || sm.Namespace != svc.Namespace {
				t.Errorf("selector %v in %s does not pick the Service %s/%s labelled %v", sel, sm.Namespace, svc.Namespace, svc.Name, svc.Labels)
			}
			if svc.Spec.Ports[0].Name != sm.Spec.Endpoints[0].Port {
				t.Errorf("endpoint port %q, the Service's is %q", sm.Spec.Endpoints[0].Port, svc.Spec.Ports[0].Name)
			}
			if got, want := ptr.Deref(svc.Spec.Ports[0].AppProtocol, ""), sm.Spec.Endpoints[0].Scheme.String(); got != want {
				t.Errorf("Service appProtocol %q, scrape scheme %q", got, want)
			}
		})
	}
}

// With secure metrics the manager may review tokens and access, and the
// metrics-reader ClusterRole is bound to metrics.readers; with plain HTTP
// neither exists and the manager is told so.
func TestMetricsAuthRBAC(t *testing.T) {
	r := render(t, readValues(t, `
metrics:
  readers:
  - {kind: ServiceAccount, name: prometheus-k8s, namespace: monitoring}
  - {kind: Group, name: metrics-scrapers}
`))
	crb := named[*rbacv1.ClusterRoleBinding](t, r.objects, "", "mqtt-operator-metrics-reader")
	want := []rbacv1.Subject{
		{Kind: "ServiceAccount", Name: "prometheus-k8s", Namespace: "monitoring"},
		{Kind: "Group", Name: "metrics-scrapers"},
	}
	if d := cmp.Diff(want, crb.Subjects); d != "" {
		t.Errorf("metrics-reader subjects (-want +got):\n%s", d)
	}
	if crb.RoleRef.Name != "mqtt-operator-metrics-reader" {
		t.Errorf("metrics-reader binding refers to %q", crb.RoleRef.Name)
	}
	if s := "bound to ServiceAccount monitoring/prometheus-k8s, Group metrics-scrapers"; !strings.Contains(r.notes, s) {
		t.Errorf("NOTES.txt lacks %q:\n%s", s, r.notes)
	}

	r = renderSet(t, "metrics.secure=false")
	if n := len(all[*rbacv1.ClusterRole](r.objects)); n != 1 {
		t.Errorf("%d ClusterRoles with plain HTTP metrics, want only the manager's", n)
	}
	c := one[*appsv1.Deployment](t, r.objects).Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--metrics-secure=false") {
		t.Errorf("args %v lack --metrics-secure=false", c.Args)
	}
	if p := one[*corev1.Service](t, r.objects).Spec.Ports[0]; ptr.Deref(p.AppProtocol, "") != "http" {
		t.Errorf("Service port %+v, want appProtocol http", p)
	}
	if !strings.Contains(r.notes, "curl -s localhost:8443/metrics") {
		t.Errorf("NOTES.txt lacks the plain HTTP curl:\n%s", r.notes)
	}
}

// The PrometheusRule carries the alerts of config/prometheus, the labels
// Prometheus selects rules by, and alertLabels on every alert without
// overriding an alert's own severity.
func TestPrometheusRule(t *testing.T) {
	if n := len(all[*monitoringv1.PrometheusRule](render(t, nil).objects)); n != 0 {
		t.Errorf("%d PrometheusRules by default, want 0", n)
	}
	r := render(t, readValues(t, `
metrics:
  prometheusRule:
    enabled: true
    labels: {release: kube-prometheus-stack}
    alertLabels: {team: iot, severity: page}
`))
	pr := one[*monitoringv1.PrometheusRule](t, r.objects)
	if pr.Labels["release"] != "kube-prometheus-stack" || pr.Labels["app.kubernetes.io/instance"] != releaseName {
		t.Errorf("PrometheusRule labels %v", pr.Labels)
	}
	want := one[*monitoringv1.PrometheusRule](t, decodeFile(t, "config/prometheus/prometheus_rule.yaml")).Spec
	var alerts []string
	for gi, g := range pr.Spec.Groups {
		for ri, rule := range g.Rules {
			alerts = append(alerts, rule.Alert)
			orig := want.Groups[gi].Rules[ri]
			if rule.Labels["team"] != "iot" || rule.Labels["severity"] != orig.Labels["severity"] {
				t.Errorf("%s labels %v, want team=iot and its own severity %q", rule.Alert, rule.Labels, orig.Labels["severity"])
			}
			rule.Labels = orig.Labels
			if d := cmp.Diff(orig, rule); d != "" {
				t.Errorf("%s (-config/prometheus +chart):\n%s", rule.Alert, d)
			}
		}
	}
	wantAlerts := []string{"MQTTObjectsStalled", "MQTTBrokerNotReady", "MQTTBrokerUnreachable", "MQTTDriftRepairsContinuing"}
	if d := cmp.Diff(wantAlerts, alerts); d != "" {
		t.Errorf("alerts (-want +got):\n%s", d)
	}
}

// The NetworkPolicy applies to the manager's pods, lets in only the metrics
// port (from metricsFrom when given), and lets out what networkPolicy.egress
// says.
func TestNetworkPolicy(t *testing.T) {
	if n := len(all[*networkingv1.NetworkPolicy](render(t, nil).objects)); n != 0 {
		t.Errorf("%d NetworkPolicies by default, want 0", n)
	}
	metricsPort := []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromString("metrics")), Protocol: ptr.To(corev1.ProtocolTCP)}}
	monitoring := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}}}
	apiServer := networkingv1.NetworkPolicyEgressRule{
		Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(6443)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, tc := range []struct {
		name, values string
		ingress      []networkingv1.NetworkPolicyIngressRule
		egress       []networkingv1.NetworkPolicyEgressRule
	}{
		{"defaults", `networkPolicy: {enabled: true}`,
			[]networkingv1.NetworkPolicyIngressRule{{Ports: metricsPort}},
			[]networkingv1.NetworkPolicyEgressRule{{}}},
		{"metricsFrom and egress", `
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  egress: [{ports: [{port: 6443, protocol: TCP}]}]
`,
			[]networkingv1.NetworkPolicyIngressRule{{Ports: metricsPort, From: []networkingv1.NetworkPolicyPeer{monitoring}}},
			[]networkingv1.NetworkPolicyEgressRule{apiServer}},
		{"metrics off", `{networkPolicy: {enabled: true, egress: []}, metrics: {enabled: false}}`,
			[]networkingv1.NetworkPolicyIngressRule{}, []networkingv1.NetworkPolicyEgressRule{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, readValues(t, tc.values))
			np := one[*networkingv1.NetworkPolicy](t, r.objects)
			want := networkingv1.NetworkPolicySpec{
				PodSelector: np.Spec.PodSelector,
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress:     tc.ingress,
				Egress:      tc.egress,
			}
			if d := cmp.Diff(want, np.Spec); d != "" {
				t.Errorf("NetworkPolicy spec (-want +got):\n%s", d)
			}
			pods := one[*appsv1.Deployment](t, r.objects).Spec.Template
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Empty() || !sel.Matches(labels.Set(pods.Labels)) {
				t.Errorf("pod selector %v does not pick the manager's pods %v", sel, pods.Labels)
			}
		})
	}
	// kustomize's NetworkPolicy picks kustomize's manager pods.
	np := one[*networkingv1.NetworkPolicy](t, kustomize(t, "config/network-policy"))
	pods := one[*appsv1.Deployment](t, kustomize(t, "config/default")).Spec.Template
	if !labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels).Matches(labels.Set(pods.Labels)) || np.Namespace != namespace {
		t.Errorf("config/network-policy selects %v in %s; the manager's pods are %v in %s", np.Spec.PodSelector, np.Namespace, pods.Labels, namespace)
	}
}
