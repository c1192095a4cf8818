package controllers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// The claim registry follows the informer's notifications: creations,
// changes of the claimed name, deletions (also those the informer only
// learnt of on a relist), and answers with the other claimants.
func TestClaimRegistry(t *testing.T) {
	user := func(ns, name, username string) *mqttv1.MQTTUser {
		return &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: mqttv1.MQTTUserSpec{Username: username}}
	}
	g := newClaimRegistry(func(o client.Object) string { return o.(*mqttv1.MQTTUser).Spec.Username }, nil)
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

// A rival is read from the cache: one gone from it, or that claims
// another name by now, does not count, whatever the registry still says.
func TestClaimRivalsFromCache(t *testing.T) {
	user := func(name, username string, age int) *mqttv1.MQTTUser {
		return &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: name, UID: types.UID(name),
			CreationTimestamp: metav1.NewTime(time.Date(2030, 1, 1, 0, 0, age, 0, time.UTC))}, Spec: mqttv1.MQTTUserSpec{Username: username}}
	}
	self := user("self", "shared", 10)
	older, moved, gone := user("older", "shared", 1), user("moved", "shared", 2), user("gone", "shared", 3)
	g := newClaimRegistry(func(o client.Object) string { return o.(*mqttv1.MQTTUser).Spec.Username },
		func() client.Object { return &mqttv1.MQTTUser{} })
	for _, o := range []*mqttv1.MQTTUser{self, older, moved, gone} {
		g.add(o)
	}
	// The cache: moved claims another name now, gone is gone.
	movedNow := moved.DeepCopy()
	movedNow.Spec.Username = "own"
	c := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(self, older, movedNow).Build()
	other, err := g.otherHolder(t.Context(), c, self, "shared")
	if err != nil || other != "x/older" {
		t.Errorf("otherHolder = %q, %v; want x/older", other, err)
	}
	if err := c.Delete(t.Context(), older); err != nil {
		t.Fatal(err)
	}
	if other, err := g.otherHolder(t.Context(), c, self, "shared"); err != nil || other != "" {
		t.Errorf("otherHolder with only stale rivals = %q, %v; want none", other, err)
	}
	if succ, err := g.liveSuccessor(t.Context(), c, self, "shared"); err != nil || succ {
		t.Errorf("liveSuccessor with only stale rivals = %v, %v; want false", succ, err)
	}
}
