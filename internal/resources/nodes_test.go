package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNodeNamesRoundTrip(t *testing.T) {
	b := testBroker(testVersion5, 3, true)
	node := nodeName(b, "corp.example", 12)
	domain, ok := ClusterDomainFromNodeName(b, node)
	if !ok || domain != "corp.example" {
		t.Errorf("ClusterDomainFromNodeName(%s) = %q, %v", node, domain, ok)
	}
	for _, other := range []string{
		"emqx@10.0.0.7",
		"emqx@broker-2-0.broker-2-headless.mqtt.svc.corp.example", // broker "broker-2"
		"emqx@broker-0.broker-headless.other.svc.corp.example",    // other namespace
		"emqx@broker-0.broker-headless.mqtt.svc.",                 // no domain
		"emqx@broker-01.broker-headless.mqtt.svc.corp.example",    // not an ordinal
		"emqx@broker-x.broker-headless.mqtt.svc.corp.example",
		"node@broker-0.broker-headless.mqtt.svc.corp.example",
	} {
		if _, ok := ClusterDomainFromNodeName(b, other); ok {
			t.Errorf("%s must not be taken for a node of broker", other)
		}
	}
}

func TestNodesToForceLeave(t *testing.T) {
	b := testBroker(testVersion5, 2, true)
	reported := []string{
		"emqx@broker-0.broker-headless.mqtt.svc.corp.example",
		"emqx@broker-3.broker-headless.mqtt.svc.corp.example",
		"emqx@broker-1.broker-headless.mqtt.svc.corp.example",
		"emqx@broker-2-5.broker-2-headless.mqtt.svc.corp.example",
		"emqx@broker-10.broker-headless.mqtt.svc.corp.example",
		"emqx@broker-2.broker-headless.mqtt.svc.corp.example",
	}
	want := []string{
		"emqx@broker-10.broker-headless.mqtt.svc.corp.example",
		"emqx@broker-3.broker-headless.mqtt.svc.corp.example",
		"emqx@broker-2.broker-headless.mqtt.svc.corp.example",
	}
	if diff := cmp.Diff(want, NodesToForceLeave(b, reported, 2)); diff != "" {
		t.Errorf("NodesToForceLeave (-want +got):\n%s", diff)
	}
	if got := NodesToForceLeave(b, reported, 11); len(got) != 0 {
		t.Errorf("nothing leaves at 11 replicas, got %v", got)
	}
}
