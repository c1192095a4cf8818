package resources

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Scaling down does not remove a node from the EMQX cluster: it lingers as
// "stopped" (4.x for cluster.autoclean = 5 min, 5.x for 24 h). On 5.x the
// controller removes it with DELETE /api/v5/cluster/{node}/force_leave from
// a surviving node once the pod is gone; 4.x has no REST call for it and
// relies on autoclean (docs/internals/managed.md, "Scaling down").
//
// Node names end in the cluster domain, which the pods derive at start.
// The controller learns it from any node name the API reports
// (ClusterDomainFromNodeName), or matches the reported names by ordinal
// (nodeOrdinal), which needs no domain.

// nodeHostSuffix is ".<headless>.<namespace>.svc.", what follows the pod name
// and precedes the cluster domain in a node name.
func nodeHostSuffix(b *v1alpha1.MQTTBroker) string {
	return fmt.Sprintf(".%s.%s.svc.", HeadlessServiceName(b), b.Namespace)
}

// podName is the name of the pod with the given ordinal.
func podName(b *v1alpha1.MQTTBroker, ordinal int32) string {
	return fmt.Sprintf("%s-%d", StatefulSetName(b), ordinal)
}

// nodeName is the EMQX node name of the pod with the given ordinal:
// emqx@<sts>-<ordinal>.<headless>.<namespace>.svc.<clusterDomain>.
func nodeName(b *v1alpha1.MQTTBroker, clusterDomain string, ordinal int32) string {
	return nodeNamePrefix + "@" + podName(b, ordinal) + nodeHostSuffix(b) + clusterDomain
}

// PodOrdinal parses the ordinal of one of b's pods from its name.
func PodOrdinal(b *v1alpha1.MQTTBroker, pod string) (int32, bool) {
	digits, found := strings.CutPrefix(pod, StatefulSetName(b)+"-")
	if !found {
		return 0, false
	}
	return parseOrdinal(digits)
}

// parseOrdinal reads a StatefulSet ordinal: decimal digits without a
// leading zero.
func parseOrdinal(digits string) (int32, bool) {
	if digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int32(n), true
}

// nodeOrdinal parses a node name of this broker into its pod ordinal and
// cluster domain.
func nodeOrdinal(b *v1alpha1.MQTTBroker, node string) (ordinal int32, clusterDomain string, ok bool) {
	rest, found := strings.CutPrefix(node, nodeNamePrefix+"@")
	if !found {
		return 0, "", false
	}
	pod, domain, found := strings.Cut(rest, nodeHostSuffix(b))
	if !found || domain == "" {
		return 0, "", false
	}
	ord, ok := PodOrdinal(b, pod)
	return ord, domain, ok
}

// ClusterDomainFromNodeName extracts the cluster domain from a node name of
// b as the EMQX API reports it, e.g. "cluster.example" from
// emqx@b-0.b-headless.ns.svc.cluster.example.
func ClusterDomainFromNodeName(b *v1alpha1.MQTTBroker, node string) (string, bool) {
	_, domain, ok := nodeOrdinal(b, node)
	return domain, ok
}

// NodesToForceLeave picks, from the node names the broker reports (running
// or stopped), those of b's pods with an ordinal >= replicas, highest first.
// Names of other nodes are ignored. It needs neither the old replica count
// nor the cluster domain, so it also catches scale-downs the controller did
// not witness.
func NodesToForceLeave(b *v1alpha1.MQTTBroker, reported []string, replicas int32) []string {
	type leaving struct {
		ordinal int32
		node    string
	}
	var found []leaving
	for _, node := range reported {
		if ord, _, ok := nodeOrdinal(b, node); ok && ord >= replicas {
			found = append(found, leaving{ord, node})
		}
	}
	// Highest ordinal first; equal ordinals keep the reported order.
	sort.SliceStable(found, func(i, j int) bool { return found[i].ordinal > found[j].ordinal })
	out := make([]string, 0, len(found))
	for _, l := range found {
		out = append(out, l.node)
	}
	return out
}
