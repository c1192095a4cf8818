package controllers

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// driftScanner looks at every ready broker once per resync interval with
// one paginated list per kind, and wakes only the objects whose broker
// state no longer matches: a user missing, rules changed, a ban gone. That
// keeps drift repair at a few list calls per broker however many objects
// there are, instead of one GET per object.
type driftScanner struct {
	c        client.Reader
	conns    *connector
	interval time.Duration
	users    chan<- event.GenericEvent
	acls     chan<- event.GenericEvent
	bans     chan<- event.GenericEvent
}

// NeedLeaderElection: only the leader repairs drift.
func (s *driftScanner) NeedLeaderElection() bool { return true }

// Start scans until ctx ends.
func (s *driftScanner) Start(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jitter(s.interval)):
		}
		s.scanAll(ctx)
	}
}

func (s *driftScanner) scanAll(ctx context.Context) {
	logger := log.FromContext(ctx).WithName("drift")
	var brokers mqttv1.MQTTBrokerList
	if err := s.c.List(ctx, &brokers); err != nil {
		logger.Error(err, "list MQTTBrokers")
		return
	}
	for i := range brokers.Items {
		b := &brokers.Items[i]
		if !b.Status.IsReady(b.Generation) {
			continue
		}
		cl, err := s.conns.clientFor(ctx, b)
		if err != nil {
			continue
		}
		key := b.Namespace + "/" + b.Name
		cctx, cancel := context.WithTimeout(ctx, 4*s.conns.callTimeout())
		for _, scan := range []func(context.Context, string, broker.Client) ([]client.Object, error){s.scanUsers, s.scanACLs, s.scanBans} {
			objs, err := scan(cctx, key, cl)
			if err != nil {
				logger.Info("drift scan failed", "broker", key, "error", err.Error())
				continue
			}
			s.wake(ctx, objs)
		}
		cancel()
	}
}

func (s *driftScanner) wake(ctx context.Context, objs []client.Object) {
	for _, o := range objs {
		var ch chan<- event.GenericEvent
		switch o.(type) {
		case *mqttv1.MQTTUser:
			ch = s.users
		case *mqttv1.MQTTACL:
			ch = s.acls
		case *mqttv1.MQTTBan:
			ch = s.bans
		}
		select {
		case ch <- event.GenericEvent{Object: o}:
		case <-ctx.Done():
			return
		}
	}
}

// settled reports whether an object claims to be in sync, which is the
// only case where the broker can contradict it: the others are being
// retried already.
func settled(o statusObject) bool {
	return o.GetCommonStatus().IsReady(o.GetGeneration()) && o.GetDeletionTimestamp().IsZero()
}

func (s *driftScanner) scanUsers(ctx context.Context, key string, cl broker.Client) ([]client.Object, error) {
	var list mqttv1.MQTTUserList
	if err := s.c.List(ctx, &list, client.MatchingFields{indexBroker: key}); err != nil {
		return nil, err
	}
	have := map[broker.IdentityKind]map[string]broker.User{}
	var drifted []client.Object
	for i := range list.Items {
		u := &list.Items[i]
		if !settled(u) {
			continue
		}
		kind := broker.IdentityKind(u.EffectiveIdentifier())
		if _, ok := have[kind]; !ok {
			users, err := cl.ListUsers(ctx, kind)
			if err != nil {
				return nil, err
			}
			have[kind] = make(map[string]broker.User, len(users))
			for _, bu := range users {
				have[kind][bu.ID] = bu
			}
		}
		bu, ok := have[kind][u.EffectiveUsername()]
		if !ok || bu.Superuser != u.Spec.Superuser {
			drifted = append(drifted, u)
		}
	}
	return drifted, nil
}

func (s *driftScanner) scanACLs(ctx context.Context, key string, cl broker.Client) ([]client.Object, error) {
	var list mqttv1.MQTTACLList
	if err := s.c.List(ctx, &list, client.MatchingFields{indexBroker: key}); err != nil {
		return nil, err
	}
	have := map[broker.IdentityKind]map[string][]broker.Rule{}
	var drifted []client.Object
	for i := range list.Items {
		a := &list.Items[i]
		if !settled(a) {
			continue
		}
		subject := subjectOf(a.Spec.Subject)
		if _, ok := have[subject.Kind]; !ok {
			rules, err := cl.ListRules(ctx, subject.Kind)
			if err != nil {
				return nil, err
			}
			have[subject.Kind] = rules
		}
		if !rulesEquivalent(desiredRules(a.Spec.Rules), have[subject.Kind][subject.Name]) {
			drifted = append(drifted, a)
		}
	}
	return drifted, nil
}

func (s *driftScanner) scanBans(ctx context.Context, key string, cl broker.Client) ([]client.Object, error) {
	var list mqttv1.MQTTBanList
	if err := s.c.List(ctx, &list, client.MatchingFields{indexBroker: key}); err != nil {
		return nil, err
	}
	var bans []broker.Ban
	fetched := false
	var drifted []client.Object
	now := timeNow()
	for i := range list.Items {
		b := &list.Items[i]
		until := banUntil(b)
		if !settled(b) || (!until.IsZero() && !until.After(now)) {
			continue
		}
		if !fetched {
			var err error
			if bans, err = cl.ListBans(ctx); err != nil {
				return nil, err
			}
			fetched = true
		}
		want := broker.Ban{As: broker.BanKind(b.Spec.As), Who: b.Spec.Who, Reason: b.Spec.Reason, Until: until}
		if have, ok := findBan(bans, want.As, want.Who); !ok || !banMatches(have, want) {
			drifted = append(drifted, b)
		}
	}
	return drifted, nil
}
