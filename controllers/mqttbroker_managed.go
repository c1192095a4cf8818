package controllers

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps;secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;delete
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=patch

// reconcileManaged applies the broker's StatefulSet, Services, ConfigMap,
// Secrets and PodDisruptionBudget, marks the pods whose node has joined the
// cluster, and waits for the pods.
func (r *MQTTBrokerReconciler) reconcileManaged(ctx context.Context, b *mqttv1.MQTTBroker) error {
	if err := ensureFinalizer(ctx, r.Client, b); err != nil {
		return err
	}
	m := b.Spec.Managed
	if b.Status.ClusterDomain == "" {
		b.Status.ClusterDomain = r.clusterDomain
	}
	b.Status.APIVersion = m.APIVersion()
	b.Status.CredentialsSecretName = resources.CredentialsSecretName(b)
	publishHosts(b)
	if err := resources.ValidateSpec(b); err != nil {
		return stalled(mqttv1.ReasonInvalidSpec, "%v", err)
	}
	if err := r.checkReferencedSecrets(ctx, b); err != nil {
		return err
	}
	objs, err := r.managedObjects(ctx, b)
	if err != nil {
		return err
	}
	if err := r.applyManaged(ctx, b, objs); err != nil {
		return err
	}
	pods, err := r.pods(ctx, b)
	if err != nil {
		return err
	}
	if err := r.restartForCookie(ctx, pods, objs.StatefulSet.Spec.Template.Annotations[resources.CookieHashAnnotation]); err != nil {
		return err
	}
	if _, err := r.markJoined(ctx, b, pods); err != nil {
		return err
	}
	return r.rolloutStatus(ctx, b)
}

// managedObjects builds what a managed broker consists of, with the
// credentials and the cookie it keeps in its Secrets.
func (r *MQTTBrokerReconciler) managedObjects(ctx context.Context, b *mqttv1.MQTTBroker) (*resources.Objects, error) {
	creds, credsSecret, err := r.managedCredentials(ctx, b)
	if err != nil {
		return nil, err
	}
	cookie, cookieSecret, err := r.managedCookie(ctx, b, credsSecret)
	if err != nil {
		return nil, err
	}
	objs, err := resources.Build(resources.Input{Broker: b, Credentials: creds, Cookie: cookie})
	if err != nil {
		if resources.IsSpecError(err) {
			return nil, stalled(mqttv1.ReasonInvalidSpec, "%v", err)
		}
		return nil, fmt.Errorf("build managed objects: %w", err)
	}
	// A Secret read from the cache may have been deleted since: applying
	// it would bring the old content back by chance. Pinning the UID makes
	// such an apply fail, and the next reconcile sees the Secret gone.
	pinUID(objs.Secret, credsSecret)
	pinUID(objs.CookieSecret, cookieSecret)
	return objs, nil
}

// applyManaged applies objs, owned by b, and deletes the
// PodDisruptionBudget the spec no longer asks for.
func (r *MQTTBrokerReconciler) applyManaged(ctx context.Context, b *mqttv1.MQTTBroker, objs *resources.Objects) error {
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
	return nil
}

// publishHosts writes where the broker is reached into the status: fully
// qualified names once the cluster domain is known.
func publishHosts(b *mqttv1.MQTTBroker) {
	b.Status.APIURL = resources.APIURL(b)
	b.Status.MQTTHost = resources.MQTTHost(b)
	b.Status.MQTTPort = resources.MQTTPort(b)
}

// learnClusterDomain takes the cluster domain from the node names the
// broker reports: the pods derived it from the files the kubelet wrote, so
// it is right even where the operator's guess was not.
func learnClusterDomain(b *mqttv1.MQTTBroker, nodes []broker.Node) {
	for _, n := range nodes {
		if d, ok := resources.ClusterDomainFromNodeName(b, n.Name); ok {
			b.Status.ClusterDomain = d
			publishHosts(b)
			return
		}
	}
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
// checked over its API once every pod runs the current revision and is
// Ready, which the readiness gate makes mean "joined".
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
		return waiting(mqttv1.ReasonBrokerNotReady, r.WaitInterval, "StatefulSet %s: no EMQX node has joined the cluster yet (0/%d ready)", sts.Name, want)
	case sts.Status.UpdatedReplicas < want || sts.Status.ReadyReplicas < want ||
		(sts.Status.UpdateRevision != "" && sts.Status.CurrentRevision != sts.Status.UpdateRevision):
		return waiting(mqttv1.ReasonRollingOut, r.WaitInterval, "StatefulSet %s: rolling out, %d/%d ready (joined), %d/%d updated", sts.Name, sts.Status.ReadyReplicas, want, sts.Status.UpdatedReplicas, want)
	}
	return nil
}

// managedCredentials reads the generated API credentials back, generating
// them when the Secret does not exist or is damaged. New credentials reach
// EMQX only through the bootstrap file, which a node reads when it starts:
// the pod template's config hash changes and the StatefulSet restarts the
// nodes one at a time, each waiting for the previous one to rejoin. The
// first restarted node writes the new key into the replicated API key
// table, so the operator regains access as soon as it is up. It also
// returns the existing Secret, if any. The Secret reader finds a Secret
// written before the cache was limited to labelled Secrets too, rather
// than replacing it.
func (r *MQTTBrokerReconciler) managedCredentials(ctx context.Context, b *mqttv1.MQTTBroker) (resources.Credentials, *corev1.Secret, error) {
	s, err := r.conns.secrets.get(ctx, b.Namespace, resources.CredentialsSecretName(b))
	switch {
	case apierrors.IsNotFound(err):
		return r.newCredentials(ctx, b, nil, "missing")
	case err != nil:
		return resources.Credentials{}, nil, fmt.Errorf("get credentials Secret: %w", err)
	}
	c, err := resources.CredentialsFromSecret(s)
	if err != nil {
		return r.newCredentials(ctx, b, s, "damaged")
	}
	return c, s, nil
}

func (r *MQTTBrokerReconciler) newCredentials(ctx context.Context, b *mqttv1.MQTTBroker, old *corev1.Secret, why string) (resources.Credentials, *corev1.Secret, error) {
	c, err := resources.NewCredentials(rand.Reader)
	if err != nil {
		return c, nil, err
	}
	if b.Status.LastChecked != nil {
		// The broker has run before: say what happens next.
		log.FromContext(ctx).Info("regenerating the API credentials", "secret", resources.CredentialsSecretName(b), "reason", why)
		r.recorder.Eventf(b, nil, corev1.EventTypeWarning, "CredentialsRegenerated", "Regenerate",
			"the API credentials Secret %s was %s; new credentials take effect as the pods restart one at a time (EMQX reads its bootstrap file at start)",
			resources.CredentialsSecretName(b), why)
	}
	return c, old, nil
}

// managedCookie reads the Erlang cookie back. It is generated only when the
// cookie Secret is gone: from the cookie an earlier operator version kept
// in the credentials Secret when there is one, else at random.
func (r *MQTTBrokerReconciler) managedCookie(ctx context.Context, b *mqttv1.MQTTBroker, credsSecret *corev1.Secret) (string, *corev1.Secret, error) {
	s, err := r.conns.secrets.get(ctx, b.Namespace, resources.CookieSecretName(b))
	switch {
	case err == nil:
		if c, err := resources.CookieFromSecret(s); err == nil {
			return c, s, nil
		}
		// The Secret is immutable: a damaged one is replaced, not updated.
		if !isControlledBy(s, b) {
			return "", nil, stalled(mqttv1.ReasonSecretInvalid, "Secret %s/%s holds no valid Erlang cookie and does not belong to this broker", b.Namespace, s.Name)
		}
		if err := r.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return "", nil, fmt.Errorf("replace damaged cookie Secret: %w", err)
		}
	case !apierrors.IsNotFound(err):
		return "", nil, fmt.Errorf("get cookie Secret: %w", err)
	}
	if credsSecret != nil {
		if c, ok := resources.LegacyCookie(credsSecret); ok {
			return c, nil, nil
		}
	}
	if b.Status.LastChecked != nil {
		r.recorder.Eventf(b, nil, corev1.EventTypeWarning, "CookieRegenerated", "Regenerate",
			"the Erlang cookie Secret %s was lost; nodes with different cookies cannot form a cluster, so every pod restarts at once with the new cookie",
			resources.CookieSecretName(b))
	}
	c, err := resources.NewCookie(rand.Reader)
	return c, nil, err
}

// pinUID makes an apply of obj succeed only on the object existing was.
func pinUID(obj client.Object, existing *corev1.Secret) {
	if obj != nil && existing != nil {
		obj.SetUID(existing.UID)
	}
}

// checkReferencedSecrets checks that the TLS and license Secrets the spec
// names exist with the keys the pods mount, before a pod template that
// mounts them is applied: a missing one would leave a pod unable to start
// in the middle of a rollout. The Secret reader labels them for the cache,
// so a later change brings the broker back here.
func (r *MQTTBrokerReconciler) checkReferencedSecrets(ctx context.Context, b *mqttv1.MQTTBroker) error {
	m := b.Spec.Managed
	type ref struct {
		what, name string
		keys       []string
	}
	var refs []ref
	if m.TLS != nil {
		refs = append(refs, ref{"TLS", m.TLS.SecretName, []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey}})
	}
	if m.LicenseSecretRef != nil {
		refs = append(refs, ref{"license", m.LicenseSecretRef.Name, []string{m.LicenseSecretRef.Key}})
	}
	for _, rf := range refs {
		s, err := r.conns.secrets.get(ctx, b.Namespace, rf.name)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return waiting(mqttv1.ReasonSecretNotFound, r.WaitInterval, "%s Secret %s/%s not found", rf.what, b.Namespace, rf.name)
			}
			return fmt.Errorf("get %s Secret: %w", rf.what, err)
		}
		for _, k := range rf.keys {
			if len(s.Data[k]) == 0 {
				return waiting(mqttv1.ReasonSecretInvalid, r.WaitInterval, "%s Secret %s/%s has no key %q", rf.what, b.Namespace, rf.name, k)
			}
		}
	}
	return nil
}

// pods lists the broker's pods, uncached: the manager does not cache pods.
func (r *MQTTBrokerReconciler) pods(ctx context.Context, b *mqttv1.MQTTBroker) ([]corev1.Pod, error) {
	var list corev1.PodList
	if err := r.reader.List(ctx, &list, client.InNamespace(b.Namespace), client.MatchingLabels(resources.SelectorLabels(b))); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return list.Items, nil
}

// restartForCookie deletes, all at once, the pods that run with another
// cookie than the template's: a node can only join nodes with its own
// cookie, so rolling them one by one would leave each restarted node
// outside the cluster and the rollout stuck. Pods without the annotation
// predate it and are left to the StatefulSet.
func (r *MQTTBrokerReconciler) restartForCookie(ctx context.Context, pods []corev1.Pod, want string) error {
	var errs []error
	for i := range pods {
		p := &pods[i]
		have, ok := p.Annotations[resources.CookieHashAnnotation]
		if !ok || have == want || !p.DeletionTimestamp.IsZero() {
			continue
		}
		log.FromContext(ctx).Info("restarting a pod that runs with another Erlang cookie", "pod", p.Name)
		if err := r.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// markJoined sets the JoinedCondition readiness gate of the pods whose
// node has joined the cluster (resources.PodsToMarkJoined), and says
// whether started pods are still waiting for it. A broker that does not
// answer yet only delays it; the condition is never set back to False,
// which would take a serving node out of its Services for a fault of the
// API path.
func (r *MQTTBrokerReconciler) markJoined(ctx context.Context, b *mqttv1.MQTTBroker, pods []corev1.Pod) (waiting bool, err error) {
	states := make([]resources.PodState, 0, len(pods))
	pending := false
	for _, p := range pods {
		ord, ok := resources.PodOrdinal(b, p.Name)
		if !ok {
			continue
		}
		s := resources.PodState{Name: p.Name, Ordinal: ord, Terminating: !p.DeletionTimestamp.IsZero(),
			ContainersReady: podCondition(&p, corev1.ContainersReady), Joined: podCondition(&p, resources.JoinedCondition)}
		pending = pending || (s.ContainersReady && !s.Joined && !s.Terminating)
		states = append(states, s)
	}
	if !pending {
		return false, nil
	}
	nodes, err := r.clusterNodes(ctx, b)
	if err != nil {
		log.FromContext(ctx).V(1).Info("cannot read the cluster members yet", "error", err.Error())
		return true, nil
	}
	learnClusterDomain(b, nodes)
	marked := resources.PodsToMarkJoined(b, states, nodes)
	for _, name := range marked {
		if err := r.setJoined(ctx, b.Namespace, name); err != nil {
			return true, err
		}
	}
	for _, st := range states {
		if st.ContainersReady && !st.Joined && !st.Terminating && !slices.Contains(marked, st.Name) {
			return true, nil
		}
	}
	return false, nil
}

// clusterNodes asks the broker for its members.
func (r *MQTTBrokerReconciler) clusterNodes(ctx context.Context, b *mqttv1.MQTTBroker) ([]broker.Node, error) {
	cl, err := r.conns.clientFor(ctx, b)
	if err != nil {
		return nil, err
	}
	cluster, ok := cl.(broker.Cluster)
	if !ok {
		return nil, fmt.Errorf("the %s driver cannot list cluster members", cl.APIVersion())
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()
	return cluster.Nodes(ctx)
}

// setJoined sets the pod's JoinedCondition with a strategic merge patch of
// its status, which touches no other condition.
func (r *MQTTBrokerReconciler) setJoined(ctx context.Context, namespace, name string) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{{
		Type: resources.JoinedCondition, Status: corev1.ConditionTrue, Reason: "Joined",
		Message: "the EMQX node is a running member of the cluster", LastTransitionTime: metav1.NewTime(r.Clock.Now()),
	}}}})
	if err != nil {
		return err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := r.Status().Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark pod %s joined: %w", name, err)
	}
	log.FromContext(ctx).Info("pod joined the cluster", "pod", name)
	return nil
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// checkMembership makes Ready require every replica's node running in the
// cluster of the node that answers, and nothing else running in it. It
// also force-leaves departed nodes, with the same view.
func (r *MQTTBrokerReconciler) checkMembership(ctx context.Context, b *mqttv1.MQTTBroker, cl broker.Client) error {
	cluster, ok := cl.(broker.Cluster)
	if !ok {
		return nil
	}
	nodes, err := cluster.Nodes(ctx)
	if err != nil {
		return classify(err, &r.Options)
	}
	learnClusterDomain(b, nodes)
	r.removeDepartedNodes(ctx, b, cl, nodes)
	m := resources.CheckMembership(b, nodes)
	switch {
	case m.InOneCluster():
		return nil
	case len(m.Stopped) > 0:
		return waiting(mqttv1.ReasonClusterSplit, r.WaitInterval, "EMQX nodes are not in one cluster: the answering node runs with %v and has lost %v, whose pods are ready", m.Running, m.Stopped)
	case len(m.Missing) > 0:
		return waiting(mqttv1.ReasonNodesMissing, r.WaitInterval, "EMQX nodes are not in one cluster: %v are not members of the cluster of %v", m.Missing, m.Running)
	default:
		return waiting(mqttv1.ReasonUnexpectedNodes, r.WaitInterval, "the EMQX cluster has running members that are not this broker's current pods: %v", m.Unexpected)
	}
}

// finalizeManaged deletes what the broker owns. Owner references would let
// the garbage collector do it, but deleting explicitly makes deletion
// complete even where no garbage collector runs, and lets the broker's
// dependents see it go in order.
func (r *MQTTBrokerReconciler) finalizeManaged(ctx context.Context, b *mqttv1.MQTTBroker) error {
	if !controllerutil.ContainsFinalizer(b, mqttv1.Finalizer) {
		return nil
	}
	owned := []client.Object{&appsv1.StatefulSet{}, &policyv1.PodDisruptionBudget{}, &corev1.Service{}, &corev1.Service{}, &corev1.Service{},
		&corev1.ConfigMap{}, &corev1.Secret{}, &corev1.Secret{}}
	names := []string{resources.StatefulSetName(b), resources.PDBName(b), resources.ClientServiceName(b), resources.APIServiceName(b),
		resources.HeadlessServiceName(b), resources.ConfigMapName(b), resources.CredentialsSecretName(b), resources.CookieSecretName(b)}
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

// deleteOwned deletes obj if it exists and b controls it. It reads
// uncached: the cache holds only labelled Secrets.
func (r *MQTTBrokerReconciler) deleteOwned(ctx context.Context, b *mqttv1.MQTTBroker, obj client.Object) error {
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
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
// that still runs is on its way out and will stop first. A node that is no
// member any more counts as removed (the driver says so). Failures only
// delay the cleanup, so they are reported as Events and retried at the
// next check.
func (r *MQTTBrokerReconciler) removeDepartedNodes(ctx context.Context, b *mqttv1.MQTTBroker, cl broker.Client, nodes []broker.Node) {
	remover, ok := cl.(broker.NodeRemover)
	if !ok {
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
