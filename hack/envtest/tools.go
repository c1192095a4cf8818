//go:build tools

// Package envtest pins the sources of the kube-apiserver, etcd and
// kube-controller-manager binaries that the tests run. Nothing here is compiled
// into the operator; the Makefile builds the three main packages into bin/k8s.
package envtest

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
