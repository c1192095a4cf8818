package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/test/faultproxy"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

// user, acl and ban are what the soak wants the broker to hold: the model
// the audit compares the broker with.
type user struct {
	name, api  string
	identifier mqttv1.IdentifierKind
	// id is the username (or client id) on the broker.
	id        string
	secretRef string // "" for a generated password
	password  string // the Secret's password, for secretRef users
	superuser bool
}

type acl struct {
	name, api string
	subject   mqttv1.ACLSubject
	rules     []mqttv1.ACLRule
}

type ban struct {
	name, api   string
	as          mqttv1.BanKind
	who, reason string
}

// world is the soak's state: the processes, the model, and the seeded
// generator every decision comes from.
type world struct {
	t    *testing.T
	ctx  context.Context
	rng  *rand.Rand
	seed uint64
	c    client.Client
	ns   string
	dir  string

	mgr *harness.Manager
	// standbys are further managers a scenario runs (leader election):
	// the cluster moves while any of them runs.
	standbys []*harness.Manager
	// mgrOpts started mgr; a second manager is started with the same.
	mgrOpts harness.ManagerOptions
	tb      *harness.TestBroker
	proxy   *faultproxy.Proxy
	direct  map[string]broker.Client // by API, straight to the broker

	users map[string]*user
	acls  map[string]*acl
	bans  map[string]*ban
	// pending are objects to create once an earlier object of the same
	// name has finished deleting (kubectl replace).
	pending []client.Object
	// passwords is every password the soak saw or set; none may leak.
	passwords map[string]bool
	// retired are passwords a broker identity had and must refuse now.
	retired map[string][]string
	// gone are deleted users, with their last password.
	gone map[string]*user

	seq         int
	outageSteps int
	randomSteps int
	downSteps   int
	counts      map[string]int
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("soak (seed %d): %v", w.seed, err)
	}
}

func (w *world) next(prefix string) string {
	w.seq++
	return fmt.Sprintf("%s%d", prefix, w.seq)
}

func (w *world) pick(n int) int { return w.rng.IntN(n) }

func (w *world) api() string {
	if w.pick(2) == 0 {
		return "v4"
	}
	return "v5"
}

func (w *world) ref(api string) mqttv1.BrokerReference {
	return mqttv1.BrokerReference{Name: "emqx-" + api}
}

func (w *world) password() string {
	return fmt.Sprintf("pw-%016x%016x", w.rng.Uint64(), w.rng.Uint64())
}

// create creates an object, or queues it when an earlier object of the
// same name is still being deleted.
func (w *world) create(o client.Object) {
	o.SetNamespace(w.ns)
	err := w.c.Create(w.ctx, o)
	if apierrors.IsAlreadyExists(err) {
		w.pending = append(w.pending, o)
		return
	}
	w.must(err)
}

// flushPending creates the queued objects whose names are free again.
func (w *world) flushPending() {
	kept := w.pending[:0]
	for _, o := range w.pending {
		fresh := o.DeepCopyObject().(client.Object)
		fresh.SetResourceVersion("")
		err := w.c.Create(w.ctx, fresh)
		switch {
		case apierrors.IsAlreadyExists(err):
			kept = append(kept, o)
		default:
			w.must(err)
		}
	}
	w.pending = kept
}

func (w *world) userObject(u *user) *mqttv1.MQTTUser {
	o := &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: u.name}, Spec: mqttv1.MQTTUserSpec{BrokerRef: w.ref(u.api),
		Identifier: u.identifier, Superuser: u.superuser}}
	if u.id != u.name {
		o.Spec.Username = u.id
	}
	if u.secretRef != "" {
		o.Spec.PasswordSecretRef = &mqttv1.SecretKeySelector{Name: u.secretRef, Key: "password"}
	}
	return o
}

func (w *world) createUser() {
	u := &user{name: w.next("u"), api: w.api(), identifier: mqttv1.IdentifierUsername}
	u.id = u.name
	switch w.pick(4) {
	case 0:
		u.id = "user-" + u.name
	case 1:
		// The v5 test broker keeps users of one identity kind only.
		if u.api == "v4" {
			u.identifier, u.id = mqttv1.IdentifierClientID, "dev-"+u.name
		}
	}
	if w.pick(2) == 0 {
		u.secretRef, u.password = u.name+"-password", w.password()
		w.passwords[u.password] = true
		w.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.secretRef}, StringData: map[string]string{"password": u.password}})
	}
	w.users[u.name] = u
	delete(w.gone, u.id)
	w.create(w.userObject(u))
}

// anyOf picks an entry of m, nil when it is empty.
func anyOf[V any](w *world, m map[string]*V) *V {
	if len(m) == 0 {
		return nil
	}
	return m[sortedKeys(m)[w.pick(len(m))]]
}

func (w *world) anyUser() *user { return anyOf(w, w.users) }

// currentPassword reads what the user's Secret holds now.
func (w *world) currentPassword(u *user) string {
	name := u.secretRef
	if name == "" {
		name = u.name + "-mqtt-credentials"
	}
	var s corev1.Secret
	if err := w.c.Get(w.ctx, client.ObjectKey{Namespace: w.ns, Name: name}, &s); err != nil {
		return ""
	}
	return string(s.Data["password"])
}

func (w *world) deleteUser() {
	u := w.anyUser()
	if u == nil {
		return
	}
	if pw := w.currentPassword(u); pw != "" {
		g := *u
		g.password = pw
		w.gone[u.id] = &g
	}
	delete(w.users, u.name)
	w.deleteObject(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: u.name}})
	if u.secretRef != "" {
		w.deleteObject(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.secretRef}})
	}
}

// replaceUser deletes a user and creates it again at once under the same
// name, as kubectl replace and some GitOps syncs do: the reported defect.
func (w *world) replaceUser() {
	u := w.anyUser()
	if u == nil {
		return
	}
	if u.secretRef == "" {
		if pw := w.currentPassword(u); pw != "" {
			w.retired[u.id] = append(w.retired[u.id], pw)
		}
	}
	w.deleteObject(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: u.name}})
	w.create(w.userObject(u))
}

// rotate changes a user's password: a new value in its Secret, or, for a
// generated one, the Secret deleted so that the operator generates anew.
func (w *world) rotate() {
	u := w.anyUser()
	if u == nil {
		return
	}
	old := w.currentPassword(u)
	if u.secretRef == "" {
		if old == "" {
			return // not generated yet
		}
		w.retired[u.id] = append(w.retired[u.id], old)
		w.deleteObject(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.name + "-mqtt-credentials"}})
		return
	}
	if old != "" && old != u.password {
		w.t.Fatalf("soak (seed %d): Secret %s holds a password the soak did not set", w.seed, u.secretRef)
	}
	w.retired[u.id] = append(w.retired[u.id], u.password)
	u.password = w.password()
	w.passwords[u.password] = true
	var s corev1.Secret
	w.must(w.c.Get(w.ctx, client.ObjectKey{Namespace: w.ns, Name: u.secretRef}, &s))
	s.Data = map[string][]byte{"password": []byte(u.password)}
	w.must(w.c.Update(w.ctx, &s))
}

func (w *world) toggleSuperuser() {
	u := w.anyUser()
	if u == nil || u.api != "v5" {
		return
	}
	u.superuser = !u.superuser
	w.patch(&mqttv1.MQTTUser{}, u.name, func(o client.Object) { o.(*mqttv1.MQTTUser).Spec.Superuser = u.superuser })
}

var topicPool = []string{"sensors/+/temp", "devices/#", "a/b", "a/+", "cmd/x", "$SYS/#", "t/1", "t/2/#", "+/status", "#"}

func (w *world) rules() []mqttv1.ACLRule {
	actions := []mqttv1.ACLAction{mqttv1.ACLActionPublish, mqttv1.ACLActionSubscribe, mqttv1.ACLActionAll}
	perms := []mqttv1.ACLPermission{mqttv1.ACLAllow, mqttv1.ACLDeny}
	n := 1 + w.pick(4)
	seen := map[string]bool{}
	var out []mqttv1.ACLRule
	for len(out) < n {
		r := mqttv1.ACLRule{Topic: topicPool[w.pick(len(topicPool))], Action: actions[w.pick(3)], Permission: perms[w.pick(2)]}
		if k := r.Topic + " " + string(r.Action); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

func (w *world) createACL() {
	a := &acl{name: w.next("acl"), api: w.api(), rules: w.rules()}
	if w.pick(3) == 0 {
		a.subject = mqttv1.ACLSubject{ClientID: "cid-" + a.name}
	} else {
		a.subject = mqttv1.ACLSubject{Username: "user-of-" + a.name}
		if u := w.anyUser(); u != nil && u.identifier == mqttv1.IdentifierUsername && !w.subjectTaken(u.id) {
			a.subject.Username = u.id
		}
	}
	w.acls[a.name] = a
	w.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: a.name}, Spec: mqttv1.MQTTACLSpec{BrokerRef: w.ref(a.api), Subject: a.subject, Rules: a.rules}})
}

func (w *world) subjectTaken(username string) bool {
	for _, a := range w.acls {
		if a.subject.Username == username {
			return true
		}
	}
	return false
}

func (w *world) updateACL() {
	a := anyOf(w, w.acls)
	if a == nil {
		return
	}
	a.rules = w.rules()
	w.patch(&mqttv1.MQTTACL{}, a.name, func(o client.Object) { o.(*mqttv1.MQTTACL).Spec.Rules = a.rules })
}

func (w *world) deleteACL() {
	a := anyOf(w, w.acls)
	if a == nil {
		return
	}
	delete(w.acls, a.name)
	w.deleteObject(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: a.name}})
}

func (w *world) createBan() {
	b := &ban{name: w.next("ban"), api: w.api(), reason: fmt.Sprintf("r%d", w.pick(100))}
	switch w.pick(3) {
	case 0:
		b.as, b.who = mqttv1.BanClientID, "ban-c-"+b.name
	case 1:
		b.as, b.who = mqttv1.BanUsername, "ban-u-"+b.name
	default:
		// Documentation addresses: never the loopback the audit connects from.
		b.as, b.who = mqttv1.BanPeerHost, fmt.Sprintf("198.51.100.%d", w.seq%250+1)
		for _, o := range w.bans {
			if o.as == b.as && o.who == b.who {
				return
			}
		}
	}
	w.bans[b.name] = b
	w.create(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: b.name}, Spec: mqttv1.MQTTBanSpec{BrokerRef: w.ref(b.api), As: b.as, Who: b.who, Reason: b.reason}})
}

func (w *world) updateBan() {
	b := anyOf(w, w.bans)
	if b == nil {
		return
	}
	b.reason = fmt.Sprintf("r%d", w.pick(100))
	w.patch(&mqttv1.MQTTBan{}, b.name, func(o client.Object) { o.(*mqttv1.MQTTBan).Spec.Reason = b.reason })
}

func (w *world) deleteBan() {
	b := anyOf(w, w.bans)
	if b == nil {
		return
	}
	delete(w.bans, b.name)
	w.deleteObject(&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: b.name}})
}

// patch applies mutate to the named object, retrying on conflicts; an
// object still waiting to be created again gets the change in its queued
// copy.
func (w *world) patch(obj client.Object, name string, mutate func(client.Object)) {
	for _, o := range w.pending {
		if o.GetName() == name && fmt.Sprintf("%T", o) == fmt.Sprintf("%T", obj) {
			mutate(o)
		}
	}
	for range 20 {
		err := w.c.Get(w.ctx, client.ObjectKey{Namespace: w.ns, Name: name}, obj)
		if apierrors.IsNotFound(err) {
			return
		}
		w.must(err)
		if !obj.GetDeletionTimestamp().IsZero() {
			return // the queued copy carries the change
		}
		mutate(obj)
		err = w.c.Update(w.ctx, obj)
		if !apierrors.IsConflict(err) {
			w.must(err)
			return
		}
	}
	w.t.Fatalf("soak (seed %d): update of %s kept conflicting", w.seed, name)
}

func (w *world) deleteObject(o client.Object) {
	o.SetNamespace(w.ns)
	if err := w.c.Delete(w.ctx, o); err != nil && !apierrors.IsNotFound(err) {
		w.must(err)
	}
	// A queued re-creation of a deleted name is dropped.
	kept := w.pending[:0]
	for _, p := range w.pending {
		if p.GetName() != o.GetName() || fmt.Sprintf("%T", p) != fmt.Sprintf("%T", o) {
			kept = append(kept, p)
		}
	}
	w.pending = kept
}

// fault queues a burst of one kind of failure between manager and broker.
func (w *world) fault() {
	f := faultproxy.Fault{Kind: faultproxy.Kinds[w.pick(len(faultproxy.Kinds))], AfterForward: w.pick(2) == 0, Stall: 2 * brokerTimeout}
	switch f.Kind {
	case faultproxy.ServerError:
		f.Status = []int{500, 502, 503, 504}[w.pick(4)]
	case faultproxy.TooManyRequests:
		if w.pick(2) == 0 {
			f.RetryAfter = "1"
		}
	}
	w.proxy.Inject(f, 1+w.pick(8))
	w.counts["fault:"+string(f.Kind)]++
}

// randomFaults makes a share of all calls fail for a few steps.
func (w *world) randomFaults() {
	mix := make([]faultproxy.Fault, 0, len(faultproxy.Kinds))
	for _, k := range faultproxy.Kinds {
		mix = append(mix, faultproxy.Fault{Kind: k, AfterForward: w.pick(2) == 0, Stall: 2 * brokerTimeout, RetryAfter: "1"})
	}
	w.proxy.SetRandom(w.rng.Uint64(), 0.1+0.3*w.rng.Float64(), mix)
	w.randomSteps = 2 + w.pick(6)
}

func (w *world) outage() {
	w.must(w.proxy.SetOutage(true))
	w.outageSteps = 2 + w.pick(5)
}

func (w *world) wipe() { w.must(w.tb.Wipe(w.ctx)) }

// kill SIGKILLs the manager, and starts it again with the same flags now or
// after a few steps.
func (w *world) kill() {
	if !w.mgr.Running() {
		return
	}
	if w.pick(2) == 0 {
		w.must(w.mgr.Restart(w.ctx))
		return
	}
	w.must(w.mgr.Kill())
	w.downSteps = 1 + w.pick(4)
}

func (w *world) pause() { time.Sleep(time.Duration(500+w.pick(2500)) * time.Millisecond) }

// step runs one random action, after the scheduled ends of earlier ones.
func (w *world) step(i int) {
	if w.outageSteps > 0 {
		if w.outageSteps--; w.outageSteps == 0 {
			w.must(w.proxy.SetOutage(false))
		}
	}
	if w.randomSteps > 0 {
		if w.randomSteps--; w.randomSteps == 0 {
			w.proxy.SetRandom(0, 0, nil)
		}
	}
	if w.downSteps > 0 {
		if w.downSteps--; w.downSteps == 0 {
			w.must(w.mgr.Start(w.ctx))
		}
	}
	w.flushPending()
	w.recordPasswords()
	actions := []struct {
		weight int
		name   string
		run    func()
	}{
		{14, "create-user", w.createUser}, {5, "delete-user", w.deleteUser}, {4, "replace-user", w.replaceUser},
		{6, "rotate-password", w.rotate}, {2, "toggle-superuser", w.toggleSuperuser},
		{8, "create-acl", w.createACL}, {6, "update-acl", w.updateACL}, {4, "delete-acl", w.deleteACL},
		{6, "create-ban", w.createBan}, {3, "update-ban", w.updateBan}, {3, "delete-ban", w.deleteBan},
		{8, "fault-burst", w.fault}, {2, "fault-window", w.randomFaults}, {2, "outage", w.outage},
		{2, "wipe", w.wipe}, {3, "kill", w.kill}, {4, "pause", w.pause},
	}
	total := 0
	for _, a := range actions {
		total += a.weight
	}
	n := w.pick(total)
	for _, a := range actions {
		if n < a.weight {
			w.counts[a.name]++
			a.run()
			break
		}
		n -= a.weight
	}
	_ = i
	time.Sleep(time.Duration(50+w.pick(350)) * time.Millisecond)
}

// endChaos stops every fault and brings the manager back.
func (w *world) endChaos() {
	w.proxy.Clear()
	w.must(w.proxy.SetOutage(false))
	w.outageSteps, w.randomSteps = 0, 0
	if !w.mgr.Running() {
		w.must(w.mgr.Start(w.ctx))
	}
	w.downSteps = 0
}

// recordPasswords notes every password a Secret of the namespace holds,
// so that the hygiene audit knows what must never leak.
func (w *world) recordPasswords() {
	var list corev1.SecretList
	if err := w.c.List(w.ctx, &list, client.InNamespace(w.ns)); err != nil {
		return
	}
	for _, s := range list.Items {
		if pw := string(s.Data["password"]); pw != "" && s.Type != corev1.SecretTypeBasicAuth {
			w.passwords[pw] = true
		}
	}
}

// goroutines reads the manager's go_goroutines.
func (w *world) goroutines() int {
	m, err := w.mgr.Metrics(w.ctx)
	w.must(err)
	return int(m.Sum("go_goroutines", nil))
}

// managerRunning reports whether any manager of the world runs: when none
// does, waiting for the cluster to move is pointless.
func (w *world) managerRunning() bool {
	for _, m := range append([]*harness.Manager{w.mgr}, w.standbys...) {
		if m.Running() {
			return true
		}
	}
	return false
}
