package controllers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/resources"
)

// fieldOwner is the server-side apply manager of everything the operator
// builds for a managed broker.
const fieldOwner = client.FieldOwner("mqtt-operator")

// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete

// reconcileManaged applies the broker's StatefulSet, Services, ConfigMap,
// Secret and PodDisruptionBudget, and waits for the pods.
func (r *MQTTBrokerReconciler) reconcileManaged(ctx context.Context, b *mqttv1.MQTTBroker) error {
	if err := ensureFinalizer(ctx, r.Client, b); err != nil {
		return err
	}
	m := b.Spec.Managed
	b.Status.APIURL = resources.APIURL(b)
	b.Status.APIVersion = m.APIVersion()
	b.Status.MQTTHost = resources.MQTTHost(b)
	b.Status.MQTTPort = resources.MQTTPort(b)
	b.Status.CredentialsSecretName = resources.CredentialsSecretName(b)
	if err := resources.ValidateSpec(b); err != nil {
		return stalled(mqttv1.ReasonInvalidSpec, "%v", err)
	}
	creds, err := r.managedCredentials(ctx, b)
	if err != nil {
		return err
	}
	objs, err := resources.Build(resources.Input{Broker: b, Credentials: creds})
	if err != nil {
		if resources.IsSpecError(err) {
			return stalled(mqttv1.ReasonInvalidSpec, "%v", err)
		}
		return fmt.Errorf("build managed objects: %w", err)
	}
	for _, obj := range objs.All() {
		if err := controllerutil.SetControllerReference(b, obj, r.Scheme()); err != nil {
			return fmt.Errorf("own %s: %w", obj.GetName(), err)
		}
		if err := r.apply(ctx, obj); err != nil {
			if apierrors.IsInvalid(err) {
				return stalled(mqttv1.ReasonInvalidSpec, "the API server refused %s %s: %v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
			}
			return fmt.Errorf("apply %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	if objs.PodDisruptionBudget == nil {
		pdb := &policyv1.PodDisruptionBudget{}
		pdb.Name, pdb.Namespace = resources.PDBName(b), b.Namespace
		if err := r.deleteOwned(ctx, b, pdb); err != nil {
			return err
		}
	}
	return r.rolloutStatus(ctx, b)
}

// apply server-side-applies obj as the operator's field manager, so fields
// the API server or other controllers own are left alone and no read is
// needed to compute a diff.
func (r *MQTTBrokerReconciler) apply(ctx context.Context, obj client.Object) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("convert %s: %w", obj.GetName(), err)
	}
	delete(u, "status")
	unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
	return r.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), fieldOwner, client.ForceOwnership)
}

// rolloutStatus reports the StatefulSet's progress; the broker is only
// checked over its API once every pod runs the current revision.
func (r *MQTTBrokerReconciler) rolloutStatus(ctx context.Context, b *mqttv1.MQTTBroker) error {
	var sts appsv1.StatefulSet
	if err := r.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: resources.StatefulSetName(b)}, &sts); err != nil {
		return fmt.Errorf("get StatefulSet: %w", err)
	}
	want := int32(1)
	if sts.Spec.Replicas != nil {
		want = *sts.Spec.Replicas
	}
	b.Status.Replicas = want
	b.Status.ReadyReplicas = sts.Status.ReadyReplicas
	switch {
	case sts.Status.ObservedGeneration < sts.Generation:
		return waiting(mqttv1.ReasonRollingOut, r.WaitInterval, "StatefulSet %s: waiting for the controller to see generation %d", sts.Name, sts.Generation)
	case sts.Status.ReadyReplicas == 0:
		return waiting(mqttv1.ReasonBrokerNotReady, r.WaitInterval, "StatefulSet %s: no EMQX node is ready yet (0/%d)", sts.Name, want)
	case sts.Status.UpdatedReplicas < want || sts.Status.ReadyReplicas < want ||
		(sts.Status.UpdateRevision != "" && sts.Status.CurrentRevision != sts.Status.UpdateRevision):
		return waiting(mqttv1.ReasonRollingOut, r.WaitInterval, "StatefulSet %s: rolling out, %d/%d ready, %d/%d updated", sts.Name, sts.Status.ReadyReplicas, want, sts.Status.UpdatedReplicas, want)
	}
	return nil
}

// managedCredentials reads the generated API credentials back, generating
// them once when the Secret does not exist yet.
func (r *MQTTBrokerReconciler) managedCredentials(ctx context.Context, b *mqttv1.MQTTBroker) (resources.Credentials, error) {
	// Read through the Secret reader: a Secret written before the cache
	// was limited to labelled Secrets is found (and labelled) too, rather
	// than replaced.
	s, err := r.conns.secrets.get(ctx, b.Namespace, resources.CredentialsSecretName(b))
	switch {
	case apierrors.IsNotFound(err):
		return resources.NewCredentials(rand.Reader)
	case err != nil:
		return resources.Credentials{}, fmt.Errorf("get credentials Secret: %w", err)
	}
	c, err := resources.CredentialsFromSecret(s)
	if err != nil {
		// A damaged Secret is replaced: the bootstrap file re-applies the new
		// credentials when the config hash rolls the pods.
		return resources.NewCredentials(rand.Reader)
	}
	return c, nil
}

// finalizeManaged deletes what the broker owns. Owner references would let
// the garbage collector do it, but deleting explicitly makes deletion
// complete even where no garbage collector runs, and lets the broker's
// dependents see it go in order.
func (r *MQTTBrokerReconciler) finalizeManaged(ctx context.Context, b *mqttv1.MQTTBroker) error {
	if !controllerutil.ContainsFinalizer(b, mqttv1.Finalizer) {
		return nil
	}
	owned := []client.Object{&appsv1.StatefulSet{}, &policyv1.PodDisruptionBudget{}, &corev1.Service{}, &corev1.Service{}, &corev1.Service{}, &corev1.ConfigMap{}, &corev1.Secret{}}
	names := []string{resources.StatefulSetName(b), resources.PDBName(b), resources.ClientServiceName(b), resources.APIServiceName(b),
		resources.HeadlessServiceName(b), resources.ConfigMapName(b), resources.CredentialsSecretName(b)}
	var errs []error
	for i, obj := range owned {
		obj.SetName(names[i])
		obj.SetNamespace(b.Namespace)
		errs = append(errs, r.deleteOwned(ctx, b, obj))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.conns.forgetByName(types.NamespacedName{Namespace: b.Namespace, Name: b.Name})
	return removeFinalizer(ctx, r.Client, b)
}

// deleteOwned deletes obj if it exists and b controls it.
func (r *MQTTBrokerReconciler) deleteOwned(ctx context.Context, b *mqttv1.MQTTBroker, obj client.Object) error {
	if err := r.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !isControlledBy(obj, b) {
		return nil
	}
	if err := r.Delete(ctx, obj, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s: %w", obj.GetName(), err)
	}
	return nil
}

func isControlledBy(obj client.Object, owner client.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// ownManaged watches what managed brokers own, so a StatefulSet's progress
// or an edited Service brings the broker back to the reconciler.
func (r *MQTTBrokerReconciler) ownManaged(bld *builder.Builder) *builder.Builder {
	return bld.Owns(&appsv1.StatefulSet{}).Owns(&corev1.Service{}).Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).Owns(&policyv1.PodDisruptionBudget{})
}

// removeDepartedNodes force-leaves the stopped nodes of pods a scale-down
// removed, so they do not linger in the cluster view (5.x keeps them for
// 24 hours). Running nodes are never removed: a pod past the desired count
// that still runs is on its way out and will stop first. Failures only
// delay the cleanup, so they are reported as Events and retried at the
// next check.
func (r *MQTTBrokerReconciler) removeDepartedNodes(ctx context.Context, b *mqttv1.MQTTBroker, cl broker.Client) {
	cluster, ok := cl.(broker.Cluster)
	remover, canRemove := cl.(broker.NodeRemover)
	if !ok || !canRemove || b.Spec.Managed == nil {
		return
	}
	nodes, err := cluster.Nodes(ctx)
	if err != nil {
		log.FromContext(ctx).Info("cannot list cluster nodes", "error", err.Error())
		return
	}
	var stopped []string
	for _, n := range nodes {
		if !n.Running {
			stopped = append(stopped, n.Name)
		}
	}
	for _, node := range resources.NodesToForceLeave(b, stopped, ptr.Deref(b.Spec.Managed.Replicas, 1)) {
		if err := remover.ForceLeave(ctx, node); err != nil {
			r.recorder.Eventf(b, nil, corev1.EventTypeWarning, "ForceLeaveFailed", "ForceLeave", "cannot remove departed node %s from the cluster: %v", node, err)
			continue
		}
		r.recorder.Eventf(b, nil, corev1.EventTypeNormal, "NodeRemoved", "ForceLeave", "removed departed node %s from the cluster", node)
	}
}
