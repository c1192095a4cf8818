package helmtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// overrideValues sets the image, scheduling, resources and every operator
// flag, as a -f values file would.
const overrideValues = `
image: {repository: registry.example/mqtt-operator, tag: v9.9.9, pullPolicy: Always}
imagePullSecrets: [{name: regcred}]
replicaCount: 3
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: "1", memory: 1Gi}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: mqtt, effect: NoSchedule}]
podAnnotations: {prometheus.io/scrape: "true"}
podLabels: {team: iot, app.kubernetes.io/name: hijack}
resyncInterval: 90s
brokerMetricsInterval: 30s
maxConcurrentReconciles: 8
brokerTimeout: 2500ms
kubeAPIQPS: 12.5
kubeAPIBurst: 40
logLevel: debug
extraArgs: [--zap-devel]
`

// Values given as a -f file reach the Deployment and the manager's flags.
func TestValuesOverrideDeployment(t *testing.T) {
	vals, err := chartutil.ReadValues([]byte(overrideValues))
	if err != nil {
		t.Fatal(err)
	}
	d := one[*appsv1.Deployment](t, render(t, vals).objects)
	pod := d.Spec.Template
	c := pod.Spec.Containers[0]

	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *d.Spec.Replicas)
	}
	if c.Image != "registry.example/mqtt-operator:v9.9.9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %q pull %q, want registry.example/mqtt-operator:v9.9.9 pull Always", c.Image, c.ImagePullPolicy)
	}
	if d := cmp.Diff([]corev1.LocalObjectReference{{Name: "regcred"}}, pod.Spec.ImagePullSecrets); d != "" {
		t.Errorf("imagePullSecrets (-want +got):\n%s", d)
	}
	wantRes := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	if d := cmp.Diff(wantRes.String(), c.Resources.String()); d != "" {
		t.Errorf("resources (-want +got):\n%s", d)
	}
	if pod.Spec.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Spec.Tolerations) != 1 || pod.Spec.Tolerations[0].Value != "mqtt" {
		t.Errorf("scheduling not applied: nodeSelector %v tolerations %v", pod.Spec.NodeSelector, pod.Spec.Tolerations)
	}
	if pod.Annotations["prometheus.io/scrape"] != "true" || pod.Labels["team"] != "iot" {
		t.Errorf("pod annotations %v labels %v lack the given ones", pod.Annotations, pod.Labels)
	}
	if got := pod.Labels["app.kubernetes.io/name"]; got != "mqtt-operator" {
		t.Errorf("podLabels overrode the selector label app.kubernetes.io/name: %q", got)
	}

	wantArgs := []string{
		"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--metrics-secure=true",
		"--resync-interval=90s", "--broker-metrics-interval=30s", "--max-concurrent-reconciles=8", "--broker-timeout=2500ms",
		"--kube-api-qps=12.5", "--kube-api-burst=40", "--zap-log-level=debug", "--zap-devel",
	}
	if d := cmp.Diff(wantArgs, c.Args); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
}

// Numbers given with --set arrive as int64, not float64, and still render as
// plain integers.
func TestSetFlagsOnCommandLine(t *testing.T) {
	vals, err := strvals.Parse("replicaCount=2,maxConcurrentReconciles=1000000,kubeAPIQPS=7,kubeAPIBurst=20,logLevel=3,metrics.port=9090")
	if err != nil {
		t.Fatal(err)
	}
	r := render(t, vals)
	d := one[*appsv1.Deployment](t, r.objects)
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{
		"--max-concurrent-reconciles=1000000 ", "--kube-api-qps=7 ", "--kube-api-burst=20 ",
		"--zap-log-level=3", "--metrics-bind-address=:9090 ",
	} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want 2", *d.Spec.Replicas)
	}
	if p := one[*corev1.Service](t, r.objects).Spec.Ports[0]; p.Port != 9090 {
		t.Errorf("metrics Service port = %d, want 9090", p.Port)
	}
	if p := d.Spec.Template.Spec.Containers[0].Ports[0]; p.Name != "metrics" || p.ContainerPort != 9090 {
		t.Errorf("container port %+v, want metrics 9090", p)
	}
}

// metrics.enabled=false drops the Service and switches the endpoint off;
// serviceAccount.create=false binds the roles to the named existing account.
func TestMetricsAndServiceAccountOff(t *testing.T) {
	vals, err := strvals.Parse("metrics.enabled=false,serviceAccount.create=false,serviceAccount.name=ops")
	if err != nil {
		t.Fatal(err)
	}
	r := render(t, vals)
	if n := len(all[*corev1.Service](r.objects)); n != 0 {
		t.Errorf("%d Services rendered with metrics off, want 0", n)
	}
	if n := len(all[*corev1.ServiceAccount](r.objects)); n != 0 {
		t.Errorf("%d ServiceAccounts rendered with serviceAccount.create=false, want 0", n)
	}
	spec := one[*appsv1.Deployment](t, r.objects).Spec.Template.Spec
	c := spec.Containers[0]
	if !strings.Contains(strings.Join(c.Args, " "), "--metrics-bind-address=0") {
		t.Errorf("args %v lack --metrics-bind-address=0", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "probes" {
		t.Errorf("container ports %+v, want only probes", c.Ports)
	}
	if spec.ServiceAccountName != "ops" {
		t.Errorf("serviceAccountName = %q, want ops", spec.ServiceAccountName)
	}
	for _, s := range [][]rbacv1.Subject{one[*rbacv1.ClusterRoleBinding](t, r.objects).Subjects, one[*rbacv1.RoleBinding](t, r.objects).Subjects} {
		if len(s) != 1 || s[0].Name != "ops" {
			t.Errorf("binding subjects %+v, want the ServiceAccount ops", s)
		}
	}
}

// values.schema.json (and the chart's own checks) refuse bad values before
// anything is rendered, naming the value at fault.
func TestBadValuesRejected(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want []string // all in the error
	}{
		{"replicaCount=two", []string{"at '/replicaCount': got string, want integer"}},
		{"resyncInterval=5 minutes", []string{"at '/resyncInterval'", "does not match pattern"}},
		{"kubeAPIQPS=fast", []string{"at '/kubeAPIQPS': got string, want number"}},
		{"image.pullPolicy=Sometimes", []string{"at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"}},
		{"replicas=2", []string{"additional properties 'replicas' not allowed"}},
		{"metrics.port=8081", []string{"metrics.port 8081 is taken by the health probes"}},
		{"metrics.port=70000", []string{"at '/metrics/port': maximum: got 70,000, want 65,535"}},
		{"replicaCount=2,leaderElect=false", []string{"replicaCount > 1 needs leaderElect: true"}},
		{"watchNamespaces={Team_A}", []string{"at '/watchNamespaces/0'", "does not match pattern"}},
		{"watchNamespaces={a,b,a}", []string{"at '/watchNamespaces': items at 0 and 2 are equal"}},
		{"image.digest=sha256:1234", []string{"at '/image/digest'", "does not match pattern"}},
		{"image.repository=example.com/mqtt-operator:v1", []string{"at '/image/repository'", "does not match pattern"}},
		{"crds.enabled=yes", []string{"at '/crds/enabled': got string, want boolean"}},
		{"crds.keep=1", []string{"at '/crds/keep': got number, want boolean"}},
		{"metrics.secure=maybe", []string{"at '/metrics/secure': got string, want boolean"}},
		{"metrics.readers[0].kind=ServiceAccount,metrics.readers[0].name=prometheus", []string{"at '/metrics/readers/0': missing property 'namespace'"}},
		{"metrics.readers[0].kind=Robot,metrics.readers[0].name=r2", []string{"at '/metrics/readers/0/kind'"}},
		{"metrics.serviceMonitor.interval=soon", []string{"at '/metrics/serviceMonitor/interval'", "does not match pattern"}},
		{"metrics.serviceMonitor.enable=true", []string{"additional properties 'enable' not allowed"}},
		{"metrics.prometheusRule.alertLabels.team-name=iot", []string{"invalid propertyName 'team-name'"}},
		{"podSecurityContext.runAsUser=-1", []string{"at '/podSecurityContext/runAsUser': minimum"}},
		{"networkPolicy.egress=all", []string{"at '/networkPolicy/egress': got string, want array"}},
	} {
		t.Run(tc.set, func(t *testing.T) {
			vals, err := strvals.Parse(tc.set)
			if err != nil {
				t.Fatal(err)
			}
			_, err = install(vals)
			if err == nil {
				t.Fatalf("--set %s was accepted", tc.set)
			}
			t.Logf("rejected: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// The chart's README documents every value of values.yaml and every
// property of values.schema.json, by its full dotted path.
func TestReadmeDocumentsEveryValue(t *testing.T) {
	readme := string(readRepoFile(t, "charts/mqtt-operator/README.md"))
	var schema map[string]any
	if err := json.Unmarshal(readRepoFile(t, "charts/mqtt-operator/values.schema.json"), &schema); err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ReadValues(readRepoFile(t, "charts/mqtt-operator/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	valuePaths("", vals, paths)
	schemaPaths("", schema, paths)
	delete(paths, "global") // Helm's own
	if len(paths) < 40 {
		t.Fatalf("found only %d value paths: %v", len(paths), paths)
	}
	for p := range paths {
		if !strings.Contains(readme, "`"+p+"`") {
			t.Errorf("charts/mqtt-operator/README.md does not document `%s`", p)
		}
	}
}

// documentedWhole are values the README documents as a whole, not key by key.
var documentedWhole = map[string]bool{
	"resources": true, "podSecurityContext": true, "containerSecurityContext": true,
}

// valuePaths adds the dotted paths of the leaves of vals (a non-empty map is
// not a leaf) to paths.
func valuePaths(prefix string, vals map[string]any, paths map[string]bool) {
	for k, v := range vals {
		p := strings.TrimPrefix(prefix+"."+k, ".")
		if m, ok := v.(map[string]any); ok && len(m) > 0 && !documentedWhole[p] {
			valuePaths(p, m, paths)
			continue
		}
		paths[p] = true
	}
}

// schemaPaths adds the dotted paths of the schema's properties, recursing
// into objects of fixed properties, to paths.
func schemaPaths(prefix string, schema map[string]any, paths map[string]bool) {
	props, _ := schema["properties"].(map[string]any)
	for k, v := range props {
		p := strings.TrimPrefix(prefix+"."+k, ".")
		sub, _ := v.(map[string]any)
		if _, nested := sub["properties"]; nested && sub["additionalProperties"] == false && !documentedWhole[p] {
			schemaPaths(p, sub, paths)
			continue
		}
		paths[p] = true
	}
}
