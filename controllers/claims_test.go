package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// The claim registry follows the informer's notifications: creations,
// changes of the claimed name, deletions (also those the informer only
// learnt of on a relist), and answers with the other claimants.
func TestClaimRegistry(t *testing.T) {
	user := func(ns, name, username string) *mqttv1.MQTTUser {
		return &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: mqttv1.MQTTUserSpec{Username: username}}
	}
	g := newClaimRegistry(func(o client.Object) string { return o.(*mqttv1.MQTTUser).Spec.Username })
	h := g.handler()
	nn := func(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }
	a, b, c := user("x", "a", "shared"), user("y", "b", "shared"), user("x", "c", "own")
	for _, o := range []*mqttv1.MQTTUser{a, b, c, a} { // a twice: a resync's add
		h.OnAdd(o, false)
	}
	check := func(step, key string, self types.NamespacedName, want []types.NamespacedName) {
		t.Helper()
		if d := cmp.Diff(want, g.others(key, self)); d != "" {
			t.Errorf("%s: others of %s than %s (-want +got):\n%s", step, key, self, d)
		}
	}
	check("added", "shared", nn("x", "a"), []types.NamespacedName{nn("y", "b")})
	check("added", "shared", nn("z", "new"), []types.NamespacedName{nn("x", "a"), nn("y", "b")})
	check("added", "own", nn("x", "c"), nil)

	// A change that keeps the name changes nothing; one that changes it
	// moves the object.
	h.OnUpdate(a, a.DeepCopy())
	check("same name", "shared", nn("y", "b"), []types.NamespacedName{nn("x", "a")})
	moved := b.DeepCopy()
	moved.Spec.Username = "own"
	h.OnUpdate(b, moved)
	check("moved away", "shared", nn("x", "a"), nil)
	check("moved in", "own", nn("x", "c"), []types.NamespacedName{nn("y", "b")})

	h.OnDelete(c)
	check("deleted", "own", nn("y", "b"), nil)
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "y/b", Obj: moved})
	check("deleted on a relist", "own", nn("z", "new"), nil)
	h.OnDelete(a)
	if len(g.byKey) != 0 {
		t.Errorf("the registry keeps %v after every claimant went", g.byKey)
	}
}
