package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// Names of the release's files.
const (
	imageFile     = "mqtt-operator-image.tar"
	installFile   = "install.yaml"
	crdsFile      = "mqtt-operator-crds.yaml"
	krewFile      = "mqtt.krew.yaml"
	checksumsFile = "checksums.txt"
	chartName     = "mqtt-operator"
	pluginBinary  = "kubectl-mqtt"
	// managerContainer is the Deployment container whose image the release pins.
	managerContainer = "manager"
)

// chartFile is the packaged chart's name (Helm's own naming).
func chartFile(version string) string {
	return chartName + "-" + strings.TrimPrefix(version, "v") + ".tgz"
}

// pluginArchive is the krew-style archive of kubectl-mqtt for a platform.
func pluginArchive(version string, p platform) string {
	return fmt.Sprintf("%s_%s_%s_%s.tar.gz", pluginBinary, version, p.OS, p.Arch)
}

// release writes every artifact into a staging directory beside dist and
// replaces dist with it once all succeeded, so dist never holds a mix of
// two releases or half of one.
func release(b build, repoRoot, dist string, log io.Writer) error {
	repoRoot, err := filepath.Abs(repoRoot)
	if err != nil {
		return err
	}
	dist, err = filepath.Abs(dist)
	if err != nil {
		return err
	}
	if err := checkDist(dist, repoRoot); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dist), 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(filepath.Dir(dist), ".release-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(stage) }()
	out := func(name string) string { return filepath.Join(stage, name) }

	// The image and the plugin archives are mostly compression: run them
	// beside the rest.
	var g errgroup.Group
	g.Go(func() error { return writeImageFile(b, out(imageFile)) })
	g.Go(func() error { return writePlugin(b, repoRoot, stage) })
	g.Go(func() error { return writeManifests(b, repoRoot, stage) })
	if err := g.Wait(); err != nil {
		return err
	}
	if err := writeChecksums(stage); err != nil {
		return err
	}
	if err := replaceDir(stage, dist); err != nil {
		return err
	}
	names, err := os.ReadDir(dist)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(log, "release %s written to %s:\n", b.Version, dist)
	for _, n := range names {
		_, _ = fmt.Fprintf(log, "  %s\n", n.Name())
	}
	// The artifacts pin the image themselves; the tree matters to those who
	// install from the Git tag.
	if v, err := treeVersion(repoRoot); err != nil || v != b.Version {
		_, _ = fmt.Fprintf(log, "note: the tree's chart appVersion is %q (%v): run `make release-prep VERSION=%s` and commit it before tagging,\n"+
			"so that config/default at the tag runs the released image too\n", v, err, b.Version)
	}
	return nil
}

// writeManifests writes install.yaml with the image pinned, the CRDs, and
// the chart, into stage.
func writeManifests(b build, repoRoot, stage string) error {
	out := func(name string) string { return filepath.Join(stage, name) }
	install, err := kustomizeBuild(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		return fmt.Errorf("install.yaml: %w", err)
	}
	if err := pinImage(install, b.imageRef()); err != nil {
		return fmt.Errorf("install.yaml: %w", err)
	}
	if err := writeResMap(out(installFile), install, b, "kubectl apply --server-side -f "+installFile); err != nil {
		return err
	}
	crds, err := kustomizeBuild(filepath.Join(repoRoot, "config", "crd"))
	if err != nil {
		return fmt.Errorf("CRDs: %w", err)
	}
	if err := writeResMap(out(crdsFile), crds, b, "kubectl apply --server-side -f "+crdsFile); err != nil {
		return err
	}
	return writeChart(b, filepath.Join(repoRoot, "charts", chartName), stage)
}

// replaceDir makes stage, complete, the new dist.
func replaceDir(stage, dist string) error {
	if err := os.Chmod(stage, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(dist); err != nil {
		return err
	}
	return os.Rename(stage, dist)
}

// checkDist refuses a --dist that replacing would lose work with: the
// repository itself, one of its parents, or a directory with a .git.
func checkDist(dist, repoRoot string) error {
	if rel, err := filepath.Rel(dist, repoRoot); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("--dist %s holds the repository; pick a directory of its own, such as dist", dist)
	}
	if _, err := os.Stat(filepath.Join(dist, ".git")); err == nil {
		return fmt.Errorf("--dist %s is a Git checkout; pick a directory of its own, such as dist", dist)
	}
	return nil
}

// kustomizeBuild is `kustomize build dir`, resources in kubectl apply order
// (namespaces and CRDs first).
func kustomizeBuild(dir string) (resmap.ResMap, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	return krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
}

// pinImage sets the image of every Deployment's manager container to ref and
// fails unless there is exactly one.
func pinImage(m resmap.ResMap, ref string) error {
	pinned := 0
	for _, r := range m.Resources() {
		if r.GetKind() != "Deployment" {
			continue
		}
		containers, err := r.Pipe(kyaml.Lookup("spec", "template", "spec", "containers"))
		if err != nil || containers == nil {
			return fmt.Errorf("deployment %s has no containers: %w", r.GetName(), err)
		}
		elems, err := containers.Elements()
		if err != nil {
			return err
		}
		for _, c := range elems {
			if kyaml.GetValue(c.Field("name").Value) != managerContainer {
				continue
			}
			if err := c.PipeE(kyaml.SetField("image", kyaml.NewStringRNode(ref))); err != nil {
				return err
			}
			pinned++
		}
	}
	if pinned != 1 {
		return fmt.Errorf("want exactly one Deployment container named %q to pin to %s, found %d", managerContainer, ref, pinned)
	}
	return nil
}

// writeResMap writes resources as one YAML stream under a comment that says
// what it is and how to apply it.
func writeResMap(path string, m resmap.ResMap, b build, apply string) error {
	body, err := m.AsYaml()
	if err != nil {
		return err
	}
	head := fmt.Sprintf("# mqtt-operator %s (commit %s)\n# %s\n", b.Version, b.Commit, apply)
	return writeFileAtomic(path, append([]byte(head), body...))
}

// writeChart packages the chart with version and appVersion set from the
// release (the image tag defaults to appVersion) and image.repository set to
// the release's repository. The source chart is not touched.
func writeChart(b build, chartDir, outDir string) error {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	chrt.Metadata.Version = strings.TrimPrefix(b.Version, "v")
	chrt.Metadata.AppVersion = b.Version
	for _, f := range chrt.Raw {
		if f.Name != chartutil.ValuesfileName {
			continue
		}
		pinned, err := pinChartRepository(f.Data, b.Repository)
		if err != nil {
			return fmt.Errorf("chart %s: %w", f.Name, err)
		}
		f.Data = pinned
	}
	tmp, err := os.MkdirTemp(outDir, ".chart-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	path, err := chartutil.Save(chrt, tmp)
	if err != nil {
		return fmt.Errorf("package chart: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// Helm stamps every file with the packaging time; use the commit's.
	if data, err = retimeTarGz(data, b.Date); err != nil {
		return fmt.Errorf("package chart: %w", err)
	}
	return writeFileAtomic(filepath.Join(outDir, chartFile(b.Version)), data)
}

// pinChartRepository returns values.yaml with image.repository set to repo,
// unchanged (comments and all) when it already is. An image.tag in the
// values would override appVersion, so it must be empty.
func pinChartRepository(values []byte, repo string) ([]byte, error) {
	node, err := kyaml.Parse(string(values))
	if err != nil {
		return nil, err
	}
	if tag, _ := node.Pipe(kyaml.Lookup("image", "tag")); tag != nil && kyaml.GetValue(tag) != "" {
		return nil, fmt.Errorf("image.tag is %q: leave it empty so the tag follows the chart's appVersion", kyaml.GetValue(tag))
	}
	cur, err := node.Pipe(kyaml.Lookup("image", "repository"))
	if err != nil || cur == nil {
		return nil, fmt.Errorf("no image.repository: %w", err)
	}
	if kyaml.GetValue(cur) == repo {
		return values, nil
	}
	if err := node.PipeE(kyaml.Lookup("image"), kyaml.SetField("repository", kyaml.NewStringRNode(repo))); err != nil {
		return nil, err
	}
	s, err := node.String()
	return []byte(s), err
}

// krewPlugin is a krew plugin manifest
// (krew.googlecontainertools.github.com/v1alpha2 Plugin).
type krewPlugin struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   krewMetadata `json:"metadata"`
	Spec       krewSpec     `json:"spec"`
}

type krewMetadata struct {
	Name string `json:"name"`
}

type krewSpec struct {
	Version          string         `json:"version"`
	Homepage         string         `json:"homepage"`
	ShortDescription string         `json:"shortDescription"`
	Description      string         `json:"description"`
	Platforms        []krewPlatform `json:"platforms"`
}

type krewPlatform struct {
	Selector krewSelector `json:"selector"`
	URI      string       `json:"uri"`
	Sha256   string       `json:"sha256"`
	Bin      string       `json:"bin"`
	Files    []krewFileOp `json:"files"`
}

type krewSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

type krewFileOp struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// writePlugin writes a tar.gz of kubectl-mqtt and LICENSE per platform, and
// the krew manifest that installs them from the GitHub release.
func writePlugin(b build, repoRoot, outDir string) error {
	license, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
	if err != nil {
		return err
	}
	manifest := krewPlugin{
		APIVersion: "krew.googlecontainertools.github.com/v1alpha2",
		Kind:       "Plugin",
		Metadata:   krewMetadata{Name: "mqtt"},
		Spec: krewSpec{
			Version:          b.Version,
			Homepage:         b.Source,
			ShortDescription: "Inspect and nudge mqtt-operator's MQTT users, ACLs, bans and brokers",
			Description: "Shows the readiness of every MQTTBroker, MQTTUser, MQTTACL and MQTTBan in one table,\n" +
				"prints an MQTTUser's connection details from its credentials Secret, and asks\n" +
				"mqtt-operator to reconcile objects now.\n",
		},
	}
	for _, p := range b.PluginPlatforms {
		bin, err := os.ReadFile(b.binary(p, pluginBinary))
		if err != nil {
			return fmt.Errorf("%s %s (build it with `make release`): %w", p, pluginBinary, err)
		}
		name := pluginArchive(b.Version, p)
		data, err := tarGz([]entry{file(pluginBinary, 0o755, bin), file("LICENSE", 0o644, license)}, b.Date)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(outDir, name), data); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		manifest.Spec.Platforms = append(manifest.Spec.Platforms, krewPlatform{
			Selector: krewSelector{MatchLabels: map[string]string{"os": p.OS, "arch": p.Arch}},
			URI:      b.Source + "/releases/download/" + b.Version + "/" + name,
			Sha256:   hex.EncodeToString(sum[:]),
			Bin:      pluginBinary,
			Files:    []krewFileOp{{From: pluginBinary, To: "."}, {From: "LICENSE", To: "."}},
		})
	}
	data, err := yaml.Marshal(manifest)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(outDir, krewFile), data)
}

// writeChecksums writes checksums.txt in sha256sum's format for every file
// of dir, sorted by name (as os.ReadDir returns them).
func writeChecksums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var lines []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s: unexpected non-file in the release", e.Name())
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+e.Name()+"\n")
	}
	if len(lines) == 0 {
		return errors.New("nothing to checksum")
	}
	return writeFileAtomic(filepath.Join(dir, checksumsFile), []byte(strings.Join(lines, "")))
}
