package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/macho"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// wantArtifacts is every file of a release, and nothing else.
func wantArtifacts() []string {
	names := []string{checksumsFile, installFile, crdsFile, chartFile(testVersion), imageFile, krewFile}
	for _, p := range []platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}} {
		names = append(names, pluginArchive(testVersion, p))
	}
	slices.Sort(names)
	return names
}

func TestReleaseArtifacts(t *testing.T) {
	dist := releaseDir(t)
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(wantArtifacts(), got); diff != "" {
		t.Errorf("files in dist (-want +got):\n%s", diff)
	}
}

// checksums.txt lists every other artifact once, in sha256sum's format, with
// its real digest.
func TestReleaseChecksums(t *testing.T) {
	dist := releaseDir(t)
	data, err := os.ReadFile(filepath.Join(dist, checksumsFile))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	var listed []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Errorf("checksums.txt: malformed line %q", sc.Text())
			continue
		}
		listed = append(listed, m[2])
		content, err := os.ReadFile(filepath.Join(dist, m[2]))
		if err != nil {
			t.Errorf("checksums.txt lists %s: %v", m[2], err)
			continue
		}
		if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != m[1] {
			t.Errorf("checksums.txt: %s has sha256 %x, listed as %s", m[2], sum, m[1])
		}
	}
	want := slices.DeleteFunc(wantArtifacts(), func(n string) bool { return n == checksumsFile })
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("files in checksums.txt (-want +got):\n%s", diff)
	}
}

var testScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// decodeYAML splits a YAML stream into objects, skipping empty documents.
func decodeYAML(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("invalid YAML: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// as converts an unstructured object to its typed form.
func as[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	var out T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return &out
}

// startAPIServer starts kube-apiserver and etcd from KUBEBUILDER_ASSETS
// (default bin/k8s) with no CRDs installed.
func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(repoRoot, "bin", "k8s")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			t.Fatalf("%s missing in %s (KUBEBUILDER_ASSETS): run `make envtest` in the repository root: %v", bin, assets, err)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	t.Cleanup(func() { _ = env.Stop() })
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s: %v", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// install.yaml applies on a real API server as `kubectl apply --server-side`
// does; its Deployment runs the release's image, and its pod is admitted in
// its namespace, which enforces the restricted Pod Security Standard. The
// CRDs it installs serve config/samples.
func TestInstallYAMLApplies(t *testing.T) {
	dist := releaseDir(t)
	data, err := os.ReadFile(filepath.Join(dist, installFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("# mqtt-operator "+testVersion+" (commit "+testCommit+")\n")) {
		t.Errorf("install.yaml does not start with the release's header:\n%.200s", data)
	}
	objs := decodeYAML(t, data)
	c := startAPIServer(t)
	ctx := context.Background()
	var deploy *appsv1.Deployment
	var crds []string
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("release-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		switch o.GetKind() {
		case "Deployment":
			deploy = as[appsv1.Deployment](t, o)
		case "CustomResourceDefinition":
			crds = append(crds, o.GetName())
		}
	}
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment"} {
		if kinds[k] == 0 {
			t.Errorf("install.yaml has no %s", k)
		}
	}
	if deploy == nil {
		t.Fatal("install.yaml has no Deployment")
	}
	var images []string
	for _, ctr := range deploy.Spec.Template.Spec.Containers {
		images = append(images, ctr.Name+"="+ctr.Image)
	}
	if !slices.Contains(images, managerContainer+"="+testRef) {
		t.Errorf("Deployment images %v, want %s=%s", images, managerContainer, testRef)
	}

	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: deploy.Namespace}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s does not enforce the restricted Pod Security Standard: %v", ns.Name, ns.Labels)
	}
	// No controllers run here: make the Deployment's pod by hand.
	pod := &corev1.Pod{Spec: *deploy.Spec.Template.Spec.DeepCopy()}
	pod.Name, pod.Namespace, pod.Labels = "manager", deploy.Namespace, deploy.Spec.Template.Labels
	if err := c.Create(ctx, pod); err != nil {
		t.Errorf("the manager's pod is refused: %v", err)
	}

	// The installed CRDs serve the samples once established.
	for _, name := range crds {
		deadline := time.Now().Add(time.Minute)
		for {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
				t.Fatal(err)
			}
			if established(&crd) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not established after a minute", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	samples, err := filepath.Glob(filepath.Join(repoRoot, "config", "samples", "*.yaml"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, s := range samples {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decodeYAML(t, data) {
			o.SetNamespace("default")
			if err := c.Create(ctx, o); err != nil {
				t.Errorf("sample %s: %v", filepath.Base(s), err)
			}
		}
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// The CRDs file holds exactly the CRDs of config/crd/bases.
func TestReleaseCRDs(t *testing.T) {
	dist := releaseDir(t)
	data, err := os.ReadFile(filepath.Join(dist, crdsFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, o := range decodeYAML(t, data) {
		if o.GetKind() != "CustomResourceDefinition" {
			t.Errorf("%s holds a %s", crdsFile, o.GetKind())
			continue
		}
		got[o.GetName()] = as[apiextensionsv1.CustomResourceDefinition](t, o)
	}
	sources, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 4 || len(got) != len(sources) {
		t.Errorf("%d CRDs in %s, %d in config/crd/bases; want the four kinds", len(got), crdsFile, len(sources))
	}
	for _, s := range sources {
		src, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		want := as[apiextensionsv1.CustomResourceDefinition](t, decodeYAML(t, src)[0])
		if diff := cmp.Diff(want, got[want.Name]); diff != "" {
			t.Errorf("CRD %s differs from %s (-source +release):\n%s", want.Name, filepath.Base(s), diff)
		}
	}
}

// The packaged chart carries the release's version, renders with its default
// values, and runs the release's image.
func TestReleaseChartRenders(t *testing.T) {
	dist := releaseDir(t)
	path := filepath.Join(dist, chartFile(testVersion))
	chrt, err := loader.Load(path)
	if err != nil {
		t.Fatalf("load the packaged chart: %v", err)
	}
	if chrt.Metadata.Version != "0.2.0" || chrt.Metadata.AppVersion != testVersion {
		t.Errorf("chart version %q, appVersion %q; want 0.2.0 and %s", chrt.Metadata.Version, chrt.Metadata.AppVersion, testVersion)
	}
	in := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	in.ReleaseName, in.Namespace = "mqtt-operator", "mqtt-operator-system"
	in.DryRun, in.ClientOnly, in.Replace, in.IncludeCRDs = true, true, true, true
	rel, err := in.Run(chrt, nil)
	if err != nil {
		t.Fatalf("render the packaged chart with default values: %v", err)
	}
	var images []string
	crds := 0
	for _, o := range decodeYAML(t, []byte(rel.Manifest)) {
		switch o.GetKind() {
		case "Deployment":
			for _, ctr := range as[appsv1.Deployment](t, o).Spec.Template.Spec.Containers {
				images = append(images, ctr.Image)
			}
		case "CustomResourceDefinition":
			crds++
		}
	}
	if diff := cmp.Diff([]string{testRef}, images); diff != "" {
		t.Errorf("images of the rendered chart (-want +got):\n%s", diff)
	}
	if crds != 4 {
		t.Errorf("the rendered chart has %d CRDs, want 4", crds)
	}
	// Reproducible: every file in the archive has the commit's time.
	want, _ := time.Parse(time.RFC3339, testDate)
	for n, f := range readTarGzFile(t, path) {
		if !f.Header.ModTime.Equal(want) {
			t.Errorf("%s in the chart archive has mtime %s, want %s", n, f.Header.ModTime, want)
		}
	}
}

// The krew manifest installs kubectl-mqtt from the release's archives: it
// passes krew's validation rules, every platform's sha256 is its archive's,
// and every archive holds a binary for its platform (static for Linux).
func TestKrewManifest(t *testing.T) {
	dist := releaseDir(t)
	data, err := os.ReadFile(filepath.Join(dist, krewFile))
	if err != nil {
		t.Fatal(err)
	}
	var p krewPlugin
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		t.Fatalf("krew manifest: %v", err)
	}
	if err := validateKrew(p); err != nil {
		t.Errorf("krew manifest: %v", err)
	}
	if p.Spec.Version != testVersion {
		t.Errorf("krew plugin version %q, want %s", p.Spec.Version, testVersion)
	}
	var platforms []string
	for _, pl := range p.Spec.Platforms {
		plat := platform{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
		platforms = append(platforms, plat.String())
		archive := pluginArchive(testVersion, plat)
		if want := defaultSource + "/releases/download/" + testVersion + "/" + archive; pl.URI != want {
			t.Errorf("%s: uri %s, want %s", plat, pl.URI, want)
		}
		content, err := os.ReadFile(filepath.Join(dist, archive))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != pl.Sha256 {
			t.Errorf("%s: sha256 %s, but %s has %x", plat, pl.Sha256, archive, sum)
		}
		files := readTarGzFile(t, filepath.Join(dist, archive))
		for _, op := range pl.Files {
			if _, ok := files[op.From]; !ok {
				t.Errorf("%s: files.from %s is not in %s", plat, op.From, archive)
			}
		}
		bin, ok := files[pl.Bin]
		if !ok {
			t.Fatalf("%s: bin %s is not in %s", plat, pl.Bin, archive)
		}
		if bin.Header.Mode&0o111 == 0 {
			t.Errorf("%s: %s is not executable (mode %o)", plat, pl.Bin, bin.Header.Mode)
		}
		license, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(files["LICENSE"].Data, license) {
			t.Errorf("%s: the archive's LICENSE is not the repository's", plat)
		}
		switch plat.OS {
		case "linux":
			checkStaticELF(t, archive, bin.Data, plat.Arch)
		case "darwin":
			checkMachO(t, archive, bin.Data, plat.Arch)
		}
		if hostCanRun(plat.Arch) && plat.OS == "linux" {
			out, err := runBinary(t, bin.Data, "version")
			if err != nil {
				t.Fatalf("kubectl-mqtt version: %v\n%s", err, out)
			}
			want := "kubectl-mqtt " + testVersion + " (commit " + testCommit + ", built " + testDate + ", go"
			if !strings.HasPrefix(out, want) {
				t.Errorf("kubectl-mqtt version = %q, want it to start with %q", out, want)
			}
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}, platforms); diff != "" {
		t.Errorf("krew platforms (-want +got):\n%s", diff)
	}
}

// validateKrew applies the checks `krew` makes of a plugin manifest before it
// installs one.
func validateKrew(p krewPlugin) error {
	var errs []error
	check := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, errors.New(msg))
		}
	}
	check(p.APIVersion == "krew.googlecontainertools.github.com/v1alpha2", "apiVersion "+p.APIVersion)
	check(p.Kind == "Plugin", "kind "+p.Kind)
	check(regexp.MustCompile(`^[\w-]+$`).MatchString(p.Metadata.Name), "unsafe name "+p.Metadata.Name)
	check(p.Spec.ShortDescription != "" && !strings.ContainsAny(p.Spec.ShortDescription, "\r\n"), "shortDescription must be one line")
	check(semverTag.MatchString(p.Spec.Version), "version "+p.Spec.Version+" is not v-prefixed semver")
	check(len(p.Spec.Platforms) > 0, "no platforms")
	for _, pl := range p.Spec.Platforms {
		check(pl.URI != "" && pl.Bin != "", "platform without uri or bin")
		check(regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(pl.Sha256), "bad sha256 "+pl.Sha256)
		check(len(pl.Selector.MatchLabels) > 0, "empty selector")
		for k := range pl.Selector.MatchLabels {
			check(k == "os" || k == "arch", "selector key "+k)
		}
		for _, f := range pl.Files {
			check(f.From != "" && f.To != "", "file operation without from or to")
		}
	}
	return errors.Join(errs...)
}

// checkMachO fails unless bin is a macOS executable for arch.
func checkMachO(t *testing.T, what string, bin []byte, arch string) {
	t.Helper()
	f, err := macho.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Errorf("%s is not Mach-O: %v", what, err)
		return
	}
	want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[arch]
	if f.Cpu != want || f.Type != macho.TypeExec {
		t.Errorf("%s is a %v %v, want an executable for %v", what, f.Cpu, f.Type, want)
	}
}

// Releasing the same binaries again gives the same bytes, file for file.
func TestReleaseIsReproducible(t *testing.T) {
	first, err := os.ReadFile(filepath.Join(releaseDir(t), checksumsFile))
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "dist")
	err = run([]string{"release", "--version", testVersion, "--commit", testCommit, "--date", testDate,
		"--bin-dir", releaseBin, "--repo-root", repoRoot, "--dist", again,
		"--image-platforms", "linux/amd64 linux/arm64", "--plugin-platforms", "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(filepath.Join(again, checksumsFile))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(first), string(second)); diff != "" {
		t.Errorf("checksums of a second release of the same binaries (-first +second):\n%s", diff)
	}
}
