// Package helmtest checks the Helm chart in charts/mqtt-operator: it renders
// the chart with Helm's own Go packages, compares what it installs with the
// kustomize configuration in config/ (CRDs, RBAC rules, the manager's
// Deployment), checks values.schema.json, and creates the rendered objects on
// a real kube-apiserver.
//
// It is a separate Go module so that Helm's dependencies stay out of the
// operator's go.mod. Run it from the repository root, after `make envtest`:
//
//	cd hack/helmtest && go test ./... -count=1
//
// KUBEBUILDER_ASSETS, when set, names the directory of kube-apiserver and
// etcd; it defaults to bin/k8s.
package helmtest
