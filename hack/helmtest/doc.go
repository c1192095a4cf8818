// Package helmtest checks the Helm chart in charts/mqtt-operator and the
// kustomize configuration in config/: it renders the chart with Helm's own Go
// packages and builds config/ with kustomize's, compares the two (CRDs, RBAC
// rules, the manager's Deployment, metrics Service, ServiceMonitor, alerts,
// NetworkPolicy), checks values.schema.json, the restricted Pod Security
// Standard and the alerts' PromQL, creates everything on a real
// kube-apiserver, and installs, upgrades and uninstalls the chart there with
// Helm's SDK.
//
// It is a separate Go module so that Helm's, kustomize's and Prometheus's
// dependencies stay out of the operator's go.mod. Run it from the repository
// root, after `make envtest controller-gen`:
//
//	cd hack/helmtest && go test ./... -count=1
//
// KUBEBUILDER_ASSETS, when set, names the directory of kube-apiserver and
// etcd; it defaults to bin/k8s. CONTROLLER_GEN defaults to bin/controller-gen
// (it generates the Prometheus Operator's CRDs from their Go types).
package helmtest
