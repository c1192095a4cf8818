// Package helmtest checks the Helm chart in charts/mqtt-operator: it renders
// the chart with Helm's own Go packages, compares what it installs with the
// kustomize configuration in config/ (CRDs, RBAC rules, the manager's
// Deployment), checks values.schema.json, and creates the rendered objects on
// a real kube-apiserver.
//
// It is a separate Go module so that Helm's dependencies stay out of the
// operator's go.mod. Run it with:
//
//	cd hack/helmtest && KUBEBUILDER_ASSETS=$PWD/../../bin/k8s go test ./... -count=1
package helmtest
