//go:build tools

// Package deps pins modules that are about to be used so that go.mod stays stable while packages land.
package deps

import (
	_ "github.com/eclipse/paho.golang/paho"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/onsi/gomega"
	_ "k8s.io/api/apps/v1"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "sigs.k8s.io/yaml"
)
