package testbroker

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Rule actions as stored. v4's pub/sub map to publish/subscribe and v4's
// pubsub is stored as two rules, exactly like EMQX 4 does.
const (
	actPublish   = "publish"
	actSubscribe = "subscribe"
	actAll       = "all"
)

// principal is whom a rule list belongs to: a clientid, a username or all.
type principal struct {
	kind string // kindClientID, kindUsername or kindAll
	name string // empty for kindAll
}

// rule is one authorization rule. v5 marks rules written through /api/v5,
// whose topics use ${clientid}/${username} and the "eq " prefix; v4 rules use
// the %c/%u word placeholders.
type rule struct {
	topic      string
	action     string
	permission string
	qos        []int  // nil means [0,1,2]
	retain     string // "all", "true" or "false"
	v5         bool
	createdAt  time.Time
}

// ruleSet is a principal's rules in evaluation order (first match wins).
// v4 inserts at the front, so its order is newest first; v5 keeps array order.
type ruleSet struct {
	rules []rule
}

// v4AddRules upserts the rules of one v4 API item per (principal, action,
// topic) and moves them to the front, as EMQX 4's Mnesia ACL does; pubsub
// arrives as two actions and becomes two rules.
func (s *store) v4AddRules(p principal, actions []string, topic, access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v4AddRuleLocked(p, actions, topic, access)
}

func (s *store) v4AddRuleLocked(p principal, actions []string, topic, access string) {
	rs := s.rules[p]
	if rs == nil {
		rs = &ruleSet{}
		s.rules[p] = rs
	}
	now := s.ruleTime()
	rs.rules = slices.DeleteFunc(rs.rules, func(r rule) bool {
		return r.topic == topic && slices.Contains(actions, r.action)
	})
	fresh := make([]rule, 0, len(actions)+len(rs.rules))
	for _, a := range actions {
		fresh = append(fresh, rule{topic: topic, action: a, permission: access, retain: "all", createdAt: now})
	}
	rs.rules = append(fresh, rs.rules...)
}

// ruleTime returns a timestamp that is strictly increasing, so "newest
// first" sorting is stable even for rules added in the same millisecond.
func (s *store) ruleTime() time.Time {
	now := s.now()
	s.seq++
	return now.Add(time.Duration(s.seq % 1000))
}

// v4DeleteTopic removes every action of a topic for a principal. An entry left
// empty disappears: v4 has no notion of an empty rule list.
func (s *store) v4DeleteTopic(p principal, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.rules[p]
	if rs == nil {
		return
	}
	rs.rules = slices.DeleteFunc(rs.rules, func(r rule) bool { return r.topic == topic })
	if len(rs.rules) == 0 {
		delete(s.rules, p)
	}
}

// rulesOf returns a copy of a principal's rules and whether an entry exists.
func (s *store) rulesOf(p principal) ([]rule, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, ok := s.rules[p]
	if !ok {
		return nil, false
	}
	return slices.Clone(rs.rules), true
}

// principalRules is one principal with its rules, for listings.
type principalRules struct {
	p     principal
	rules []rule
}

// listRules returns the principals of one kind sorted by name.
func (s *store) listRules(kind string) []principalRules {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []principalRules
	for p, rs := range s.rules {
		if p.kind == kind {
			out = append(out, principalRules{p: p, rules: slices.Clone(rs.rules)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].p.name < out[j].p.name })
	return out
}

// v5PutRules replaces (or creates) a principal's whole rule list.
func (s *store) v5PutRules(p principal, rules []rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[p] = &ruleSet{rules: s.stamp(rules)}
}

func (s *store) stamp(rules []rule) []rule {
	out := slices.Clone(rules)
	for i := range out {
		out[i].v5 = true
		out[i].createdAt = s.ruleTime()
	}
	return out
}

// v5CreateRules writes a batch only if none of its principals has an entry;
// otherwise it writes nothing and returns the first existing principal.
func (s *store) v5CreateRules(batch []principalRules) (principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pr := range batch {
		if _, ok := s.rules[pr.p]; ok {
			return pr.p, false
		}
	}
	for _, pr := range batch {
		s.rules[pr.p] = &ruleSet{rules: s.stamp(pr.rules)}
	}
	return principal{}, true
}

// deleteRules removes a principal's entry and reports whether it existed.
func (s *store) deleteRules(p principal) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.rules[p]
	delete(s.rules, p)
	return ok
}

// authzRequest is what a client attempts.
type authzRequest struct {
	clientID    string
	username    string
	hasUsername bool
	action      string // actPublish or actSubscribe
	topic       string
	qos         byte
	retain      bool
}

// authorize evaluates the built-in rules in EMQX's order: the clientid's
// rules, then the username's, then the rules for all; first match wins. The
// second result is false when nothing matched (the caller applies no_match).
func (s *store) authorize(req authzRequest) (allow, matched bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	order := []principal{{kind: kindClientID, name: req.clientID}}
	if req.hasUsername {
		order = append(order, principal{kind: kindUsername, name: req.username})
	}
	order = append(order, principal{kind: kindAll})
	topic := req.topic
	if req.action == actSubscribe {
		topic, _ = stripShare(topic)
	}
	for _, p := range order {
		rs := s.rules[p]
		if rs == nil {
			continue
		}
		for _, r := range rs.rules {
			if r.matches(req, topic) {
				return r.permission == "allow", true
			}
		}
	}
	return false, false
}

func (r rule) matches(req authzRequest, topic string) bool {
	if r.action != actAll && r.action != req.action {
		return false
	}
	if r.qos != nil && !slices.Contains(r.qos, int(req.qos)) {
		return false
	}
	if req.action == actPublish {
		switch r.retain {
		case "true":
			if !req.retain {
				return false
			}
		case "false":
			if req.retain {
				return false
			}
		}
	}
	if r.v5 {
		return r.matchesV5Topic(req, topic)
	}
	return topicMatch(topic, feedV4Vars(r.topic, req))
}

// feedV4Vars replaces whole %c and %u words. Like EMQX 4, %u stays literal
// when the client sent no username.
func feedV4Vars(filter string, req authzRequest) string {
	words := strings.Split(filter, "/")
	for i, w := range words {
		switch {
		case w == "%c":
			words[i] = req.clientID
		case w == "%u" && req.hasUsername:
			words[i] = req.username
		}
	}
	return strings.Join(words, "/")
}

// matchesV5Topic handles "eq " literal topics and ${...} placeholders. A
// placeholder that cannot be rendered makes the rule not match, as EMQX 5's
// strict template rendering does.
func (r rule) matchesV5Topic(req authzRequest, topic string) bool {
	if lit, ok := strings.CutPrefix(r.topic, "eq "); ok {
		return lit == topic
	}
	filter := r.topic
	if strings.Contains(filter, "${username}") {
		if !req.hasUsername {
			return false
		}
		filter = strings.ReplaceAll(filter, "${username}", req.username)
	}
	filter = strings.ReplaceAll(filter, "${clientid}", req.clientID)
	if strings.Contains(filter, "${") {
		return false
	}
	return topicMatch(topic, filter)
}
