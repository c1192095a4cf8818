package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// TestObjectsValidForAPIServer checks the rules of the API server's
// validation that the builders could break. (The full validation of
// k8s.io/kubernetes and the restricted Pod Security check were also run
// against these objects out of tree; this keeps the essentials in CI.)
func TestObjectsValidForAPIServer(t *testing.T) {
	brokers := map[string]*v1alpha1.MQTTBroker{}
	for _, g := range extraGoldenCases() {
		brokers[g.name] = g.broker
	}
	for _, c := range matrix() {
		brokers[c.name] = testBroker(c.version, c.replicas, c.storage)
	}
	for name, b := range brokers {
		t.Run(name, func(t *testing.T) {
			objs := mustBuild(t, b)
			for _, o := range objs.All() {
				checkMeta(t, o.GetObjectKind().GroupVersionKind().Kind, o)
			}
			for _, svc := range []*corev1.Service{objs.HeadlessService, objs.ClientService} {
				if errs := validation.IsDNS1035Label(svc.Name); len(errs) > 0 {
					t.Errorf("Service name %q: %v", svc.Name, errs)
				}
			}
			for k := range objs.ConfigMap.Data {
				if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
					t.Errorf("ConfigMap key %q: %v", k, errs)
				}
			}
			for k := range objs.Secret.Data {
				if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
					t.Errorf("Secret key %q: %v", k, errs)
				}
			}

			sts := objs.StatefulSet
			tmpl := sts.Spec.Template
			sel, err := metav1.LabelSelectorAsMap(sts.Spec.Selector)
			if err != nil || !selects(sel, tmpl.Labels) {
				t.Errorf("StatefulSet selector %v does not match the template labels %v", sel, tmpl.Labels)
			}
			checkLabels(t, "pod template", tmpl.Labels)
			for k := range tmpl.Annotations {
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					t.Errorf("annotation %q: %v", k, errs)
				}
			}

			ctr := emqxContainer(t, objs)
			portNames := map[string]bool{}
			portNumbers := map[int32]bool{}
			for _, p := range ctr.Ports {
				if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
					t.Errorf("container port name %q: %v", p.Name, errs)
				}
				if portNames[p.Name] || portNumbers[p.ContainerPort] {
					t.Errorf("duplicate container port %s/%d", p.Name, p.ContainerPort)
				}
				portNames[p.Name], portNumbers[p.ContainerPort] = true, true
			}
			for _, svc := range []*corev1.Service{objs.HeadlessService, objs.ClientService} {
				seen := map[string]bool{}
				for _, p := range svc.Spec.Ports {
					if seen[p.Name] {
						t.Errorf("Service %s: duplicate port name %s", svc.Name, p.Name)
					}
					seen[p.Name] = true
					if !portNames[p.TargetPort.String()] {
						t.Errorf("Service %s port %s targets %q, not a container port", svc.Name, p.Name, p.TargetPort.String())
					}
				}
				if !selects(svc.Spec.Selector, tmpl.Labels) {
					t.Errorf("Service %s does not select the pods", svc.Name)
				}
			}

			volumes := map[string]bool{}
			for _, v := range tmpl.Spec.Volumes {
				if errs := validation.IsDNS1123Label(v.Name); len(errs) > 0 || volumes[v.Name] {
					t.Errorf("volume name %q invalid or duplicate: %v", v.Name, errs)
				}
				volumes[v.Name] = true
				if v.Secret != nil && v.Secret.SecretName == objs.Secret.Name {
					for _, it := range v.Secret.Items {
						if _, ok := objs.Secret.Data[it.Key]; !ok {
							t.Errorf("volume %s projects missing Secret key %s", v.Name, it.Key)
						}
					}
				}
			}
			for _, pvc := range sts.Spec.VolumeClaimTemplates {
				if volumes[pvc.Name] {
					t.Errorf("claim template %s collides with a pod volume", pvc.Name)
				}
				volumes[pvc.Name] = true
				if len(pvc.Spec.AccessModes) == 0 || pvc.Spec.Resources.Requests.Storage().IsZero() {
					t.Errorf("claim template %s lacks access modes or size", pvc.Name)
				}
			}
			mountPaths := map[string]bool{}
			for _, m := range ctr.VolumeMounts {
				if !volumes[m.Name] {
					t.Errorf("mount %s refers to no volume", m.Name)
				}
				if mountPaths[m.MountPath] {
					t.Errorf("duplicate mount path %s", m.MountPath)
				}
				mountPaths[m.MountPath] = true
			}

			envNames := map[string]bool{}
			for _, e := range ctr.Env {
				if errs := validation.IsEnvVarName(e.Name); len(errs) > 0 {
					t.Errorf("env name %q: %v", e.Name, errs)
				}
				if envNames[e.Name] {
					t.Errorf("duplicate env %s", e.Name)
				}
				envNames[e.Name] = true
				if e.ValueFrom != nil && e.Value != "" {
					t.Errorf("env %s has both value and valueFrom", e.Name)
				}
				for _, sec := range []*corev1.Secret{objs.Secret, objs.CookieSecret} {
					if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil && ref.SecretKeyRef.Name == sec.Name {
						if _, ok := sec.Data[ref.SecretKeyRef.Key]; !ok {
							t.Errorf("env %s refers to missing Secret key %s/%s", e.Name, sec.Name, ref.SecretKeyRef.Key)
						}
					}
				}
			}
			for _, p := range []*corev1.Probe{ctr.StartupProbe, ctr.ReadinessProbe, ctr.LivenessProbe} {
				if !portNames[p.HTTPGet.Port.String()] {
					t.Errorf("probe port %s is not a container port", p.HTTPGet.Port.String())
				}
			}
			if pdb := objs.PodDisruptionBudget; pdb != nil && pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil {
				t.Error("a budget may set only one of minAvailable and maxUnavailable")
			}
		})
	}
}

func checkMeta(t *testing.T, kind string, o metav1.Object) {
	t.Helper()
	if errs := validation.IsDNS1123Subdomain(o.GetName()); len(errs) > 0 {
		t.Errorf("%s name %q: %v", kind, o.GetName(), errs)
	}
	if o.GetNamespace() == "" {
		t.Errorf("%s %s has no namespace", kind, o.GetName())
	}
	if o.GetLabels()[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
		t.Errorf("%s %s lacks the common labels", kind, o.GetName())
	}
	checkLabels(t, kind, o.GetLabels())
}

func checkLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	for k, v := range labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			t.Errorf("%s label key %q: %v", what, k, errs)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("%s label %s=%q: %v", what, k, v, errs)
		}
	}
}
