// Package resources builds the Kubernetes objects of a managed MQTTBroker
// (spec.managed): a StatefulSet running EMQX, its headless and client
// Services, a ConfigMap, the API credentials Secret and a PodDisruptionBudget.
//
// Every function here is pure: no API calls, no clock, no randomness (the
// controller passes randomness into NewCredentials). Owner references are
// the controller's job.
//
// The settings follow shared/reference/emqx-deploy.md; comments cite its
// "checklist of facts that are easy to get wrong" as "pitfall N".
//
// The cluster domain is never written into any object (pitfall 5). EMQX node
// names must equal the SRV targets the cluster DNS returns for the headless
// Service, which carry the domain, so a small start script (ConfigMap key
// start.sh) reads this pod's FQDN from the /etc/hosts file the kubelet writes
// (falling back to the search path of /etc/resolv.conf), exports
// EMQX_CLUSTER__DNS__NAME, EMQX_HOST and EMQX_NODE_NAME, and then runs the
// image's own entrypoint.
package resources
