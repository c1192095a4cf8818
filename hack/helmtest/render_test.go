package helmtest

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The default install holds what config/default holds (less the Namespace,
// which `helm install --create-namespace` makes), with the standard labels.
func TestDefaultRender(t *testing.T) {
	r := render(t, nil)

	kinds := map[string]int{}
	for _, o := range r.objects {
		kinds[typeName(o)]++
	}
	want := map[string]int{
		"CustomResourceDefinition": 4, "ServiceAccount": 1,
		"ClusterRole": 3, "ClusterRoleBinding": 2, // manager, metrics-auth; metrics-reader (unbound)
		"Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1,
	}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("kinds rendered (-want +got):\n%s", d)
	}
	// The same kinds, in the same numbers, as kustomize's.
	kustKinds := map[string]int{}
	for _, o := range kustomize(t, "config/default") {
		kustKinds[typeName(o)]++
	}
	if kustKinds["Namespace"] != 1 {
		t.Errorf("kustomize build config/default has %d Namespaces, want 1", kustKinds["Namespace"])
	}
	delete(kustKinds, "Namespace")
	if d := cmp.Diff(want, kustKinds); d != "" {
		t.Errorf("kinds in kustomize build config/default (-chart +kustomize):\n%s", d)
	}

	wantLabels := map[string]string{
		"app.kubernetes.io/name":       "mqtt-operator",
		"app.kubernetes.io/instance":   releaseName,
		"app.kubernetes.io/version":    "v0.1.0",
		"app.kubernetes.io/managed-by": "Helm",
		"helm.sh/chart":                "mqtt-operator-0.1.0",
	}
	for _, o := range r.objects {
		for k, v := range wantLabels {
			if got := o.GetLabels()[k]; got != v {
				t.Errorf("%s %s: label %s = %q, want %q", typeName(o), o.GetName(), k, got, v)
			}
		}
		_, crd := o.(*apiextensionsv1.CustomResourceDefinition)
		_, clusterRole := o.(*rbacv1.ClusterRole)
		_, clusterBinding := o.(*rbacv1.ClusterRoleBinding)
		if wantNS := !crd && !clusterRole && !clusterBinding; wantNS && o.GetNamespace() != namespace {
			t.Errorf("%s %s: namespace %q, want %q", typeName(o), o.GetName(), o.GetNamespace(), namespace)
		}
	}

	// The bindings tie the ServiceAccount the pods run as to the roles rendered.
	sa := one[*corev1.ServiceAccount](t, r.objects)
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: namespace}}
	for _, crb := range all[*rbacv1.ClusterRoleBinding](r.objects) {
		if d := cmp.Diff(subject, crb.Subjects); d != "" {
			t.Errorf("ClusterRoleBinding %s subjects (-want +got):\n%s", crb.Name, d)
		}
		named[*rbacv1.ClusterRole](t, r.objects, "", crb.RoleRef.Name)
	}
	rb := one[*rbacv1.RoleBinding](t, r.objects)
	if d := cmp.Diff(subject, rb.Subjects); d != "" {
		t.Errorf("RoleBinding subjects (-want +got):\n%s", d)
	}
	named[*rbacv1.Role](t, r.objects, namespace, rb.RoleRef.Name)
	if got := one[*appsv1.Deployment](t, r.objects).Spec.Template.Spec.ServiceAccountName; got != sa.Name {
		t.Errorf("pods run as %q, the chart's ServiceAccount is %q", got, sa.Name)
	}

	for _, s := range []string{
		"rollout status deployment/mqtt-operator", "kubectl apply -f config/samples/",
		"running ghcr.io/mqttoperator/mqtt-operator:v0.1.0", "in every namespace",
		"--clusterrole=mqtt-operator-metrics-reader", "https://localhost:8443/metrics",
		"helm upgrade applies their changes", "kept\non helm uninstall",
	} {
		if !strings.Contains(r.notes, s) {
			t.Errorf("NOTES.txt lacks %q:\n%s", s, r.notes)
		}
	}
}

// The Deployment runs the manager as kustomize build config/default does:
// same image, command, probes, security contexts, ports and resources; the
// kustomize args first, then every operator flag at its default.
func TestDeploymentMatchesKustomize(t *testing.T) {
	r := render(t, nil)
	got := one[*appsv1.Deployment](t, r.objects)
	kust := kustomize(t, "config/default")
	want := one[*appsv1.Deployment](t, kust)

	if *got.Spec.Replicas != 1 {
		t.Errorf("replicas = %d, want 1", *got.Spec.Replicas)
	}
	gp, wp := got.Spec.Template.Spec, want.Spec.Template.Spec
	if d := cmp.Diff(wp.SecurityContext, gp.SecurityContext); d != "" {
		t.Errorf("pod securityContext (-kustomize +chart):\n%s", d)
	}
	if d := cmp.Diff(wp.TerminationGracePeriodSeconds, gp.TerminationGracePeriodSeconds); d != "" {
		t.Errorf("terminationGracePeriodSeconds (-kustomize +chart):\n%s", d)
	}
	gc, wc := gp.Containers[0], wp.Containers[0]
	for _, f := range []struct {
		name      string
		want, got any
	}{
		{"name", wc.Name, gc.Name},
		{"image", wc.Image, gc.Image},
		{"command", wc.Command, gc.Command},
		{"ports", wc.Ports, gc.Ports},
		{"livenessProbe", wc.LivenessProbe, gc.LivenessProbe},
		{"readinessProbe", wc.ReadinessProbe, gc.ReadinessProbe},
		{"securityContext", wc.SecurityContext, gc.SecurityContext},
		{"resources", wc.Resources, gc.Resources},
	} {
		if d := cmp.Diff(f.want, f.got); d != "" {
			t.Errorf("container %s (-kustomize +chart):\n%s", f.name, d)
		}
	}
	if len(gp.Containers) != 1 {
		t.Errorf("%d containers, want 1", len(gp.Containers))
	}
	sc := gp.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 ||
		sc.FSGroup == nil || *sc.FSGroup != 65532 || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("pod securityContext %+v, want runAsNonRoot and user, group and fsGroup 65532", sc)
	}

	wantArgs := append(slices.Clone(wc.Args),
		"--resync-interval=5m", "--broker-metrics-interval=1m", "--max-concurrent-reconciles=16", "--broker-timeout=10s",
		"--kube-api-qps=500", "--kube-api-burst=1000", "--zap-log-level=info")
	if d := cmp.Diff(wantArgs, gc.Args); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	for _, a := range []string{"--metrics-bind-address=:8443", "--metrics-secure=true"} {
		if !slices.Contains(gc.Args, a) {
			t.Errorf("args %v lack %s", gc.Args, a)
		}
	}

	// The selector picks the pods, and the metrics Service reaches their
	// metrics port, over HTTPS as kustomize's does.
	sel := labels.SelectorFromSet(got.Spec.Selector.MatchLabels)
	if !sel.Matches(labels.Set(got.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the pod labels %v", sel, got.Spec.Template.Labels)
	}
	svc := one[*corev1.Service](t, r.objects)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(got.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not match the pod labels %v", svc.Spec.Selector, got.Spec.Template.Labels)
	}
	if d := cmp.Diff(one[*corev1.Service](t, kust).Spec.Ports, svc.Spec.Ports); d != "" {
		t.Errorf("metrics Service ports (-kustomize +chart):\n%s", d)
	}
}

// helm lint finds nothing to warn about, with the default values.
func TestLint(t *testing.T) {
	res := lint.All(chartDir, nil, namespace, false)
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// typeName is the Go type name of a typed object, which is its kind.
func typeName(o any) string { return reflect.TypeOf(o).Elem().Name() }
