package controllers

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// driftSource is one kind as the drift scanner sees it (a reconciler).
type driftSource interface {
	scanBroker(ctx context.Context, b *mqttv1.MQTTBroker, cl broker.Client) (int, error)
}

// driftScanner looks at every ready broker once per resync interval, and
// once right after the manager starts, with one paginated list per kind
// and scope, and wakes only the objects whose broker state no longer
// matches: a user missing, rules changed, a ban gone. That keeps drift
// repair at a few list calls per broker however many objects there are,
// instead of one GET per object. Each kind decides "in sync" with the same
// function its reconciler uses.
type driftScanner struct {
	c        client.Reader
	conns    *connector
	interval time.Duration
	kinds    []driftSource
}

// NeedLeaderElection: only the leader repairs drift.
func (s *driftScanner) NeedLeaderElection() bool { return true }

// Start scans until ctx ends.
func (s *driftScanner) Start(ctx context.Context) error {
	for {
		s.scanAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jitter(s.interval)):
		}
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
		if !b.UsableByDependents() || !b.DeletionTimestamp.IsZero() || s.conns.pausedFor(b) > 0 {
			continue
		}
		cl, err := s.conns.clientFor(ctx, b)
		if err != nil {
			continue
		}
		key := b.Namespace + "/" + b.Name
		for _, k := range s.kinds {
			// A list of many pages takes longer than one call.
			cctx, cancel := context.WithTimeout(ctx, 10*s.conns.callTimeout())
			n, err := k.scanBroker(cctx, b, cl)
			cancel()
			if err != nil {
				logger.Info("drift scan failed", "broker", key, "error", err.Error())
				continue
			}
			if n > 0 {
				logger.Info("woke objects out of sync with the broker", "broker", key, "count", n)
			}
		}
	}
}
