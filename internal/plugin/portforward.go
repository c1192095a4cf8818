package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

// PortForward is a Tunnel through the pods/portforward subresource of the
// API server, the mechanism of kubectl port-forward, opened inside the
// plugin: WebSocket first, SPDY for API servers without it. The tunnel
// listens on a random loopback port for the duration of one command.
//
// The service proxy (/api/v1/namespaces/NS/services/NAME:PORT/proxy/) is
// not usable for the broker API: the API server removes the Authorization
// header once it has authenticated the caller, so the broker never sees its
// Basic credentials and answers 401. See docs/kubectl-mqtt.md.
type PortForward struct {
	Config *rest.Config
}

// Forward implements Tunnel.
func (p PortForward) Forward(ctx context.Context, namespace, pod string, port int) (string, func(), error) {
	cs, err := kubernetes.NewForConfig(p.Config)
	if err != nil {
		return "", nil, err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	rt, upgrader, err := spdy.RoundTripperFor(p.Config)
	if err != nil {
		return "", nil, err
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, p.Config)
	if err != nil {
		return "", nil, err
	}
	dialer = portforward.NewFallbackDialerForStreaming(ws, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	var errOut strings.Builder
	fw, err := portforward.NewOnAddressesForStreamingWithContext(fctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, &errOut)
	if err != nil {
		cancel()
		return "", nil, err
	}
	var fwErr error // set before done is closed
	done := make(chan struct{})
	go func() {
		fwErr = fw.ForwardPorts()
		close(done)
	}()
	select {
	case <-ready:
	case <-done:
		cancel()
		err := fwErr
		if err == nil {
			err = errors.New("port-forward ended before it was ready")
		}
		return "", nil, fmt.Errorf("port-forward: %w", err)
	case <-ctx.Done():
		cancel()
		return "", nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		cancel()
		return "", nil, fmt.Errorf("port-forward: no local port (%d ports): %w", len(ports), err)
	}
	stop := func() {
		cancel()
		<-done
	}
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local)), stop, nil
}
