package controllers

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/test/faultproxy"
)

// faultWindow is how long each fault scenario keeps the broker failing.
const faultWindow = 8 * time.Second

// callsTo counts the calls since a moment whose path contains s.
func callsTo(p *faultproxy.Proxy, since time.Time, s string) []faultproxy.Call {
	var out []faultproxy.Call
	for _, c := range p.Calls() {
		if !c.At.Before(since) && strings.Contains(c.Path, s) {
			out = append(out, c)
		}
	}
	return out
}

// pauseViolations checks calls to a broker that refuses every call with
// Retry-After: pause. Every caller (the objects' reconciles, the
// MQTTBroker's check, the drift scan, the metrics gatherer) must wait it
// out, so the calls come in bursts (the calls already under way when the
// first refusal came back, within two seconds on a busy machine), and a
// burst begins only once the previous one's pause is over. It returns what was wrong, "" when
// nothing was.
func pauseViolations(calls []faultproxy.Call, start time.Time, pause time.Duration) string {
	var seen []string
	var bad bool
	var burst time.Time
	for i, c := range calls {
		seen = append(seen, fmt.Sprintf("%s %s %s", c.At.Sub(start).Round(10*time.Millisecond), c.Method, c.Path))
		if i > 0 && c.At.Sub(burst) <= 2*time.Second {
			continue
		}
		if i > 0 && c.At.Sub(burst) < pause-time.Second {
			bad = true
			seen[len(seen)-1] += fmt.Sprintf("   <- %s after the burst at %s", c.At.Sub(burst).Round(10*time.Millisecond), burst.Sub(start).Round(10*time.Millisecond))
		}
		burst = c.At
	}
	if !bad {
		return ""
	}
	return fmt.Sprintf("the broker asked for %s between calls; calls came sooner:\n%s", pause, strings.Join(seen, "\n"))
}

// warnings lists the reasons of the Warning Events about an object.
func (e *env) warnings(name string) []string {
	var list eventsv1.EventList
	if err := k8sClient.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == name && ev.Type == corev1.EventTypeWarning {
			out = append(out, ev.Reason)
		}
	}
	return out
}

// readyFalseWith waits until the object's Ready condition is False and its
// message says something, and returns it.
func (e *env) readyFalse(obj statusObject, name string) metav1.Condition {
	e.t.Helper()
	var got metav1.Condition
	e.g.Eventually(func(g gomega.Gomega) {
		g.Expect(e.get(obj, name)).To(gomega.Succeed())
		c := apimeta.FindStatusCondition(obj.GetCommonStatus().Conditions, mqttv1.ConditionReady)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(c.Message).NotTo(gomega.BeEmpty())
		got = *c
	}, waitFor, 100*time.Millisecond).Should(gomega.Succeed())
	return got
}

// Every way a reply can go wrong, sustained for faultWindow: the objects
// say so in their status and Events, the operator backs off instead of
// looping (the calls are counted at the proxy), a broker's Retry-After is
// respected, and once the broker behaves everything converges to the spec.
func TestBrokerFaultsNoTightLoop(t *testing.T) {
	cases := []struct {
		name  string
		fault faultproxy.Fault
		// retryAfter is the Retry-After the broker sends, if any.
		retryAfter time.Duration
	}{
		{name: "garbage body", fault: faultproxy.Fault{Kind: faultproxy.Garbage}},
		{name: "truncated JSON", fault: faultproxy.Fault{Kind: faultproxy.TruncatedJSON}},
		{name: "body cut mid-way", fault: faultproxy.Fault{Kind: faultproxy.CutBody}},
		{name: "stall past the timeout", fault: faultproxy.Fault{Kind: faultproxy.Stall, Stall: 2 * testTimeout}},
		{name: "connection reset", fault: faultproxy.Fault{Kind: faultproxy.Reset}},
		{name: "503", fault: faultproxy.Fault{Kind: faultproxy.ServerError, Status: 503}},
		{name: "429 without Retry-After", fault: faultproxy.Fault{Kind: faultproxy.TooManyRequests}},
		{name: "429 with Retry-After", fault: faultproxy.Fault{Kind: faultproxy.TooManyRequests, RetryAfter: "8"}, retryAfter: 8 * time.Second},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each case has its own broker and proxy; running them side by
			// side keeps the suite short, and only lowers the call counts.
			t.Parallel()
			api := apis[i%len(apis)]
			e, p := proxiedEnv(t, api)
			user, subject := fmt.Sprintf("fault-user-%d", i), fmt.Sprintf("fault-subject-%d", i)
			start := time.Now()
			p.SetRandom(uint64(i+1), 1, []faultproxy.Fault{tc.fault})
			e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: user}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
			e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: subject}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
				Subject: mqttv1.ACLSubject{Username: subject}, Rules: []mqttv1.ACLRule{{Topic: "t/#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLAllow}}}})
			c := e.readyFalse(&mqttv1.MQTTUser{}, user)
			t.Logf("user during the fault: %s: %s", c.Reason, c.Message)
			time.Sleep(time.Until(start.Add(faultWindow)))
			p.SetRandom(0, 0, nil)

			all := callsTo(p, start, "")
			perObject := map[string]int{"user": len(callsTo(p, start, user)), "acl": len(callsTo(p, start, subject))}
			t.Logf("%d calls in %s (user %d, ACL %d)", len(all), faultWindow, perObject["user"], perObject["acl"])
			// Capped exponential backoff allows a few dozen calls per object
			// in the window (three attempts per idempotent call); a tight
			// loop makes hundreds.
			for what, n := range perObject {
				if n > 40 {
					t.Errorf("%d calls for the %s in %s: the operator is not backing off", n, what, faultWindow)
				}
			}
			if len(all) > 200 {
				t.Errorf("%d calls in %s: the operator is not backing off", len(all), faultWindow)
			}
			if tc.retryAfter > 0 {
				if msg := pauseViolations(all, start, tc.retryAfter); msg != "" {
					t.Error(msg)
				}
			}
			e.waitReady(&mqttv1.MQTTUser{}, user)
			e.waitReady(&mqttv1.MQTTACL{}, subject)
			t.Logf("converged %s after the fault ended", time.Since(start.Add(faultWindow)).Round(100*time.Millisecond))
			e.eventuallyConnects("c-"+user, user, e.secretValue(user+"-mqtt-credentials", "password"), true)
			rules, err := e.brokerClient().GetRules(e.ctx, broker.Subject{Kind: broker.ByUsername, Name: subject})
			if err != nil || !broker.RulesEquivalent(rules, []broker.Rule{{Topic: "t/#", Action: broker.ActionAll, Permission: broker.Allow}}) {
				t.Fatalf("rules on the broker: %v %v", rules, err)
			}
			if w := append(e.warnings(user), e.warnings(e.broker)...); len(w) == 0 {
				t.Error("no Warning Event told about the failing broker")
			}
		})
	}
}

// A broker that flaps (down and up every 700ms for faultWindow) does not
// make the operator hammer it, and everything converges once it is stable.
func TestFlappingBroker(t *testing.T) {
	e, p := proxiedEnv(t, broker.APIv4)
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		down := false
		for {
			select {
			case <-stop:
				_ = p.SetOutage(false)
				return
			case <-time.After(700 * time.Millisecond):
				down = !down
				_ = p.SetOutage(down)
			}
		}
	}()
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("flap-%d", i)
		e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: names[i]}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref()}})
	}
	time.Sleep(faultWindow)
	close(stop)
	wg.Wait()
	n := len(callsTo(p, start, ""))
	t.Logf("%d calls reached the proxy in %s of flapping for %d users", n, faultWindow, len(names))
	// Ten users, each needing a lookup and a create, retried with capped
	// backoff, plus the broker's health checks: a few hundred at most.
	if n > 400 {
		t.Errorf("%d calls in %s: the operator hammers a flapping broker", n, faultWindow)
	}
	for _, name := range names {
		e.waitReady(&mqttv1.MQTTUser{}, name)
	}
	users, err := e.brokerClient().ListUsers(e.ctx, broker.ByUsername)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != len(names) {
		t.Fatalf("broker holds %d users, want %d", len(users), len(names))
	}
}

// Deleting the Secret a user's password comes from stalls the user with
// the reason, and removes nothing from the broker (clients keep working);
// creating the Secret again recovers, with its password.
func TestReferencedSecretDeletedAndRecreated(t *testing.T) {
	e, p := proxiedEnv(t, broker.APIv5)
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, StringData: map[string]string{"password": "first"}})
	e.create(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: mqttv1.MQTTUserSpec{BrokerRef: e.ref(),
		PasswordSecretRef: &mqttv1.SecretKeySelector{Name: "pw", Key: "password"}}})
	e.waitReady(&mqttv1.MQTTUser{}, "app")
	e.eventuallyConnects("c-app", "app", "first", true)
	time.Sleep(time.Second)
	before := p.Stats().Writes

	e.deleteAndWait(&corev1.Secret{}, "pw")
	c := e.condition(&mqttv1.MQTTUser{}, "app", mqttv1.ConditionStalled, metav1.ConditionTrue, mqttv1.ReasonSecretNotFound)
	if !strings.Contains(c.Message, "pw") {
		t.Errorf("Stalled message %q does not name the Secret", c.Message)
	}
	time.Sleep(2 * testResync)
	if w := p.Stats().Writes - before; w != 0 {
		t.Fatalf("%d writes reached the broker while the Secret was missing", w)
	}
	if !e.canConnect("c-app", "app", "first") {
		t.Fatal("the user was removed or changed on the broker while its Secret was missing")
	}

	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw"}, StringData: map[string]string{"password": "second"}})
	e.waitReady(&mqttv1.MQTTUser{}, "app")
	e.eventuallyConnects("c-app", "app", "second", true)
	e.eventuallyConnects("c-app", "app", "first", false)
}

// Writers racing on one object (each a read-modify-write with the
// resourceVersion, retried on conflict, as kubectl and controllers do)
// while the operator patches its finalizer and status: no update is lost
// (every successful write is a generation), and the broker ends with the
// last one.
func TestConflictingWritersNoLostUpdate(t *testing.T) {
	e := newEnv(t, broker.APIv4)
	e.create(&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: mqttv1.MQTTACLSpec{BrokerRef: e.ref(),
		Subject: mqttv1.ACLSubject{Username: "shared"}, Rules: []mqttv1.ACLRule{{Topic: "w/start", Action: mqttv1.ACLActionPublish, Permission: mqttv1.ACLAllow}}}})
	const writers, writes = 4, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	succeeded, conflicts := 0, 0
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				for {
					var a mqttv1.MQTTACL
					if err := e.get(&a, "shared"); err != nil {
						t.Error(err)
						return
					}
					a.Spec.Rules = []mqttv1.ACLRule{{Topic: fmt.Sprintf("w/%d/%d", w, i), Action: mqttv1.ACLActionPublish, Permission: mqttv1.ACLAllow}}
					if a.Annotations == nil {
						a.Annotations = map[string]string{}
					}
					a.Annotations[fmt.Sprintf("writer-%d", w)] = fmt.Sprint(i)
					err := k8sClient.Update(e.ctx, &a)
					mu.Lock()
					if err == nil {
						succeeded++
					} else if apierrors.IsConflict(err) {
						conflicts++
					}
					mu.Unlock()
					if err == nil {
						break
					}
					if !apierrors.IsConflict(err) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	var a mqttv1.MQTTACL
	if err := e.get(&a, "shared"); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes succeeded after %d conflicts; generation %d", succeeded, conflicts, a.Generation)
	if succeeded != writers*writes || a.Generation != int64(1+succeeded) {
		t.Fatalf("%d writes succeeded and the generation is %d: an update was lost", succeeded, a.Generation)
	}
	for w := range writers {
		if got := a.Annotations[fmt.Sprintf("writer-%d", w)]; got != fmt.Sprint(writes-1) {
			t.Errorf("writer %d's last annotation is %q, want %d: its update was overwritten", w, got, writes-1)
		}
	}
	if !controllerutil.ContainsFinalizer(&a, mqttv1.Finalizer) {
		t.Error("the operator's finalizer was lost among the writes")
	}
	e.waitReady(&mqttv1.MQTTACL{}, "shared")
	final := a.Spec.Rules[0].Topic
	e.g.Eventually(func() bool {
		rules, err := e.brokerClient().GetRules(e.ctx, broker.Subject{Kind: broker.ByUsername, Name: "shared"})
		return err == nil && broker.RulesEquivalent(rules, []broker.Rule{{Topic: final, Action: broker.ActionPublish, Permission: broker.Allow}})
	}, waitFor, 200*time.Millisecond).Should(gomega.BeTrue(), "the broker does not hold the last write (%s)", final)
}

func TestPauseViolations(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := func(at ...float64) []faultproxy.Call {
		var out []faultproxy.Call
		for _, s := range at {
			out = append(out, faultproxy.Call{At: start.Add(time.Duration(s * float64(time.Second))), Method: "GET", Path: "/x"})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		at   []float64
		bad  bool
	}{
		{"none", nil, false},
		{"bursts a pause apart", []float64{0.03, 0.03, 8.49, 8.49, 16.88, 17.1, 17.1, 25.87, 26.22}, false},
		{"a call in the pause", []float64{0.03, 0.03, 3.1, 8.5}, true},
		{"a burst a little early", []float64{0, 6.5}, true},
	} {
		if got := pauseViolations(calls(tc.at...), start, 8*time.Second); (got != "") != tc.bad {
			t.Errorf("%s: pauseViolations = %q, want a violation: %v", tc.name, got, tc.bad)
		}
	}
}
