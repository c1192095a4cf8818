package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// A generated Secret's creation does not queue its owner again (the
// reconcile that created it goes on with it); anyone else's change or
// deletion of it does, so that it is put back.
func TestNotCreated(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "u-mqtt-credentials", Namespace: "ns"}}
	changed := s.DeepCopy()
	changed.Data = map[string][]byte{"password": []byte("edited")}
	p := notCreated()
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"create", p.Create(event.CreateEvent{Object: s}), false},
		{"update", p.Update(event.UpdateEvent{ObjectOld: s, ObjectNew: changed}), true},
		{"delete", p.Delete(event.DeleteEvent{Object: s}), true},
		{"generic", p.Generic(event.GenericEvent{Object: s}), true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: passed = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
