package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestParsePlatforms(t *testing.T) {
	tests := []struct {
		in      string
		want    []platform
		wantErr bool
	}{
		{in: "linux/amd64 darwin/arm64", want: []platform{{"linux", "amd64"}, {"darwin", "arm64"}}},
		{in: "  linux/arm64\n", want: []platform{{"linux", "arm64"}}},
		{in: "", wantErr: true},
		{in: "linux", wantErr: true},
		{in: "linux/", wantErr: true},
		{in: "linux/arm/v7", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePlatforms(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePlatforms(%q) error %v, want error %v", tt.in, err, tt.wantErr)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parsePlatforms(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// Bad command lines fail before anything is built, saying what is wrong.
func TestRunRejects(t *testing.T) {
	bins := t.TempDir()
	base := []string{"--version", "v0.2.0", "--commit", "abc", "--date", testDate, "--bin-dir", bins,
		"--image-platforms", "linux/amd64", "--plugin-platforms", "linux/amd64"}
	// with is a command line of cmd with base's flags, then extra's (the last of a flag wins).
	with := func(cmd string, extra ...string) []string { return slices.Concat([]string{cmd}, base, extra) }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "want a command"},
		{"unknown command", with("publish"), `unknown command "publish"`},
		{"missing stamps", []string{"image", "--out", "x.tar", "--image-platforms", "linux/amd64"}, "are required"},
		{"missing platforms", []string{"image", "--version", "v1", "--commit", "c", "--date", testDate, "--bin-dir", bins, "--out", "x"}, "--image-platforms: no platform"},
		{"release without plugin platforms", []string{"release", "--version", "v1.0.0", "--commit", "c", "--date", testDate, "--bin-dir", bins, "--image-platforms", "linux/amd64", "--dist", "x"}, "--plugin-platforms: no platform"},
		{"bad date", with("image", "--date", "yesterday", "--out", "x"), "--date"},
		{"bad tag", with("image", "--version", "v1+build", "--out", "x"), "image reference"},
		{"image without --out", with("image"), "--out is required"},
		{"release without --dist", with("release"), "--dist is required"},
		{"release of a non-release version", with("release", "--version", "v0.2", "--dist", t.TempDir()), "not a release version"},
		{"release of a git describe", with("release", "--version", "f690cfa-dirty", "--dist", t.TempDir()), "not a release version"},
		{"dist is the repository", append(with("release"), "--dist", repoRoot, "--repo-root", repoRoot), "holds the repository"},
		{"bad platform", append(with("image"), "--image-platforms", "amd64", "--out", "x"), "--image-platforms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestSemverTag(t *testing.T) {
	for v, want := range map[string]bool{
		"v0.2.0": true, "v1.10.3": true, "v0.2.0-rc.1": true, "v1.0.0-alpha-2": true,
		"0.2.0": false, "v0.2": false, "v01.2.3": false, "v0.2.0+meta": false, "v0.2.0-": false,
	} {
		if got := semverTag.MatchString(v); got != want {
			t.Errorf("semverTag(%q) = %v, want %v", v, got, want)
		}
	}
}

func resMap(t *testing.T, docs ...string) resmap.ResMap {
	t.Helper()
	m := resmap.New()
	for _, d := range docs {
		r, err := resource.NewFactory(nil).FromBytes([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: controller-manager}
spec:
  template:
    spec:
      containers:
      - {name: proxy, image: proxy:1}
      - {name: manager, image: mqtt-operator:dev}
`

func TestPinImage(t *testing.T) {
	m := resMap(t, deployment, "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\n")
	if err := pinImage(m, testRef); err != nil {
		t.Fatal(err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: " + testRef, "image: proxy:1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pinned output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "mqtt-operator:dev") {
		t.Errorf("the manager's old image is still there:\n%s", out)
	}

	noManager := resMap(t, strings.Replace(deployment, "name: manager", "name: operator", 1))
	if err := pinImage(noManager, testRef); err == nil || !strings.Contains(err.Error(), "found 0") {
		t.Errorf("pinImage without a manager container: %v, want found 0", err)
	}
	two := resMap(t, deployment, strings.Replace(deployment, "controller-manager", "other", 1))
	if err := pinImage(two, testRef); err == nil || !strings.Contains(err.Error(), "found 2") {
		t.Errorf("pinImage with two manager containers: %v, want found 2", err)
	}
}

func TestPinChartRepository(t *testing.T) {
	const repo = "ghcr.io/mqttoperator/mqtt-operator"
	values := "# The image.\nimage:\n  # Where it is.\n  repository: mqtt-operator\n  tag: \"\"\nreplicas: 1\n"
	got, err := pinChartRepository([]byte(values), repo)
	if err != nil {
		t.Fatal(err)
	}
	node, err := kyaml.Parse(string(got))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := node.Pipe(kyaml.Lookup("image", "repository")); kyaml.GetValue(r) != repo {
		t.Errorf("image.repository = %q, want %q:\n%s", kyaml.GetValue(r), repo, got)
	}
	for _, keep := range []string{"# The image.", "# Where it is.", "replicas: 1"} {
		if !strings.Contains(string(got), keep) {
			t.Errorf("pinned values lost %q:\n%s", keep, got)
		}
	}

	already := strings.Replace(values, "repository: mqtt-operator", "repository: "+repo, 1)
	got, err = pinChartRepository([]byte(already), repo)
	if err != nil || string(got) != already {
		t.Errorf("values already pinned changed: %v\n%s", err, got)
	}

	if _, err := pinChartRepository([]byte(strings.Replace(values, `tag: ""`, "tag: v9", 1)), repo); err == nil || !strings.Contains(err.Error(), "image.tag") {
		t.Errorf("values with a tag: %v, want an error about image.tag", err)
	}
	if _, err := pinChartRepository([]byte("replicas: 1\n"), repo); err == nil {
		t.Error("values without image.repository: no error")
	}
}

// Helm's packaging marks the archive with a gzip extra field and comment,
// and stamps the time of packaging; retimeTarGz keeps the first and replaces
// the second.
func TestRetimeTarGz(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Extra, zw.Comment = []byte("+mark"), "Helm"
	if err := writeTar(zw, []entry{dir("c/", 0o755), file("c/Chart.yaml", 0o644, []byte("name: c\n"))}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out, err := retimeTarGz(buf.Bytes(), when)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if string(zr.Extra) != "+mark" || zr.Comment != "Helm" {
		t.Errorf("gzip header extra %q comment %q, want Helm's kept", zr.Extra, zr.Comment)
	}
	files, order := readTar(t, zr, false)
	if diff := cmp.Diff([]string{"c/", "c/Chart.yaml"}, order); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	for n, f := range files {
		if !f.Header.ModTime.Equal(when) {
			t.Errorf("%s mtime %s, want %s", n, f.Header.ModTime, when)
		}
	}
	if string(files["c/Chart.yaml"].Data) != "name: c\n" {
		t.Errorf("content changed: %q", files["c/Chart.yaml"].Data)
	}
	again, err := retimeTarGz(buf.Bytes(), when)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("retiming twice differs (err %v)", err)
	}
}

// The Dockerfile builds what `make image` builds: the same static, stamped
// binary, user, entrypoint and labels, on distroless' static nonroot base.
func TestDockerfileMatchesImage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines so each instruction is one line.
	df := strings.ReplaceAll(string(data), "\\\n", " ")
	has := func(re string) bool { return regexp.MustCompile(`(?m)` + re).MatchString(df) }
	for _, re := range []string{
		`^FROM gcr\.io/distroless/static:nonroot$`,
		`^USER ` + regexp.QuoteMeta(imageUser) + `$`,
		`^ENTRYPOINT \["` + regexp.QuoteMeta(imageEntrypoint) + `"\]$`,
		`^COPY --from=build /out/manager ` + regexp.QuoteMeta(imageEntrypoint) + `$`,
		`^RUN CGO_ENABLED=0 .*go build -trimpath .*-ldflags "-s -w `,
	} {
		if !has(re) {
			t.Errorf("the Dockerfile has no line matching %s", re)
		}
	}
	for _, v := range []string{"Version", "Commit", "Date"} {
		if !strings.Contains(df, "-X github.com/mqttoperator/mqtt-operator/internal/version."+v+"=") {
			t.Errorf("the Dockerfile does not stamp internal/version.%s", v)
		}
	}
	for k := range imageLabels(build{}) {
		if !has(`^LABEL .*` + regexp.QuoteMeta(k) + `=`) {
			t.Errorf("the Dockerfile lacks the label %s", k)
		}
	}
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(makefile, []byte("LDFLAGS := -s -w ")) {
		t.Error("the Makefile's LDFLAGS no longer start with -s -w; keep the Dockerfile's in step")
	}
}

// prepare writes the release version into copies of the chart's Chart.yaml
// and config/manager's kustomization, keeping everything else.
func TestPrepare(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{chartYAML, managerKustomized} {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := run([]string{"prepare", "--version", "v1.2.3-rc.1", "--repo-root", root}, io.Discard); err != nil {
		t.Fatal(err)
	}
	get := func(f string, path ...string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		n, err := kyaml.Parse(string(data))
		if err != nil {
			t.Fatal(err)
		}
		v, err := n.Pipe(kyaml.Lookup(path...))
		if err != nil || v == nil {
			t.Fatalf("%s has no %v: %v", f, path, err)
		}
		return kyaml.GetValue(v)
	}
	for _, c := range []struct{ file, got, want string }{
		{chartYAML, get(chartYAML, "version"), "1.2.3-rc.1"},
		{chartYAML, get(chartYAML, "appVersion"), "v1.2.3-rc.1"},
		{chartYAML, get(chartYAML, "name"), chartName},
		{managerKustomized, get(managerKustomized, "images", "[name=controller]", "newTag"), "v1.2.3-rc.1"},
		{managerKustomized, get(managerKustomized, "images", "[name=controller]", "newName"), defaultRepository},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.file, c.got, c.want)
		}
	}
	if v, err := treeVersion(root); err != nil || v != "v1.2.3-rc.1" {
		t.Errorf("treeVersion = %q, %v", v, err)
	}
	if err := run([]string{"prepare", "--version", "1.2.3", "--repo-root", root}, io.Discard); err == nil {
		t.Error("prepare accepted a version without v")
	}
}
