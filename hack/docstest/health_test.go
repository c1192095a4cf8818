package docstest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mqttoperator/mqtt-operator/internal/argohealth"
)

const mqttGroup = "mqtt.mqttoperator.io"

// kinds are the operator's kinds with a minimal valid object each and a
// mutable spec change that bumps the generation.
var kinds = []struct {
	kind, resource string
	spec           map[string]any
	change         func(spec map[string]any)
}{
	{"MQTTBroker", "mqttbrokers", map[string]any{"external": map[string]any{"url": "https://emqx.example.com:8443", "apiVersion": "v5", "credentialsSecretRef": map[string]any{"name": "emqx-api"}}},
		func(s map[string]any) { s["allowedNamespaces"] = []any{"team-a"} }},
	{"MQTTUser", "mqttusers", map[string]any{"brokerRef": map[string]any{"name": "emqx"}},
		func(s map[string]any) { s["superuser"] = true }},
	{"MQTTACL", "mqttacls", map[string]any{"brokerRef": map[string]any{"name": "emqx"}, "subject": map[string]any{"username": "sensor-1"},
		"rules": []any{map[string]any{"topic": "sensors/#", "action": "publish", "permission": "allow"}}},
		func(s map[string]any) {
			s["rules"] = []any{map[string]any{"topic": "sensors/#", "action": "all", "permission": "deny"}}
		}},
	{"MQTTBan", "mqttbans", map[string]any{"brokerRef": map[string]any{"name": "emqx"}, "as": "clientid", "who": "rogue"},
		func(s map[string]any) { s["reason"] = "flooding" }},
}

func newObject(kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": mqttGroup + "/v1alpha1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
}

// loadHealthScript reads the Argo CD health check shipped in config/argocd.
func loadHealthScript(t *testing.T) string {
	t.Helper()
	script, err := argohealth.Load(filepath.Join(repoRoot, "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// observed is what GitOps tools make of an object as the API server served it.
type observed struct {
	kstatus *status.Result
	argo    argohealth.Result
}

func observe(t *testing.T, script string, u *unstructured.Unstructured) observed {
	t.Helper()
	ks, err := status.Compute(u)
	if err != nil {
		t.Fatalf("kstatus: %v", err)
	}
	h, err := argohealth.Evaluate(script, u.Object)
	if err != nil {
		t.Fatalf("Argo CD health: %v", err)
	}
	return observed{kstatus: ks, argo: h}
}

// expectNotObserved asserts that an object the operator has not seen at
// generation gen reads as in progress everywhere.
func expectNotObserved(t *testing.T, script, how string, u *unstructured.Unstructured, gen int64) {
	t.Helper()
	og, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if !found || og != 0 {
		t.Errorf("%s: status.observedGeneration = %d (present: %v), want the default 0; status: %v", how, og, found, u.Object["status"])
	}
	o := observe(t, script, u)
	wantMsg := fmt.Sprintf("%s generation is %d, but latest observed generation is 0", u.GetKind(), gen)
	if o.kstatus.Status != status.InProgressStatus || o.kstatus.Message != wantMsg {
		t.Errorf("%s: kstatus %s %q, want InProgress %q", how, o.kstatus.Status, o.kstatus.Message, wantMsg)
	}
	wantArgo := argohealth.Result{Status: argohealth.Progressing, Message: fmt.Sprintf("Waiting for the operator to observe generation %d", gen)}
	if o.argo != wantArgo {
		t.Errorf("%s: Argo CD %+v, want %+v", how, o.argo, wantArgo)
	}
}

// With no operator running, a new object of every kind reads as
// InProgress to kstatus (what Flux uses) and Progressing to the Argo CD
// health check, however a client sees it: the create response, a watch
// event, a get, a list, a server-side apply; and again after a spec change.
// Once the operator writes its status through the status subresource, as
// the controllers do, the object is Current.
func TestUnprocessedObjectsAreInProgress(t *testing.T) {
	script := loadHealthScript(t)
	ctx := context.Background()
	ns := pageNamespace(t, "kstatus-unprocessed")
	for _, k := range kinds {
		t.Run(k.kind, func(t *testing.T) {
			res := dyn.Resource(schema.GroupVersionResource{Group: mqttGroup, Version: "v1alpha1", Resource: k.resource}).Namespace(ns)
			w, err := res.Watch(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			// A status in the request is dropped: only the status
			// subresource writes it.
			obj := newObject(k.kind, ns, "created", k.spec)
			obj.Object["status"] = map[string]any{"observedGeneration": int64(1)}
			created, err := res.Create(ctx, obj, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			expectNotObserved(t, script, "create response", created, 1)
			select {
			case ev := <-w.ResultChan():
				if ev.Type != watch.Added {
					t.Fatalf("watch event %s", ev.Type)
				}
				expectNotObserved(t, script, "watch event", ev.Object.(*unstructured.Unstructured), 1)
			case <-time.After(30 * time.Second):
				t.Fatal("no watch event")
			}
			got, err := res.Get(ctx, "created", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			expectNotObserved(t, script, "get", got, 1)
			list, err := res.List(ctx, metav1.ListOptions{})
			if err != nil || len(list.Items) != 1 {
				t.Fatalf("list: %v, %d items", err, len(list.Items))
			}
			expectNotObserved(t, script, "list", &list.Items[0], 1)
			applied, err := apply(ctx, newObject(k.kind, ns, "applied", k.spec), ns, false)
			if err != nil {
				t.Fatal(err)
			}
			expectNotObserved(t, script, "server-side apply", applied, 1)

			k.change(got.Object["spec"].(map[string]any))
			updated, err := res.Update(ctx, got, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if updated.GetGeneration() != 2 {
				t.Fatalf("generation %d after a spec change, want 2", updated.GetGeneration())
			}
			expectNotObserved(t, script, "after a spec change", updated, 2)

			// The operator's own status write, a merge patch of the status
			// subresource, replaces the default.
			patch := `{"status":{"observedGeneration":2,"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"done",` +
				`"observedGeneration":2,"lastTransitionTime":"2026-01-01T00:00:00Z"}]}}`
			done, err := res.Patch(ctx, "created", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
			if err != nil {
				t.Fatal(err)
			}
			o := observe(t, script, done)
			if o.kstatus.Status != status.CurrentStatus || o.argo.Status != argohealth.Healthy {
				t.Errorf("after the operator's status write: kstatus %s, Argo CD %s; want Current, Healthy", o.kstatus.Status, o.argo.Status)
			}
		})
	}
}

// Without the status default a new object has no status at all and kstatus
// reads it as Current: that was the bug. The default is applied when the
// API server reads an object from etcd too, so an object stored before the
// CRD had the default (an upgrade) also reads InProgress afterwards.
func TestStatusDefaultAppliesToStoredObjects(t *testing.T) {
	script := loadHealthScript(t)
	ctx := context.Background()
	ns := pageNamespace(t, "kstatus-upgrade")
	const crdName = "mqttbans." + mqttGroup
	var orig apiextv1.CustomResourceDefinition
	if err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, &orig); err != nil {
		t.Fatal(err)
	}
	setCRD := func(mutate func(*apiextv1.JSONSchemaProps)) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var crd apiextv1.CustomResourceDefinition
			if err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, &crd); err != nil {
				return err
			}
			crd.Spec = *orig.Spec.DeepCopy()
			mutate(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
			return k8s.Update(ctx, &crd)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { setCRD(func(*apiextv1.JSONSchemaProps) {}) })

	// The CRD as it was before: no defaults under status.
	setCRD(func(s *apiextv1.JSONSchemaProps) {
		st := s.Properties["status"]
		st.Default = nil
		og := st.Properties["observedGeneration"]
		og.Default = nil
		st.Properties["observedGeneration"] = og
		s.Properties["status"] = st
	})
	res := dyn.Resource(schema.GroupVersionResource{Group: mqttGroup, Version: "v1alpha1", Resource: "mqttbans"}).Namespace(ns)
	spec := map[string]any{"brokerRef": map[string]any{"name": "emqx"}, "as": "clientid", "who": "old"}
	var old *unstructured.Unstructured
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		u, err := res.Create(ctx, newObject("MQTTBan", ns, fmt.Sprintf("old-%d", i), spec), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, has := u.Object["status"]; !has {
			old = u
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the API server still applies the status default after the CRD lost it")
		}
		time.Sleep(200 * time.Millisecond)
	}
	o := observe(t, script, old)
	if o.kstatus.Status != status.CurrentStatus {
		t.Errorf("without the default, kstatus reads a new object as %s; this test relies on it reading Current", o.kstatus.Status)
	}
	if o.argo.Status != argohealth.Progressing || !strings.Contains(o.argo.Message, "generation 1") {
		t.Errorf("the Argo CD check treats a missing status as not observed; got %+v", o.argo)
	}

	// The CRD as shipped: the stored object now reads with the default.
	setCRD(func(*apiextv1.JSONSchemaProps) {})
	deadline = time.Now().Add(30 * time.Second)
	for {
		u, err := res.Get(ctx, old.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, has := u.Object["status"]; has {
			expectNotObserved(t, script, "stored before the default, read after", u, 1)
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a stored object without status never got the default on read")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
