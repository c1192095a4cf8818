package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReconcileOptions names the objects to reconcile.
type ReconcileOptions struct {
	Namespace string
	// Refs are kind/name references, e.g. mqttuser/sensor-1.
	Refs []string
}

// Reconcile asks the operator to reconcile each referenced object now by
// setting ReconcileRequestedAtAnnotation to the clock's time. Every
// reference is checked before any object is touched.
func Reconcile(ctx context.Context, c client.Writer, w io.Writer, clk clock.PassiveClock, opts ReconcileOptions) error {
	if len(opts.Refs) == 0 {
		return fmt.Errorf("no object given: want <kind>/<name>, e.g. mqttuser/sensor-1")
	}
	refs := make([]Ref, 0, len(opts.Refs))
	for _, s := range opts.Refs {
		r, err := ParseRef(s)
		if err != nil {
			return err
		}
		refs = append(refs, r)
	}
	at := clk.Now().UTC().Format(time.RFC3339)
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{ReconcileRequestedAtAnnotation: at}},
	})
	if err != nil {
		return err
	}
	for _, r := range refs {
		obj := r.Kind.newObject()
		obj.SetNamespace(opts.Namespace)
		obj.SetName(r.Name)
		// A merge patch touches only the annotation and needs no resourceVersion.
		if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%s %q not found in namespace %q", r.Kind.Singular(), r.Name, opts.Namespace)
			}
			return fmt.Errorf("annotate %s in namespace %q: %w", r, opts.Namespace, err)
		}
		if _, err := fmt.Fprintf(w, "%s reconcile requested at %s\n", r, at); err != nil {
			return err
		}
	}
	return nil
}
