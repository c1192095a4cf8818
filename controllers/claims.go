package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// holder returns the object that holds a claim: the oldest live claimant,
// ties broken by namespace/name so every reconciler agrees. Objects being
// deleted take no part, so a successor takes over once they are gone.
func holder(objs []client.Object) client.Object {
	var best client.Object
	for _, o := range objs {
		if !o.GetDeletionTimestamp().IsZero() {
			continue
		}
		if best == nil || olderThan(o, best) {
			best = o
		}
	}
	return best
}

func olderThan(a, b client.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}

// claimants lists every object of list's kind with the given claim key.
func claimants(ctx context.Context, c client.Reader, list client.ObjectList, key string) ([]client.Object, error) {
	if err := c.List(ctx, list, client.MatchingFields{indexClaim: key}); err != nil {
		return nil, fmt.Errorf("list claimants of %s: %w", key, err)
	}
	var out []client.Object
	err := meta.EachListItem(list, func(o runtime.Object) error {
		out = append(out, o.(client.Object))
		return nil
	})
	return out, err
}

// otherHolder returns the name of the object that holds the claim instead
// of self, or "" when self holds it (or nobody else claims it).
func otherHolder(ctx context.Context, c client.Reader, self client.Object, list client.ObjectList, key string) (string, error) {
	objs, err := claimants(ctx, c, list, key)
	if err != nil {
		return "", err
	}
	h := holder(objs)
	if h == nil || h.GetUID() == self.GetUID() {
		return "", nil
	}
	return h.GetNamespace() + "/" + h.GetName(), nil
}

// liveSuccessor reports whether another live object claims the same key,
// in which case a deleted holder must leave the broker object to it.
func liveSuccessor(ctx context.Context, c client.Reader, self client.Object, list client.ObjectList, key string) (bool, error) {
	objs, err := claimants(ctx, c, list, key)
	if err != nil {
		return false, err
	}
	for _, o := range objs {
		if o.GetUID() != self.GetUID() && o.GetDeletionTimestamp().IsZero() {
			return true, nil
		}
	}
	return false, nil
}

// enqueueClaimants wakes every object sharing a claim with the changed
// one, so a successor takes over as soon as a holder goes away.
func enqueueClaimants(c client.Reader, newList func() client.ObjectList, claim func(client.Object) string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		objs, err := claimants(ctx, c, newList(), claim(o))
		if err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for _, p := range objs {
			if p.GetUID() != o.GetUID() {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.GetNamespace(), Name: p.GetName()}})
			}
		}
		return reqs
	})
}

// enqueueByBroker wakes every object of a kind that references a broker.
func enqueueByBroker(c client.Reader, newList func() client.ObjectList) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		list := newList()
		if err := c.List(ctx, list, client.MatchingFields{indexBroker: o.GetNamespace() + "/" + o.GetName()}); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		_ = meta.EachListItem(list, func(r runtime.Object) error {
			p := r.(client.Object)
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.GetNamespace(), Name: p.GetName()}})
			return nil
		})
		return reqs
	})
}
