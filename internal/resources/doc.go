// Package resources builds the Kubernetes objects of a managed MQTTBroker
// (spec.managed): a StatefulSet running EMQX, its headless, client and API
// Services, a ConfigMap, the API credentials and Erlang cookie Secrets and
// a PodDisruptionBudget. It also holds the pure rules the controller
// applies to what the broker reports: which nodes are members, which pods
// have joined, which departed nodes to remove.
//
// Every function here is pure: no API calls, no clock, no randomness (the
// controller passes randomness into NewCredentials and NewCookie). Owner
// references are the controller's job.
//
// Why each setting is what it is, with the EMQX sources it rests on, is
// written down in docs/internals/managed.md; comments point at its
// sections by title.
//
// The cluster domain is never written into any object. EMQX node names must
// equal the SRV targets the cluster DNS returns for the headless Service,
// which carry the domain, so a small start script (ConfigMap key start.sh)
// reads this pod's FQDN from the /etc/hosts file the kubelet writes
// (falling back to the search path of /etc/resolv.conf), exports
// EMQX_CLUSTER__DNS__NAME, EMQX_HOST and EMQX_NODE_NAME, and then runs the
// image's own entrypoint.
package resources
