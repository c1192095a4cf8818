package controllers

import (
	"context"
	"net/url"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// MQTTBrokerReconciler checks that a broker's API answers with valid
// credentials, and runs EMQX for managed brokers.
type MQTTBrokerReconciler struct {
	client.Client
	Options
	conns    *connector
	recorder events.EventRecorder
	// reader reads what the manager does not cache: pods, and Secrets that
	// may lack the watch label.
	reader client.Reader
	// clusterDomain is the operator's own cluster domain, when its resolver
	// settings tell it; managed brokers start from it until their node
	// names say otherwise.
	clusterDomain string
	// readings receives the metrics each check reads, for the
	// mqtt_broker_* series; nil when they are off.
	readings *brokerReadings
}

// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbrokers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbrokers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mqtt.mqttoperator.io,resources=mqttbrokers/finalizers,verbs=update

// Reconcile checks the broker's API and reports what it learnt. A ready
// broker is checked again every resync interval.
func (r *MQTTBrokerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &mqttv1.MQTTBroker{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.conns.forgetByName(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !b.DeletionTimestamp.IsZero() {
		return conflictAsRequeue(ctrl.Result{}, r.finalizeManaged(ctx, b))
	}
	if b.Spec.Suspend {
		return r.suspend(ctx, b)
	}
	if err := markProgressing(ctx, r.Client, b); err != nil {
		return ctrl.Result{}, err
	}
	before := b.DeepCopy()
	setSuspended(&b.Status.CommonStatus, b.Generation, false)
	var err error
	if b.Spec.Managed != nil {
		b.Status.Mode = "Managed"
		if err = r.reconcileManaged(ctx, b); apierrors.IsConflict(err) {
			return conflictAsRequeue(ctrl.Result{}, err)
		}
	} else {
		b.Status.Mode = "External"
		r.reconcileExternal(b)
	}
	if err == nil {
		err = r.check(ctx, b)
	}
	if after, busy := retryAfterBusy(err); busy {
		if perr := patchStatus(ctx, r.Client, b, before); perr != nil {
			return ctrl.Result{}, perr
		}
		return ctrl.Result{RequeueAfter: jitter(after)}, nil
	}
	res, err := summarize(&b.Status.CommonStatus, b.Generation, err, "broker API answers with valid credentials")
	if err == nil && res.RequeueAfter == 0 {
		res.RequeueAfter = jitter(r.ResyncInterval)
	}
	if perr := patchStatus(ctx, r.Client, b, before); perr != nil {
		return ctrl.Result{}, perr
	}
	return res, err
}

// suspend records that spec.suspend holds the broker: nothing is applied,
// no node is removed, and the status keeps what was last observed. One
// thing goes on for a managed broker: a pod that restarts meanwhile is
// marked joined once its node is back in the cluster, because without the
// readiness gate it would never serve clients again while the broker is
// suspended.
func (r *MQTTBrokerReconciler) suspend(ctx context.Context, b *mqttv1.MQTTBroker) (ctrl.Result, error) {
	var res ctrl.Result
	if b.Spec.Managed != nil {
		pods, err := r.pods(ctx, b)
		if err != nil {
			return res, err
		}
		waitingPods, err := r.markJoined(ctx, b.DeepCopy(), pods)
		if err != nil {
			return res, err
		}
		// Pods are not watched: look again for restarted ones.
		res.RequeueAfter = jitter(r.ResyncInterval)
		if waitingPods {
			res.RequeueAfter = r.WaitInterval
		}
	}
	before := b.DeepCopy()
	setSuspended(&b.Status.CommonStatus, b.Generation, true)
	return res, patchStatus(ctx, r.Client, b, before)
}

// reconcileExternal fills in where an existing broker is reached.
func (*MQTTBrokerReconciler) reconcileExternal(b *mqttv1.MQTTBroker) {
	ext := b.Spec.External
	b.Status.APIURL = ext.URL
	b.Status.APIVersion = ext.APIVersion
	b.Status.MQTTHost = ext.MQTTHost
	if b.Status.MQTTHost == "" {
		if u, err := url.Parse(ext.URL); err == nil {
			b.Status.MQTTHost = u.Hostname()
		}
	}
	b.Status.MQTTPort = ext.MQTTPort
	if b.Status.MQTTPort == 0 {
		b.Status.MQTTPort = 1883
	}
}

// check calls the API: an authenticated health read, then the metrics. A
// broker that asked to be left alone (Retry-After) is not called until
// then: the check says busyError, and the status keeps what the last call
// found.
func (r *MQTTBrokerReconciler) check(ctx context.Context, b *mqttv1.MQTTBroker) error {
	if pause := r.conns.pausedFor(b); pause > 0 {
		return &busyError{after: pause}
	}
	cl, err := r.conns.clientFor(ctx, b)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.conns.callTimeout())
	defer cancel()
	info, err := cl.Health(ctx)
	if err != nil {
		r.conns.backOff(b, err)
		if be, ok := broker.AsError(err); ok {
			// The objects of a broker that is not ready wait without an
			// Event of their own; this one tells why.
			r.recorder.Eventf(b, nil, corev1.EventTypeWarning, "BrokerError", be.Op, "%s", brokerErrorMessage(be))
		}
		if broker.ClassOf(err) == broker.ClassUnauthorized {
			be, _ := broker.AsError(err)
			// The credentials live in a watched Secret, but the broker's
			// side can change too, so look again after a while.
			return &stallError{reason: mqttv1.ReasonUnauthorized, msg: "broker refused the API credentials: " + brokerErrorMessage(be), requeue: r.ResyncInterval}
		}
		return classify(err, &r.Options)
	}
	b.Status.BrokerVersion = info.Version
	if b.Spec.External != nil {
		b.Status.ReadyReplicas = int32(info.RunningNodes)
	}
	m, err := cl.Metrics(ctx)
	if err != nil {
		r.conns.backOff(b, err)
		return classify(err, &r.Options)
	}
	// status.metrics changes once per check, so at most once per resync
	// interval; the exported series are refreshed more often.
	b.Status.Metrics = statusMetrics(m)
	r.readings.record(b, m)
	now := metav1.NewTime(r.Clock.Now())
	b.Status.LastChecked = &now
	if b.Spec.Managed != nil {
		return r.checkMembership(ctx, b, cl)
	}
	return nil
}

// SetupWithManager watches MQTTBrokers and the Secrets they use.
func (r *MQTTBrokerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.reader = mgr.GetAPIReader()
	if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		r.clusterDomain = clusterDomainFromResolvConf(string(data))
	}
	bld := ctrl.NewControllerManagedBy(mgr).
		// Not on its own status writes: each check writes lastChecked, and
		// the write would bring a second check at once.
		For(&mqttv1.MQTTBroker{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}, deletionPredicate()))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.brokersOfSecret)).
		WithOptions(r.controllerOptions()).
		Named("mqttbroker")
	return r.ownManaged(bld).Complete(r)
}

// brokersOfSecret finds the brokers in a Secret's namespace that use it.
func (r *MQTTBrokerReconciler) brokersOfSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list mqttv1.MQTTBrokerList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, b := range list.Items {
		if usesSecret(&b, o.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}})
		}
	}
	return reqs
}

func usesSecret(b *mqttv1.MQTTBroker, name string) bool {
	if ext := b.Spec.External; ext != nil {
		return ext.CredentialsSecretRef.Name == name || (ext.CASecretRef != nil && ext.CASecretRef.Name == name)
	}
	if m := b.Spec.Managed; m != nil {
		return (m.TLS != nil && m.TLS.SecretName == name) || (m.LicenseSecretRef != nil && m.LicenseSecretRef.Name == name)
	}
	return false
}

// clusterDomainFromResolvConf finds the cluster domain in a pod's resolver
// settings, whose search path the kubelet starts with
// "<namespace>.svc.<domain> svc.<domain> <domain>". Outside a cluster it
// finds nothing.
func clusterDomainFromResolvConf(content string) string {
	for _, line := range strings.Split(content, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "search" {
			continue
		}
		for _, f := range fields[1:] {
			if d, ok := strings.CutPrefix(strings.TrimSuffix(f, "."), "svc."); ok && d != "" {
				return d
			}
		}
	}
	return ""
}
