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
// a surviving node once the pod is gone (pitfall 8); 4.x has no REST call
// for it and relies on autoclean.
//
// Node names end in the cluster domain, which the pods derive at start and
// this package never knows. The controller learns it from any node name the
// API reports (ClusterDomainFromNodeName), or filters the reported names
// directly (NodesToForceLeave).

// nodeHostSuffix is ".<headless>.<namespace>.svc.", what follows the pod name
// and precedes the cluster domain in a node name.
func nodeHostSuffix(b *v1alpha1.MQTTBroker) string {
	return fmt.Sprintf(".%s.%s.svc.", HeadlessServiceName(b), b.Namespace)
}

// NodeName is the EMQX node name of the pod with the given ordinal:
// emqx@<sts>-<ordinal>.<headless>.<namespace>.svc.<clusterDomain>.
func NodeName(b *v1alpha1.MQTTBroker, clusterDomain string, ordinal int32) string {
	return fmt.Sprintf("%s@%s-%d%s%s", nodeNamePrefix, StatefulSetName(b), ordinal, nodeHostSuffix(b), clusterDomain)
}

// LeavingNodes returns the node names of the ordinals a scale-down from
// oldReplicas to newReplicas removes, highest ordinal first (the order the
// StatefulSet controller deletes pods in). It is empty unless old > new.
func LeavingNodes(b *v1alpha1.MQTTBroker, clusterDomain string, oldReplicas, newReplicas int32) []string {
	var out []string
	for i := oldReplicas - 1; i >= newReplicas && i >= 0; i-- {
		out = append(out, NodeName(b, clusterDomain, i))
	}
	return out
}

// nodeOrdinal parses a node name of this broker into its pod ordinal and
// cluster domain.
func nodeOrdinal(b *v1alpha1.MQTTBroker, node string) (ordinal int32, clusterDomain string, ok bool) {
	rest, found := strings.CutPrefix(node, nodeNamePrefix+"@"+StatefulSetName(b)+"-")
	if !found {
		return 0, "", false
	}
	digits, domain, found := strings.Cut(rest, nodeHostSuffix(b))
	if !found || domain == "" || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, "", false
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n < 0 {
		return 0, "", false
	}
	return int32(n), domain, true
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
