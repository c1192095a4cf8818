package controllers

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// secretReader reads the Secrets the operator uses without caching every
// Secret in the cluster. The manager's cache holds only Secrets labelled
// mqtt.mqttoperator.io/watch=true (see CacheOptions): the ones the operator
// generates carry the label from birth, and a Secret a spec references is
// read from the API server the first time and labelled then, so that from
// then on it is cached and a change to it wakes the objects that use it.
type secretReader struct {
	cached client.Client
	direct client.Reader
}

// Get makes the reader a client.Reader: Secrets are read as get does, the
// rest from the cache.
func (r *secretReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return r.cached.Get(ctx, key, obj, opts...)
	}
	got, err := r.get(ctx, key.Namespace, key.Name)
	if err != nil {
		return err
	}
	*s = *got
	return nil
}

// List lists from the cache.
func (r *secretReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.cached.List(ctx, list, opts...)
}

// get returns the Secret, from the cache when it is labelled.
func (r *secretReader) get(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	key := client.ObjectKey{Namespace: ns, Name: name}
	err := r.cached.Get(ctx, key, &s)
	if err == nil || !apierrors.IsNotFound(err) {
		return &s, err
	}
	if err := r.direct.Get(ctx, key, &s); err != nil {
		return nil, err
	}
	if s.Labels[mqttv1.LabelWatch] != "true" {
		patch := client.MergeFrom(s.DeepCopy())
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[mqttv1.LabelWatch] = "true"
		if err := r.cached.Patch(ctx, &s, patch); err != nil && !apierrors.IsNotFound(err) {
			// Reading still works without the label; only the prompt
			// reaction to a change is lost, so say so and go on.
			log.FromContext(ctx).Info("cannot label a referenced Secret for watching; changes to it are noticed at the next reconcile",
				"secret", ns+"/"+name, "error", err.Error())
		}
	}
	return &s, nil
}

// CacheOptions is how the manager's cache must be set up for the
// controllers: Secrets only with the watch label; the StatefulSets,
// Services, ConfigMaps and PodDisruptionBudgets a managed broker owns only
// with the operator's managed-by label, since watching them for managed
// brokers must not mean holding every one of the cluster (a cluster has
// thousands of ConfigMaps, some of them large); managed fields dropped
// from every object (they are never read and cost memory per object); and
// with namespaces set, only those namespaces.
func CacheOptions(namespaces []string) cache.Options {
	watched := labels.SelectorFromSet(labels.Set{mqttv1.LabelWatch: "true"})
	generated := labels.SelectorFromSet(labels.Set{mqttv1.LabelManagedBy: mqttv1.ManagedByValue})
	o := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                {Label: watched},
			&appsv1.StatefulSet{}:           {Label: generated},
			&corev1.Service{}:               {Label: generated},
			&corev1.ConfigMap{}:             {Label: generated},
			&policyv1.PodDisruptionBudget{}: {Label: generated},
		},
	}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}
