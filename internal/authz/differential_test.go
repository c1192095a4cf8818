package authz_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/authz"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest/live"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
)

var (
	seed     = flag.Uint64("seed", 20261127, "seed of the generated differential cases")
	ruleSets = flag.Int("rulesets", 40, "generated rule sets per API flavour; each is asked several questions")
)

// questionsPerSet is how many (action, topic) questions each rule set gets.
const questionsPerSet = 5

// The client every case connects as.
const (
	clientID = "dev-1"
	username = "sensor-1"
)

// TestDifferential generates rule sets for the client's clientid, its
// username and all clients, writes them to the test broker through the
// driver (as the operator does for MQTTACLs), and asks questions both of
// Evaluate, which kubectl mqtt can-i answers from, and of the broker's
// real enforcement over MQTT: a SUBACK failure code for a subscribe, PUBACK
// 0x87 for a QoS 1 publish. Every answer must agree. The broker's no-match
// setting is deny.
func TestDifferential(t *testing.T) {
	var total tally
	for _, v := range []broker.APIVersion{broker.APIv4, broker.APIv5} {
		t.Run(string(v), func(t *testing.T) {
			n := runDifferential(t, v, *seed)
			t.Logf("%s: %d cases: %d allowed, %d denied by a rule, %d by no match; deciding lists: %v",
				v, n.cases, n.allowed, n.deniedByRule, n.noMatch, n.bySubject)
			total.cases += n.cases
			// Every kind of outcome must be exercised, or agreement proves little.
			if n.allowed == 0 || n.deniedByRule == 0 || n.noMatch == 0 || len(n.bySubject) != 3 {
				t.Errorf("the generated cases do not cover every outcome: %+v", n)
			}
		})
	}
	t.Logf("%d cases agreed (seed %d, -seed to change)", total.cases, *seed)
}

// tally counts the outcomes of the generated cases.
type tally struct {
	cases, allowed, deniedByRule, noMatch int
	bySubject                             map[broker.IdentityKind]int
}

func runDifferential(t *testing.T, v broker.APIVersion, seed uint64) tally {
	b := live.Start(t, "")
	api, err := drivers.New(broker.Config{URL: b.APIURL(), APIVersion: v, Username: "admin", Password: "public"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := api.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: username, Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, map[broker.APIVersion]uint64{broker.APIv4: 4, broker.APIv5: 5}[v]))
	g := gen{rng: rng, v: v}
	n := tally{bySubject: map[broker.IdentityKind]int{}}
	for set := 0; set < *ruleSets; set++ {
		rules := authz.Rules{
			ClientID: &authz.RuleList{Source: "clientid", Rules: g.rules()},
			Username: &authz.RuleList{Source: "username", Rules: g.rules()},
			All:      &authz.RuleList{Source: "all", Rules: g.rules()},
		}
		for _, s := range []struct {
			subject broker.Subject
			l       *authz.RuleList
		}{
			{broker.Subject{Kind: broker.ByClientID, Name: clientID}, rules.ClientID},
			{broker.Subject{Kind: broker.ByUsername, Name: username}, rules.Username},
			{broker.Subject{Kind: broker.ByAll}, rules.All},
		} {
			if err := api.ReplaceRules(ctx, s.subject, s.l.Rules); err != nil {
				t.Fatalf("rule set %d: replace rules of %v: %v", set, s.subject, err)
			}
		}
		// A fresh connection has an empty authorization cache.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := mqtttest.Connect(cctx, b.MQTTAddr(), clientID, username, "pw")
		cancel()
		if err != nil {
			t.Fatalf("rule set %d: connect: %v", set, err)
		}
		for q := 0; q < questionsPerSet; q++ {
			req := g.request()
			want := authz.Evaluate(v, rules, req, broker.Deny)
			got, code := enforce(t, conn, req)
			n.cases++
			switch {
			case want.Allowed:
				n.allowed++
			case want.Matched:
				n.deniedByRule++
			default:
				n.noMatch++
			}
			if want.Matched {
				n.bySubject[want.Subject]++
			}
			if got != want.Allowed {
				t.Errorf("case %d.%d: %s %q: broker says allowed=%v (reason code 0x%02x), can-i says %s\nclientid rules: %v\nusername rules: %v\nall rules: %v",
					set, q, req.Action, req.Topic, got, code, want, rules.ClientID.Rules, rules.Username.Rules, rules.All.Rules)
			}
		}
		conn.Close()
	}
	return n
}

// enforce asks the broker over MQTT.
func enforce(t *testing.T, c *mqtttest.Conn, req authz.Request) (bool, byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if req.Action == broker.ActionSubscribe {
		code, err := c.Subscribe(ctx, req.Topic)
		if err != nil {
			t.Fatalf("subscribe %q: %v", req.Topic, err)
		}
		return code < 0x80, code
	}
	code, err := c.PublishAck(ctx, req.Topic, []byte("x"))
	if err != nil {
		t.Fatalf("publish %q: %v", req.Topic, err)
	}
	return code < 0x80, code
}

// gen makes random rules and questions over a small vocabulary, so that
// rules and questions overlap often.
type gen struct {
	rng *rand.Rand
	v   broker.APIVersion
}

func (g gen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

// ruleTopic is a topic filter a rule may hold, placeholders and (v5) eq
// included.
func (g gen) ruleTopic() string {
	if g.rng.IntN(12) == 0 {
		return "#"
	}
	n := 1 + g.rng.IntN(3)
	levels := make([]string, n)
	for i := range levels {
		words := []string{"a", "b", "+", "$SYS", "$app", clientID, username}
		if g.v == broker.APIv4 {
			words = append(words, "%c", "%u")
		} else {
			words = append(words, "${clientid}", "${username}", "x-${clientid}")
		}
		levels[i] = g.pick(words...)
	}
	if g.rng.IntN(4) == 0 {
		levels[n-1] = "#"
	}
	t := strings.Join(levels, "/")
	if g.v == broker.APIv5 && g.rng.IntN(8) == 0 {
		t = "eq " + t
	}
	return t
}

func (g gen) rules() []broker.Rule {
	n := g.rng.IntN(5)
	out := make([]broker.Rule, 0, n)
	for range n {
		out = append(out, broker.Rule{
			Topic:      g.ruleTopic(),
			Action:     broker.Action(g.pick("publish", "subscribe", "all")),
			Permission: broker.Permission(g.pick("allow", "deny")),
		})
	}
	return out
}

// request is a question: a publish to a topic name, or a subscribe to a
// filter (wildcards and shared subscriptions included). Clients may not
// publish to $SYS topics at all, so publishes use another $ topic.
func (g gen) request() authz.Request {
	req := authz.Request{ClientID: clientID, Username: username, HasUsername: true}
	n := 1 + g.rng.IntN(3)
	levels := make([]string, n)
	if g.rng.IntN(2) == 0 {
		req.Action = broker.ActionPublish
		for i := range levels {
			levels[i] = g.pick("a", "b", "$app", clientID, username, "x-"+clientID, "%c")
		}
		req.Topic = strings.Join(levels, "/")
		return req
	}
	req.Action = broker.ActionSubscribe
	for i := range levels {
		levels[i] = g.pick("a", "b", "+", "$SYS", "$app", clientID, username, "x-"+clientID)
	}
	if g.rng.IntN(4) == 0 {
		levels[n-1] = "#"
	}
	req.Topic = strings.Join(levels, "/")
	if g.rng.IntN(8) == 0 {
		req.Topic = "$share/g/" + req.Topic
	}
	return req
}
