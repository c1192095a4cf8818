package kcm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func assets() string {
	if a := os.Getenv("KUBEBUILDER_ASSETS"); a != "" {
		return a
	}
	return filepath.Join("..", "..", "bin", "k8s")
}

// With kube-controller-manager running, an owner's dependents are garbage
// collected and a deleted namespace goes away with what it held, as in a
// cluster; neither happens with envtest alone.
func TestGarbageCollectionAndNamespaceDeletion(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: assets()}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		t.Fatalf("start envtest (run `make envtest`): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	start := time.Now()
	k, err := Start(ctx, cfg, Options{BinaryAssetsDirectory: assets()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	t.Logf("kube-controller-manager healthy after %s", time.Since(start).Round(time.Millisecond))
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gc"}}
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: ns.Name}}
	for _, o := range []client.Object{ns, owner} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	dependent := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dependent", Namespace: ns.Name, OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true),
	}}}}
	if err := c.Create(ctx, dependent); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, owner); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, dependent, "the owned ConfigMap was not garbage collected")

	if err := c.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, ns, "the namespace was not deleted")
}

func waitGone(t *testing.T, c client.Client, o client.Object, msg string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.Get(context.Background(), client.ObjectKeyFromObject(o), o)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (last error %v)", msg, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
