package soak

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// converge audits until the broker and the objects agree with the model,
// and fails the test with the differences when bound passes first. It
// returns how long that took.
func (w *world) converge(bound time.Duration) time.Duration {
	w.t.Helper()
	start := time.Now()
	for round := 0; ; round++ {
		w.flushPending()
		w.recordPasswords()
		diffs := w.audit()
		if round == 0 && len(diffs) > 0 {
			shown := diffs[:min(len(diffs), 5)]
			w.t.Logf("soak: %d differences at the first audit, e.g.:\n  %s", len(diffs), strings.Join(shown, "\n  "))
		}
		if len(diffs) == 0 && len(w.pending) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > bound || !w.managerRunning() {
			if len(w.pending) > 0 {
				diffs = append(diffs, fmt.Sprintf("%d objects could not be created again: their earlier instance is still being deleted", len(w.pending)))
			}
			w.t.Fatalf("soak (seed %d): no convergence within %s; %d differences:\n  %s\n%s",
				w.seed, bound, len(diffs), strings.Join(diffs, "\n  "), w.diagnosis())
		}
		time.Sleep(2 * time.Second)
	}
}

// audit lists every difference between the model and what the cluster
// and the broker hold.
func (w *world) audit() []string {
	var diffs []string
	diffs = append(diffs, w.auditObjects()...)
	diffs = append(diffs, w.auditUsers()...)
	diffs = append(diffs, w.auditRules()...)
	diffs = append(diffs, w.auditBans()...)
	return diffs
}

// auditObjects: exactly the model's objects exist, none being deleted,
// each Ready at its current generation.
func (w *world) auditObjects() []string {
	var diffs []string
	check := func(kind string, list client.ObjectList, want []string) {
		if err := w.c.List(w.ctx, list, client.InNamespace(w.ns)); err != nil {
			diffs = append(diffs, fmt.Sprintf("list %s: %v", kind, err))
			return
		}
		var have []string
		_ = apimeta.EachListItem(list, func(o runtime.Object) error {
			obj := o.(interface {
				client.Object
				mqttv1.StatusAccess
			})
			have = append(have, obj.GetName())
			st := obj.GetCommonStatus()
			switch {
			case !obj.GetDeletionTimestamp().IsZero():
				diffs = append(diffs, fmt.Sprintf("%s %s is still being deleted", kind, obj.GetName()))
			case !st.IsReady(obj.GetGeneration()):
				c := st.ReadyCondition()
				if c == nil {
					diffs = append(diffs, fmt.Sprintf("%s %s has no Ready condition", kind, obj.GetName()))
				} else {
					diffs = append(diffs, fmt.Sprintf("%s %s not Ready at generation %d: %s %s: %s", kind, obj.GetName(), obj.GetGeneration(), c.Status, c.Reason, c.Message))
				}
			}
			return nil
		})
		slices.Sort(have)
		if !slices.Equal(have, want) {
			diffs = append(diffs, fmt.Sprintf("%s objects %v, want %v", kind, have, want))
		}
	}
	check("MQTTUser", &mqttv1.MQTTUserList{}, sortedKeys(w.users))
	check("MQTTACL", &mqttv1.MQTTACLList{}, sortedKeys(w.acls))
	check("MQTTBan", &mqttv1.MQTTBanList{}, sortedKeys(w.bans))
	return diffs
}

// auditUsers: the broker holds exactly the model's users, each with its
// superuser flag, each accepting its current password over MQTT and
// refusing its earlier ones; deleted users cannot connect.
func (w *world) auditUsers() []string {
	var diffs []string
	want := map[broker.IdentityKind][]string{}
	for _, u := range w.users {
		k := broker.IdentityKind(u.identifier)
		want[k] = append(want[k], u.id)
	}
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	for _, kind := range []broker.IdentityKind{broker.ByUsername, broker.ByClientID} {
		users, err := w.direct["v4"].ListUsers(ctx, kind)
		if err != nil {
			return append(diffs, fmt.Sprintf("list %s users: %v", kind, err))
		}
		var have []string
		for _, u := range users {
			have = append(have, u.ID)
		}
		slices.Sort(have)
		slices.Sort(want[kind])
		if !slices.Equal(have, want[kind]) {
			diffs = append(diffs, fmt.Sprintf("broker %s users %v, want %v", kind, have, want[kind]))
		}
	}
	if len(diffs) > 0 {
		return diffs // passwords are checked once the user sets agree
	}
	for _, name := range sortedKeys(w.users) {
		u := w.users[name]
		if u.api == "v5" {
			if got, err := w.direct["v5"].GetUser(ctx, broker.ByUsername, u.id); err != nil {
				diffs = append(diffs, fmt.Sprintf("user %s: %v", u.id, err))
			} else if got.Superuser != u.superuser {
				diffs = append(diffs, fmt.Sprintf("user %s: superuser %v, want %v", u.id, got.Superuser, u.superuser))
			}
		}
		pw := w.currentPassword(u)
		if pw == "" {
			diffs = append(diffs, fmt.Sprintf("user %s has no password Secret", u.name))
			continue
		}
		if err := w.connect(u.identifier, u.id, pw); err != nil {
			diffs = append(diffs, fmt.Sprintf("user %s cannot connect with its current password: %v", u.id, err))
		}
		for _, old := range w.retired[u.id] {
			if old != pw && w.connect(u.identifier, u.id, old) == nil {
				diffs = append(diffs, fmt.Sprintf("user %s still connects with a retired password", u.id))
			}
		}
	}
	for _, id := range sortedKeys(w.gone) {
		if g := w.gone[id]; w.connect(g.identifier, id, g.password) == nil {
			diffs = append(diffs, fmt.Sprintf("deleted user %s still connects", id))
		}
	}
	return diffs
}

// connect tries an MQTT CONNECT as a user; nil means accepted.
func (w *world) connect(kind mqttv1.IdentifierKind, id, password string) error {
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	clientID, username := "audit-"+id, id
	if kind == mqttv1.IdentifierClientID {
		clientID, username = id, ""
	}
	c, err := mqtttest.Connect(ctx, w.tb.MQTTAddr(), clientID, username, password)
	if err != nil {
		var ce *mqtttest.ConnectError
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("connect: %w", err)
	}
	c.Close()
	return nil
}

// auditRules: every subject's rules are equivalent to its MQTTACL's, and
// no other subject has rules.
func (w *world) auditRules() []string {
	var diffs []string
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	want := map[broker.IdentityKind]map[string]bool{broker.ByUsername: {}, broker.ByClientID: {}}
	for _, name := range sortedKeys(w.acls) {
		a := w.acls[name]
		s := broker.Subject{Kind: broker.ByUsername, Name: a.subject.Username}
		if a.subject.ClientID != "" {
			s = broker.Subject{Kind: broker.ByClientID, Name: a.subject.ClientID}
		}
		want[s.Kind][s.Name] = true
		have, err := w.direct[a.api].GetRules(ctx, s)
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("rules of %s %s: %v", s.Kind, s.Name, err))
			continue
		}
		wantRules := make([]broker.Rule, 0, len(a.rules))
		for _, r := range a.rules {
			wantRules = append(wantRules, broker.Rule{Topic: r.Topic, Action: broker.Action(r.Action), Permission: broker.Permission(r.Permission)})
		}
		if !broker.RulesEquivalent(wantRules, have) {
			diffs = append(diffs, fmt.Sprintf("rules of %s %s: %v, want %v", s.Kind, s.Name, have, wantRules))
		}
	}
	for _, api := range []string{"v4", "v5"} {
		for _, kind := range []broker.IdentityKind{broker.ByUsername, broker.ByClientID, broker.ByAll} {
			rules, err := w.direct[api].ListRules(ctx, kind)
			if err != nil {
				diffs = append(diffs, fmt.Sprintf("%s: list %s rules: %v", api, kind, err))
				continue
			}
			for subject, rs := range rules {
				if len(rs) > 0 && !want[kind][subject] {
					diffs = append(diffs, fmt.Sprintf("%s: rules left for %s %q: %v", api, kind, subject, rs))
				}
			}
		}
	}
	return diffs
}

// auditBans: the banned list is exactly the model's bans.
func (w *world) auditBans() []string {
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	bans, err := w.direct["v5"].ListBans(ctx)
	if err != nil {
		return []string{fmt.Sprintf("list bans: %v", err)}
	}
	var have, want []string
	for _, b := range bans {
		have = append(have, fmt.Sprintf("%s:%s reason %q", b.As, b.Who, b.Reason))
	}
	for _, b := range w.bans {
		want = append(want, fmt.Sprintf("%s:%s reason %q", b.as, b.who, b.reason))
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		return []string{fmt.Sprintf("broker bans %v, want %v", have, want)}
	}
	return nil
}

// auditHygiene: no password in the manager's log, an Event or a metric;
// no panic; no request or reply bodies in the log.
func (w *world) auditHygiene() {
	w.t.Helper()
	w.recordPasswords()
	log, err := os.ReadFile(w.mgr.LogPath())
	w.must(err)
	var events eventsv1.EventList
	w.must(w.c.List(w.ctx, &events, client.InNamespace(w.ns)))
	var ev strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&ev, "%s %s %s\n", e.Reason, e.Action, e.Note)
	}
	metrics, err := scrapeText(w)
	w.must(err)
	sources := map[string]string{"the manager log": string(log), "an Event": ev.String(), "the metrics": metrics}
	leaks := 0
	for _, pw := range sortedKeys(w.passwords) {
		for _, form := range []string{pw, base64.StdEncoding.EncodeToString([]byte(pw))} {
			for _, where := range sortedKeys(sources) {
				if strings.Contains(sources[where], form) {
					leaks++
					w.t.Errorf("soak (seed %d): a password appears in %s", w.seed, where)
				}
			}
		}
	}
	for _, bad := range []string{"panic:", "Observed a panic", `"msg":"Request Body"`, `"msg":"Response Body"`} {
		if n := strings.Count(string(log), bad); n > 0 {
			w.t.Errorf("soak (seed %d): the manager log has %d lines with %q (%s)", w.seed, n, bad, w.mgr.LogPath())
		}
	}
	w.t.Logf("soak: hygiene: %d passwords checked against %d KB of manager log, %d Events and %d KB of metrics; %d leaks",
		len(w.passwords), len(log)/1024, len(events.Items), len(metrics)/1024, leaks)
}

func scrapeText(w *world) (string, error) {
	m, err := w.mgr.Metrics(w.ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, name := range sortedKeys(m) {
		f := m[name]
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				fmt.Fprintf(&b, "%s=%s ", l.GetName(), l.GetValue())
			}
		}
		fmt.Fprintln(&b, name)
	}
	return b.String(), nil
}

// diagnosis describes why the cluster may not be moving, for a test that
// gives up waiting: whether the manager runs, why the objects are not
// Ready (reasons counted), each MQTTBroker's Ready condition, and the end
// of the manager's log.
func (w *world) diagnosis() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", w.mgr.State())
	reasons := map[string]int{}
	var users mqttv1.MQTTUserList
	if err := w.c.List(w.ctx, &users, client.InNamespace(w.ns)); err != nil {
		fmt.Fprintf(&b, "list MQTTUsers: %v\n", err)
	}
	for i := range users.Items {
		st := users.Items[i].Status
		switch c := st.ReadyCondition(); {
		case c == nil:
			reasons["no Ready condition"]++
		case !st.IsReady(users.Items[i].Generation):
			reasons[fmt.Sprintf("%s %s", c.Status, c.Reason)]++
		}
	}
	for _, r := range sortedKeys(reasons) {
		fmt.Fprintf(&b, "MQTTUsers not Ready: %d %s\n", reasons[r], r)
	}
	var brokers mqttv1.MQTTBrokerList
	if err := w.c.List(w.ctx, &brokers, client.InNamespace(w.ns)); err != nil {
		fmt.Fprintf(&b, "list MQTTBrokers: %v\n", err)
	}
	for i := range brokers.Items {
		if c := brokers.Items[i].Status.ReadyCondition(); c != nil {
			fmt.Fprintf(&b, "MQTTBroker %s: Ready %s %s: %s\n", brokers.Items[i].Name, c.Status, c.Reason, c.Message)
		} else {
			fmt.Fprintf(&b, "MQTTBroker %s: no Ready condition\n", brokers.Items[i].Name)
		}
	}
	var tail []string
	for _, l := range strings.Split(w.mgr.LogTail(400), "\n") {
		// The manager echoes each Event at debug level; those lines would
		// crowd out everything else.
		if !strings.Contains(l, `"logger":"events"`) {
			tail = append(tail, l)
		}
	}
	fmt.Fprintf(&b, "manager log (%s), last lines but Events:\n%s", w.mgr.LogPath(), strings.Join(tail[max(0, len(tail)-40):], "\n"))
	return b.String()
}
