# mqtt-operator — see README.md. `make dev` and `make test` are the two entry points.

IMG ?= mqtt-operator:dev
K8S_VERSION ?= 1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
TEST_TIMEOUT ?= 25m
# make fuzz runs each fuzz target this long; make test only runs their corpora.
FUZZTIME ?= 30s
# make soak: the long chaos soak (make test runs a short one). SOAK_SEED=0
# picks a seed from the clock; the soak prints it.
SOAK_STEPS ?= 1000
SOAK_SEED ?= 0
SOAK_TIMEOUT ?= 2h

LOCALBIN ?= $(CURDIR)/bin
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
KUBE_APISERVER ?= $(ENVTEST_ASSETS)/kube-apiserver
ETCD ?= $(ENVTEST_ASSETS)/etcd
KUBE_CONTROLLER_MANAGER ?= $(ENVTEST_ASSETS)/kube-controller-manager
# Stamps the Kubernetes binaries built from hack/envtest with their version.
K8S_LDFLAGS = -X k8s.io/component-base/version.gitVersion=v$(K8S_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION)))

GO ?= go
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# What every binary is stamped with (internal/version). A release sets VERSION:
# `make release VERSION=v0.2.0`. DATE is the commit's time, not the clock's,
# so building one commit twice gives the same bytes.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
override VERSION := $(VERSION)
override COMMIT := $(COMMIT)
override DATE := $(DATE)
VERSION_PKG := github.com/mqttoperator/mqtt-operator/internal/version
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(DATE)
# Static (no cgo: the binaries run on an empty image and any Linux), with no
# local paths in them (-trimpath), stamped.
GO_BUILD = CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'

# Release artifacts (make image, make release).
IMAGE_REPO ?= ghcr.io/mqttoperator/mqtt-operator
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
PLUGIN_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
DIST ?= $(CURDIR)/dist
# Cross-compiled binaries, one <os>_<arch>/ directory each. Go relinks only
# what changed, so a second release of the same tree costs little.
RELEASE_BIN ?= $(LOCALBIN)/release
RELEASE_ARGS = --version '$(VERSION)' --commit '$(COMMIT)' --date '$(DATE)' --repository '$(IMAGE_REPO)' \
	--bin-dir '$(RELEASE_BIN)' --image-platforms '$(IMAGE_PLATFORMS)' --plugin-platforms '$(PLUGIN_PLATFORMS)'

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(MAKE) --no-print-directory chart-files

# The chart renders its CRDs, the manager's RBAC rules, the alerts and the
# Grafana dashboard from copies of config/ and docs/grafana/ kept under files/
# (Helm templates cannot read outside the chart); hack/helmtest fails when a
# copy is stale.
CHART_FILES := charts/mqtt-operator/files
.PHONY: chart-files
chart-files: ## Copy the CRDs, RBAC rules, alerts and Grafana dashboard into the Helm chart.
	@mkdir -p $(CHART_FILES)/crds $(CHART_FILES)/rbac $(CHART_FILES)/prometheus $(CHART_FILES)/grafana
	rm -f $(CHART_FILES)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART_FILES)/crds/
	cp config/rbac/role.yaml $(CHART_FILES)/rbac/role.yaml
	cp config/prometheus/prometheus_rule.yaml $(CHART_FILES)/prometheus/prometheus_rule.yaml
	rm -f $(CHART_FILES)/grafana/*.json
	cp docs/grafana/*.json $(CHART_FILES)/grafana/

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: docs
docs: ## Generate docs/reference from the CRDs, config/argocd/argocd-cm.yaml, and the file= blocks in docs/.
	$(GO) run ./hack/docsgen

.PHONY: series
series: envtest ## Regenerate config/prometheus/series.txt, the series the manager exports, from a running manager.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test ./cmd -run 'TestExportedSeries$$' -count=1 -args -update-series

.PHONY: fmt
fmt: ## gofmt every Go file.
	$(GO) fmt ./...

.PHONY: vet
vet: ## go vet.
	$(GO) vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...
	cd hack/helmtest && $(GOLANGCI_LINT) run ./...
	cd hack/docstest && $(GOLANGCI_LINT) run ./...
	cd hack/release && $(GOLANGCI_LINT) run ./...

.PHONY: test
test: manifests generate fmt vet envtest ## Run every test (and the Helm chart's) against a real kube-apiserver and the test broker.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test ./... -count=1 -timeout $(TEST_TIMEOUT)
	cd hack/helmtest && KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) CONTROLLER_GEN=$(CONTROLLER_GEN) $(GO) test ./... -count=1 -timeout $(TEST_TIMEOUT)
	cd hack/docstest && KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test ./... -count=1 -timeout $(TEST_TIMEOUT)
	cd hack/release && KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test ./... -count=1 -timeout $(TEST_TIMEOUT)

# Every fuzz target in the module, found by name: `go test -list` would run
# the TestMain of packages that start a control plane. controllers is left
# out of the timed runs: its TestMain starts an API server and a manager in
# every fuzz worker, which do not stop when fuzzing ends; its fuzz targets
# run over their corpora in make test.
FUZZ_TARGETS = $(shell grep -rl --include='*_test.go' '^func Fuzz' api cmd internal test | sort)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (make test runs them over their seed corpora).
	@failed=""; for file in $(FUZZ_TARGETS); do \
		dir=./$$(dirname $$file); \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/p' $$file); do \
			echo "== $$dir $$target ($(FUZZTIME))"; \
			$(GO) test $$dir -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) || failed="$$failed $$dir:$$target"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz failed:$$failed (a failing input is written under testdata/fuzz)"; exit 1; fi

.PHONY: soak
soak: envtest ## The long chaos soak (SOAK_STEPS, SOAK_SEED); make test runs a short one.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test ./test/soak -run '^TestSoak$$' -count=1 -v -timeout $(SOAK_TIMEOUT) \
		-soak.steps=$(SOAK_STEPS) -soak.seed=$(SOAK_SEED)

.PHONY: verify
verify: manifests generate docs fmt ## Fail when generated files, docs, formatting or go.mod are stale.
	$(GO) mod tidy
	cd hack/envtest && $(GO) mod tidy
	cd hack/helmtest && $(GO) mod tidy && $(GO) fmt ./...
	cd hack/docstest && $(GO) mod tidy && $(GO) fmt ./...
	cd hack/release && $(GO) mod tidy && $(GO) fmt ./...
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "verify: the tree is dirty after regenerating; commit the result:"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi

.PHONY: dev
dev: build envtest ## Local control plane + CRDs + test broker + operator + samples.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) run ./hack/devenv --bin-dir $(LOCALBIN)

BENCH_ARGS ?=

.PHONY: bench
bench: build envtest ## Measure the operator at scale (takes hours; see test/bench) and write docs/benchmarks.md. Short: BENCH_ARGS="--scenarios users:1000:v4".
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) run ./test/bench $(BENCH_ARGS)

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager, the test broker and the kubectl plugin into bin/ (static, stamped).
	$(GO_BUILD) -o $(LOCALBIN)/manager ./cmd
	$(GO_BUILD) -o $(LOCALBIN)/testbroker ./cmd/testbroker
	$(GO_BUILD) -o $(LOCALBIN)/kubectl-mqtt ./cmd/kubectl-mqtt

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the current kubeconfig.
	$(GO) run ./cmd

##@ Release

.PHONY: cross-manager
cross-manager: ## Cross-compile the manager for IMAGE_PLATFORMS into RELEASE_BIN.
	@for p in $(IMAGE_PLATFORMS); do \
		echo "manager $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO_BUILD) -o '$(RELEASE_BIN)'/$${p%/*}_$${p#*/}/manager ./cmd; \
	done

.PHONY: cross-plugin
cross-plugin: ## Cross-compile kubectl-mqtt for PLUGIN_PLATFORMS into RELEASE_BIN.
	@for p in $(PLUGIN_PLATFORMS); do \
		echo "kubectl-mqtt $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO_BUILD) -o '$(RELEASE_BIN)'/$${p%/*}_$${p#*/}/kubectl-mqtt ./cmd/kubectl-mqtt; \
	done

.PHONY: image
image: cross-manager ## Build the multi-platform image into $(DIST)/mqtt-operator-image.tar, without Docker or network.
	cd hack/release && $(GO) run . image $(RELEASE_ARGS) --out '$(abspath $(DIST))/mqtt-operator-image.tar'

.PHONY: release-prep
release-prep: ## Write VERSION into the chart and config/manager, for the release commit: make release-prep VERSION=v0.2.0.
	cd hack/release && $(GO) run . prepare --version '$(VERSION)' --repo-root '$(CURDIR)'

.PHONY: release
release: cross-manager cross-plugin ## Write every release artifact into $(DIST): make release VERSION=v0.2.0.
	cd hack/release && $(GO) run . release $(RELEASE_ARGS) --repo-root '$(CURDIR)' --dist '$(abspath $(DIST))'

.PHONY: docker-build
docker-build: ## Build the image with Docker instead (needs a daemon and network): docker build from the Dockerfile.
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) -t $(IMAGE_REPO):$(VERSION) .

##@ Tools

.PHONY: envtest
envtest: $(KUBE_APISERVER) $(ETCD) $(KUBE_CONTROLLER_MANAGER) ## Build kube-apiserver, etcd and kube-controller-manager from source into bin/k8s (once).

$(KUBE_APISERVER):
	@mkdir -p $(ENVTEST_ASSETS)
	@echo "building kube-apiserver v$(K8S_VERSION) from source (about 10 minutes the first time)"
	cd hack/envtest && $(GO) build -trimpath \
		-ldflags "$(K8S_LDFLAGS)" \
		-o $@.tmp k8s.io/kubernetes/cmd/kube-apiserver && mv $@.tmp $@

$(ETCD):
	@mkdir -p $(ENVTEST_ASSETS)
	cd hack/envtest && $(GO) build -trimpath -o $@.tmp go.etcd.io/etcd/server/v3 && mv $@.tmp $@

# The garbage collector and the namespace controller run in kube-controller-manager,
# not in the API server: tests of owner references and namespace deletion need it.
.PHONY: kcm
kcm: $(KUBE_CONTROLLER_MANAGER) ## Build kube-controller-manager from source into bin/k8s (once).
$(KUBE_CONTROLLER_MANAGER):
	@mkdir -p $(ENVTEST_ASSETS)
	@echo "building kube-controller-manager v$(K8S_VERSION) from source (several minutes the first time)"
	cd hack/envtest && $(GO) build -trimpath \
		-ldflags "$(K8S_LDFLAGS)" \
		-o $@.tmp k8s.io/kubernetes/cmd/kube-controller-manager && mv $@.tmp $@

.PHONY: mosquitto
mosquitto: ## Install Debian's mosquitto_sub and mosquitto_pub (apt-get) to try a broker by hand.
	@command -v mosquitto_sub >/dev/null || { apt-get update && apt-get install -y mosquitto-clients; }

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	GOBIN=$(LOCALBIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
