package soak

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

// massUsers is how many users TestKillDuringMassCreation creates.
const massUsers = 500

// readyUsers counts the MQTTUsers named with prefix that are Ready at
// their generation.
func (w *world) readyUsers(prefix string) int {
	var list mqttv1.MQTTUserList
	w.must(w.c.List(w.ctx, &list, client.InNamespace(w.ns)))
	n := 0
	for i := range list.Items {
		if strings.HasPrefix(list.Items[i].Name, prefix) && list.Items[i].Status.IsReady(list.Items[i].Generation) {
			n++
		}
	}
	return n
}

// The manager SIGKILLed while it creates 500 users, some of them deleted
// while it is down: once it is back, the broker holds each remaining user
// exactly once, with its password, and nothing of the deleted ones.
func TestKillDuringMassCreation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes; skipped with -short")
	}
	w := setup(t, 500)
	w.converge(2 * time.Minute)
	// The users are created while the manager is down and it is killed
	// once a quarter of them are Ready: on a fast machine it would
	// otherwise finish them while they are being created.
	w.must(w.mgr.Kill())
	start := time.Now()
	for i := range massUsers {
		u := &user{name: fmt.Sprintf("mass-%03d", i), api: []string{"v4", "v5"}[i%2], identifier: mqttv1.IdentifierUsername}
		u.id = u.name
		w.users[u.name] = u
		w.create(w.userObject(u))
	}
	t.Logf("created %d MQTTUsers in %s", massUsers, time.Since(start).Round(time.Millisecond))
	w.must(w.mgr.Start(w.ctx))
	start = time.Now()
	deadline := start.Add(5 * time.Minute)
	for w.readyUsers("mass-") < massUsers/4 {
		if time.Now().After(deadline) || !w.mgr.Running() {
			t.Fatalf("fewer than %d users Ready %s after the start (%d are):\n%s", massUsers/4, time.Since(start).Round(time.Second), w.readyUsers("mass-"), w.diagnosis())
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.must(w.mgr.Kill())
	ready := w.readyUsers("mass-")
	t.Logf("manager killed %s after its start with %d of %d users Ready", time.Since(start).Round(10*time.Millisecond), ready, massUsers)
	if ready == massUsers {
		t.Fatalf("every user was Ready when the manager was killed: nothing was interrupted")
	}
	// Delete every tenth user while the manager is down: Ready ones and
	// ones it had not reached yet.
	deleted := 0
	w.recordPasswords()
	for i := 0; i < massUsers; i += 10 {
		name := fmt.Sprintf("mass-%03d", i)
		u := w.users[name]
		if pw := w.currentPassword(u); pw != "" {
			g := *u
			g.password = pw
			w.gone[u.id] = &g
		}
		delete(w.users, name)
		w.deleteObject(&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: name}})
		deleted++
	}
	w.must(w.mgr.Start(w.ctx))
	took := w.converge(5 * time.Minute)
	t.Logf("%d users on the broker, each once, %d deleted meanwhile and gone; converged %s after the restart",
		len(w.users), deleted, took.Round(100*time.Millisecond))
	w.auditHygiene()
}

// leader reads a manager's leader_election_master_status.
func (w *world) leader(m *harness.Manager) bool {
	metrics, err := m.Metrics(w.ctx)
	if err != nil {
		return false
	}
	return metrics.Sum("leader_election_master_status", nil) > 0
}

// brokerCalls is how many broker API calls a manager made.
func (w *world) brokerCalls(m *harness.Manager) float64 {
	metrics, err := m.Metrics(w.ctx)
	w.must(err)
	return metrics.Sum("mqtt_operator_broker_requests_total", nil)
}

// Two managers with leader election: only the leader talks to the broker;
// when it is SIGKILLed the other takes over, and the changes made in the
// meantime reach the broker.
func TestLeaderElectionFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes; skipped with -short")
	}
	le := []string{"--leader-elect", "--leader-election-namespace=default"}
	w := setup(t, 2, le...)
	opts := w.mgrOpts
	opts.MetricsAddr, opts.ProbeAddr = "", ""
	opts.LogPath = filepath.Join(w.dir, "manager-2.log")
	second, err := harness.NewManager(opts)
	w.must(err)
	w.must(second.Start(w.ctx))
	t.Cleanup(func() { _ = second.Stop(10 * time.Second) })
	w.standbys = append(w.standbys, second)

	managers := []*harness.Manager{w.mgr, second}
	var lead, standby *harness.Manager
	deadline := time.Now().Add(time.Minute)
	for lead == nil {
		for i, m := range managers {
			if w.leader(m) {
				lead, standby = m, managers[1-i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no manager became leader within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for range 5 {
		w.createUser()
		w.createACL()
		w.createBan()
	}
	w.converge(2 * time.Minute)
	if w.leader(standby) || w.brokerCalls(standby) != 0 {
		t.Fatalf("the standby made %v broker calls (leader: %v); only the leader may", w.brokerCalls(standby), w.leader(standby))
	}
	t.Logf("leader made %v broker calls, standby none", w.brokerCalls(lead))

	w.must(lead.Kill())
	killed := time.Now()
	for range 3 {
		w.createUser()
		w.updateACL()
		w.deleteBan()
	}
	for !w.leader(standby) {
		if time.Since(killed) > 2*time.Minute {
			t.Fatal("the standby did not take over within two minutes of the leader's SIGKILL")
		}
		time.Sleep(200 * time.Millisecond)
	}
	failover := time.Since(killed)
	took := w.converge(2 * time.Minute)
	t.Logf("failover after %s; the changes made meanwhile converged %s later", failover.Round(100*time.Millisecond), took.Round(100*time.Millisecond))

	// The old leader comes back as a standby and stays off the broker.
	w.must(lead.Start(w.ctx))
	time.Sleep(5 * time.Second)
	if w.leader(lead) || w.brokerCalls(lead) != 0 {
		t.Fatalf("the restarted manager made %v broker calls while the other leads", w.brokerCalls(lead))
	}
	var users mqttv1.MQTTUserList
	w.must(w.c.List(w.ctx, &users, client.InNamespace(w.ns)))
	for _, u := range users.Items {
		if c := apimeta.FindStatusCondition(u.Status.Conditions, mqttv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("MQTTUser %s not Ready after the failover", u.Name)
		}
	}
}
