package controllers

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// The operator's finalizer is added and removed next to other
// controllers' finalizers without losing theirs: a change made by another
// controller after the operator's read is a conflict, not overwritten.
func TestFinalizerPatchKeepsOthers(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	// A ConfigMap: no controller of this operator looks at it.
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "f", Finalizers: []string{"example.com/a"}}}
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var cm corev1.ConfigMap
		if k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), &cm) == nil {
			cm.Finalizers = nil
			_ = k8sClient.Update(ctx, &cm)
		}
	})
	read := func() *corev1.ConfigMap {
		t.Helper()
		var cm corev1.ConfigMap
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), &cm); err != nil {
			t.Fatal(err)
		}
		return &cm
	}
	// other stands for another controller changing the list.
	other := func(change func(*corev1.ConfigMap)) {
		t.Helper()
		cm := read()
		change(cm)
		if err := k8sClient.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}

	stale := read()
	other(func(cm *corev1.ConfigMap) { controllerutil.AddFinalizer(cm, "example.com/b") })
	if err := ensureFinalizer(ctx, k8sClient, stale); !apierrors.IsConflict(err) {
		t.Fatalf("adding to a list changed since the read = %v, want a conflict", err)
	}
	if err := ensureFinalizer(ctx, k8sClient, read()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"example.com/a", "example.com/b", mqttv1.Finalizer}, read().Finalizers); d != "" {
		t.Errorf("finalizers after adding (-want +got):\n%s", d)
	}

	stale = read()
	other(func(cm *corev1.ConfigMap) { controllerutil.RemoveFinalizer(cm, "example.com/a") })
	if err := removeFinalizer(ctx, k8sClient, stale); !apierrors.IsConflict(err) {
		t.Fatalf("removing from a list changed since the read = %v, want a conflict", err)
	}
	if err := removeFinalizer(ctx, k8sClient, read()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"example.com/b"}, read().Finalizers); d != "" {
		t.Errorf("finalizers after removing (-want +got):\n%s", d)
	}
}
