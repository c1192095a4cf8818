package helmtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// everyValue sets every value the chart has, away from its default, in a
// combination a cluster admits (the pod still meets restricted Pod Security).
const everyValue = `
nameOverride: mqtt
fullnameOverride: mqtt-every
image: {repository: registry.example/mqtt-operator, tag: v9.9.9,
  digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", pullPolicy: Always}
imagePullSecrets: [{name: regcred}]
crds: {enabled: false, keep: false}
watchNamespaces: [team-a, team-b]
replicaCount: 2
leaderElect: true
serviceAccount: {create: true, name: mqtt-every-sa, annotations: {iam.example/role: mqtt}}
podSecurityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: {type: RuntimeDefault}}
containerSecurityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}, runAsNonRoot: true}
resources: {requests: {cpu: 50m, memory: 100Mi}, limits: {cpu: "1", memory: 512Mi}}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: mqtt, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}]}]}}}
podAnnotations: {example.com/note: hi}
podLabels: {team: iot}
metrics:
  enabled: true
  port: 9443
  secure: true
  readers: [{kind: ServiceAccount, name: prometheus-k8s, namespace: monitoring}, {kind: Group, name: scrapers}]
  serviceMonitor:
    enabled: true
    labels: {release: kube-prometheus-stack}
    interval: 15s
    scrapeTimeout: 10s
    tlsConfig: {serverName: mqtt-every-metrics.mqtt-operator-system.svc, ca: {configMap: {name: metrics-ca, key: ca.crt}}}
    authorization: {type: Bearer, credentials: {name: prometheus-token, key: token}}
    relabelings: [{action: replace, targetLabel: cluster, replacement: east}]
    metricRelabelings: [{action: drop, sourceLabels: [__name__], regex: go_.*}]
  prometheusRule: {enabled: true, labels: {release: kube-prometheus-stack}, alertLabels: {team: iot}}
grafana: {dashboards: {enabled: true, label: grafana_dashboard, labelValue: "1", namespace: monitoring, annotations: {grafana_folder: MQTT}}}
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  egress: [{ports: [{port: 6443, protocol: TCP}, {port: 53, protocol: UDP}]}, {to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 8081, protocol: TCP}]}]
resyncInterval: 90s
brokerMetricsInterval: 30s
maxConcurrentReconciles: 8
brokerTimeout: 2500ms
kubeAPIQPS: 12.5
kubeAPIBurst: 40
logLevel: debug
extraArgs: [--zap-devel]
`

// A real kube-apiserver, with the Prometheus Operator's CRDs, accepts every
// object the chart renders with its defaults and with every value set, and
// every object of kustomize's config/default, config/prometheus and
// config/network-policy; admits each manager pod in a namespace enforcing
// restricted Pod Security; accepts config/samples against the chart's CRDs;
// and the manager's service account gets exactly the access it needs: in
// every namespace by default, in the watched ones only with watchNamespaces.
func TestAPIServerAcceptsChart(t *testing.T) {
	_, cfg := startAPIServer(t, monitoringCRDs(t))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "team-c"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}},
	} {
		if err := c.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}

	// Control: the namespace does enforce the policy.
	loose := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "loose", Namespace: namespace},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if err := c.Create(ctx, loose); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("a pod without securityContext was not refused by PodSecurity: %v", err)
	}

	t.Run("defaults", func(t *testing.T) {
		objs := render(t, nil).objects
		createAll(ctx, t, cfg, c, objs)
		allWatched := access{ns: []string{"team-a", "team-b", "team-c", namespace}, allNamespaces: true}
		checkAccess(ctx, t, cfg, "system:serviceaccount:"+namespace+":mqtt-operator", allWatched)

		samples, err := filepath.Glob(filepath.Join(repoRoot, "config", "samples", "*.yaml"))
		if err != nil || len(samples) == 0 {
			t.Fatalf("no samples in config/samples: %v", err)
		}
		for _, path := range samples {
			for _, u := range decodeUnstructured(t, path) {
				u.SetNamespace(namespace)
				if err := c.Create(ctx, u); err != nil {
					t.Errorf("%s: create %s %s: %v", filepath.Base(path), u.GetKind(), u.GetName(), err)
				}
			}
		}
		deleteAll(ctx, t, c, objs)
	})

	t.Run("every value", func(t *testing.T) {
		objs := render(t, readValues(t, everyValue)).objects
		if n := len(all[*apiextensionsv1.CustomResourceDefinition](objs)); n != 0 {
			t.Fatalf("%d CRDs rendered with crds.enabled=false", n)
		}
		createAll(ctx, t, cfg, c, objs)
		checkAccess(ctx, t, cfg, "system:serviceaccount:"+namespace+":mqtt-every-sa",
			access{ns: []string{"team-a", "team-b"}, deniedNS: []string{"team-c", namespace}, prometheusReads: true})
		deleteAll(ctx, t, c, objs)
	})

	t.Run("RBAC scopes", func(t *testing.T) {
		objs := renderSet(t, "watchNamespaces={team-a}").objects
		var managerCluster []rbacv1.PolicyRule // none while every generated rule is namespaced
		for _, cr := range all[*rbacv1.ClusterRole](objs) {
			if cr.Name == "mqtt-operator-manager" {
				managerCluster = cr.Rules
			}
		}
		checkRuleScopes(t, cfg, named[*rbacv1.Role](t, objs, "team-a", "mqtt-operator-manager").Rules, managerCluster)
		role, cluster := renderScopeFixture(t)
		checkRuleScopes(t, cfg, role, cluster)
	})

	t.Run("kustomize", func(t *testing.T) {
		var objs []client.Object
		for _, dir := range []string{"config/default", "config/prometheus", "config/network-policy"} {
			for _, o := range kustomize(t, dir) {
				switch o := o.(type) {
				case *corev1.Namespace: // made above, labelled as config/default labels it
					if o.Name != namespace || o.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
						t.Errorf("%s: Namespace %s labels %v, want %s enforcing restricted", dir, o.Name, o.Labels, namespace)
					}
				case *apiextensionsv1.CustomResourceDefinition: // installed by the chart above; TestRenderedCRDsMatchConfig compares them
				default:
					objs = append(objs, o)
				}
			}
		}
		createAll(ctx, t, cfg, c, objs)
		checkAccess(ctx, t, cfg, "system:serviceaccount:"+namespace+":mqtt-operator-controller-manager",
			access{ns: []string{"team-a", "team-c", namespace}, allNamespaces: true})
		deleteAll(ctx, t, c, objs)
	})
}

// createAll creates objs on the API server: CRDs first, waiting until they
// are served, then the rest; and for each Deployment, a pod from its
// template (no controllers run here), which the restricted namespace must
// admit.
func createAll(ctx context.Context, t *testing.T, cfg *rest.Config, c client.Client, objs []client.Object) {
	t.Helper()
	crds := all[*apiextensionsv1.CustomResourceDefinition](objs)
	if len(crds) > 0 {
		if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
			t.Fatalf("install the rendered CRDs: %v", err)
		}
	}
	for _, o := range objs {
		if _, isCRD := o.(*apiextensionsv1.CustomResourceDefinition); isCRD {
			continue
		}
		if err := c.Create(ctx, o); err != nil {
			t.Errorf("create %s %s/%s: %v", typeName(o), o.GetNamespace(), o.GetName(), err)
		}
		if d, ok := o.(*appsv1.Deployment); ok {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-pod", Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
				Spec:       *d.Spec.Template.Spec.DeepCopy(),
			}
			if err := c.Create(ctx, pod); err != nil {
				t.Errorf("the pod of Deployment %s is refused in a restricted namespace: %v", d.Name, err)
			}
			t.Cleanup(func() { _ = c.Delete(ctx, pod) })
		}
	}
}

// deleteAll deletes what createAll created but the CRDs, so that the next
// set of objects can reuse the names of cluster-scoped ones.
func deleteAll(ctx context.Context, t *testing.T, c client.Client, objs []client.Object) {
	t.Helper()
	for _, o := range objs {
		if _, isCRD := o.(*apiextensionsv1.CustomResourceDefinition); isCRD {
			continue
		}
		if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s %s: %v", typeName(o), o.GetName(), err)
		}
	}
}

// access is what a manager's service account must be able to do.
type access struct {
	ns            []string // may list and watch MQTT objects and Secrets here
	deniedNS      []string // and not here
	allNamespaces bool     // and across all namespaces at once
	// prometheusReads: monitoring/prometheus-k8s may get /metrics.
	prometheusReads bool
}

// checkAccess acts as the user (a service account) with the API server's
// real authorizer: it lists and watches each MQTT kind and Secrets where
// want allows it and is refused elsewhere, and it may review tokens and
// access for the metrics endpoint.
func checkAccess(ctx context.Context, t *testing.T, cfg *rest.Config, user string, want access) {
	t.Helper()
	as := rest.CopyConfig(cfg)
	as.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.NewWithWatch(as, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	lists := []schema.GroupVersionKind{{Version: "v1", Kind: "SecretList"}}
	for _, k := range []string{"MQTTBroker", "MQTTUser", "MQTTACL", "MQTTBan"} {
		lists = append(lists, schema.GroupVersionKind{Group: "mqtt.mqttoperator.io", Version: "v1alpha1", Kind: k + "List"})
	}
	try := func(ns string, wantOK bool) {
		for _, gvk := range lists {
			l := &unstructured.UnstructuredList{}
			l.SetGroupVersionKind(gvk)
			where := "all namespaces"
			if ns != "" {
				where = "namespace " + ns
			}
			err := c.List(ctx, l, client.InNamespace(ns))
			if wantOK && err != nil {
				t.Errorf("%s cannot list %s in %s: %v", user, gvk.Kind, where, err)
			}
			if !wantOK && !apierrors.IsForbidden(err) {
				t.Errorf("%s listing %s in %s: %v, want Forbidden", user, gvk.Kind, where, err)
			}
			w, err := c.Watch(ctx, l, client.InNamespace(ns))
			if err == nil {
				w.Stop()
			}
			if wantOK && err != nil {
				t.Errorf("%s cannot watch %s in %s: %v", user, gvk.Kind, where, err)
			}
			if !wantOK && !apierrors.IsForbidden(err) {
				t.Errorf("%s watching %s in %s: %v, want Forbidden", user, gvk.Kind, where, err)
			}
		}
	}
	for _, ns := range want.ns {
		try(ns, true)
	}
	for _, ns := range want.deniedNS {
		try(ns, false)
	}
	try("", want.allNamespaces)

	// The metrics endpoint's checks.
	if err := c.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "not-a-token"}}); err != nil {
		t.Errorf("%s cannot create a TokenReview: %v", user, err)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "system:serviceaccount:monitoring:prometheus-k8s", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
	}}
	if err := c.Create(ctx, sar); err != nil {
		t.Errorf("%s cannot create a SubjectAccessReview: %v", user, err)
	}
	// Nothing else cluster-wide, e.g. the nodes.
	if err := c.List(ctx, &corev1.NodeList{}); !apierrors.IsForbidden(err) {
		t.Errorf("%s listing nodes: %v, want Forbidden", user, err)
	}
	// Prometheus may get /metrics once bound to the metrics-reader
	// ClusterRole; the review above asked as the manager asks.
	if sar.Status.Allowed != want.prometheusReads {
		t.Errorf("SubjectAccessReview for prometheus-k8s GET /metrics: allowed %v, want %v (%s)", sar.Status.Allowed, want.prometheusReads, sar.Status.Reason)
	}
}

// decodeUnstructured reads every object of a multi-document YAML file.
func decodeUnstructured(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for doc := range strings.SplitSeq(string(data), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// everyValue, which TestAPIServerAcceptsChart creates on the API server,
// sets every value of values.yaml.
func TestEveryValueSetsEveryValue(t *testing.T) {
	defaults, err := chartutil.ReadValues(readRepoFile(t, "charts/mqtt-operator/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, got := map[string]bool{}, map[string]bool{}
	valuePaths("", defaults, want)
	valuePaths("", readValues(t, everyValue), got)
	for p := range want {
		covered := got[p]
		for g := range got {
			covered = covered || strings.HasPrefix(g, p+".")
		}
		if !covered {
			t.Errorf("everyValue does not set %s", p)
		}
	}
}
