// Package harness runs the operator the way a user's cluster does, for
// `make dev`, the benchmark (test/bench) and long soaks: a real
// kube-apiserver and etcd (envtest) with the CRDs installed, the test
// broker and the manager as separate processes, each logging to a file.
//
// The manager is driven only through its command line, its health, metrics
// and pprof endpoints and signals, so the same harness works against any
// build of it. Manager probes which optional flags a binary has (for
// example --metrics-secure or --pprof-bind-address) and passes only those.
//
// Measurements come from outside the processes: resident memory and CPU
// time from /proc (or from the kernel's rusage once a process has exited),
// and Prometheus metrics scraped from the API server, the manager and the
// test broker (GET /testbroker/metrics counts management API requests by
// route).
//
// Ports are picked free on loopback and handed to the processes, and test
// packages run in parallel, so another process can take a port between
// the pick and the bind. A start therefore checks from /proc that the
// process itself listens on each of its ports (an answer on the port
// proves only that someone does) and, for ports the harness picked, picks
// new ones and starts again. Set MQTT_OPERATOR_RACE=1 to build the
// binaries with the race detector.
package harness
