package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

// tracker watches kinds in one namespace and records when each object
// first became Ready for its current generation. It watches rather than
// lists, so observing costs the API server and the machine little.
type tracker struct {
	mu      sync.Mutex
	readyAt map[string]time.Time
	ready   map[string]bool
}

func newTracker(ctx context.Context, cfg *rest.Config, ns string, objs ...client.Object) (*tracker, error) {
	c, err := cache.New(cfg, cache.Options{
		Scheme:            harness.Scheme(),
		DefaultNamespaces: map[string]cache.Config{ns: {}},
		DefaultTransform:  cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, err
	}
	t := &tracker{readyAt: map[string]time.Time{}, ready: map[string]bool{}}
	for _, obj := range objs {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.observe(o) },
			UpdateFunc: func(_, o any) { t.observe(o) },
			DeleteFunc: func(o any) {
				if o, ok := o.(client.Object); ok {
					t.mu.Lock()
					delete(t.ready, objectKey(o))
					t.mu.Unlock()
				}
			},
		}); err != nil {
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("watch %d kinds: cache did not sync", len(objs))
	}
	return t, nil
}

func (t *tracker) observe(o any) {
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	st, ok := o.(mqttv1.StatusAccess)
	if !ok {
		return
	}
	now := time.Now()
	ready := st.GetCommonStatus().IsReady(obj.GetGeneration())
	t.mu.Lock()
	defer t.mu.Unlock()
	key := objectKey(obj)
	t.ready[key] = ready
	if _, seen := t.readyAt[key]; ready && !seen {
		t.readyAt[key] = now
	}
}

// objectKey tells objects of different kinds with the same name apart.
func objectKey(o client.Object) string { return fmt.Sprintf("%T/%s", o, o.GetName()) }

// readyCount is how many objects are Ready now.
func (t *tracker) readyCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, r := range t.ready {
		if r {
			n++
		}
	}
	return n
}

// waitReady waits until n objects are Ready at once, polling the watch's
// state, and gives up early when alive reports an error (the manager
// died); it returns how many were Ready when it stopped.
func (t *tracker) waitReady(ctx context.Context, n int, timeout time.Duration, alive func() error) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		got := t.readyCount()
		if got >= n {
			return got, nil
		}
		if err := alive(); err != nil {
			return got, fmt.Errorf("%d of %d Ready: %w", got, n, err)
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("%d of %d Ready after %s", got, n, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// quantile is the time after start by which the fraction q of the n
// objects had first become Ready (0 when fewer had).
func (t *tracker) quantile(start time.Time, n int, q float64) time.Duration {
	t.mu.Lock()
	times := make([]time.Time, 0, len(t.readyAt))
	for _, at := range t.readyAt {
		times = append(times, at)
	}
	t.mu.Unlock()
	k := int(float64(n)*q+0.5) - 1
	if k < 0 {
		k = 0
	}
	if k >= len(times) {
		return 0
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	return times[k].Sub(start)
}
