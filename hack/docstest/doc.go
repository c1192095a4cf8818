// Package docstest keeps docs/ honest. Its tests apply every YAML block in
// docs/ to a real API server (the convention is in docs/README.md), check
// that the troubleshooting page covers every condition reason and broker
// result code, decode the GitOps examples with Flux's Go types and apply
// them to Flux's and Argo CD's CRDs, and show that an object no operator
// has processed reads as in progress to kstatus and to the Argo CD health
// check. It is a Go module of its own so that Flux's API types and Helm
// stay out of the operator's go.mod.
package docstest
