package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// wantLabels are the labels (and annotations) of the release's image.
var wantLabels = map[string]string{
	"org.opencontainers.image.title":       "mqtt-operator",
	"org.opencontainers.image.description": "Kubernetes operator that manages EMQX users, authorization rules and bans declaratively",
	"org.opencontainers.image.version":     testVersion,
	"org.opencontainers.image.revision":    testCommit,
	"org.opencontainers.image.created":     testDate,
	"org.opencontainers.image.source":      defaultSource,
	"org.opencontainers.image.url":         defaultSource,
	"org.opencontainers.image.licenses":    "Apache-2.0",
}

// extractLayout unpacks the image tarball into a directory, as a user does
// before `crane push --index`, and opens it as an OCI image layout.
func extractLayout(t *testing.T, tarPath string) layout.Path {
	t.Helper()
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	files, _ := readTar(t, f, false)
	dir := t.TempDir()
	for n, tf := range files {
		if tf.Header.Typeflag != '0' {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, tf.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI image layout: %v", err)
	}
	return p
}

// The image tarball holds an OCI layout with one index for linux/amd64 and
// linux/arm64: static managers on an empty base with a CA bundle, non-root,
// labelled; its amd64 manager runs and reports the release's version.
func TestImageTarball(t *testing.T) {
	tarPath := filepath.Join(releaseDir(t), imageFile)
	p := extractLayout(t, tarPath)

	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topManifest.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1 (the image index)", len(topManifest.Manifests))
	}
	ref := topManifest.Manifests[0]
	if ref.MediaType != types.OCIImageIndex {
		t.Errorf("index.json points at %s, want an OCI image index", ref.MediaType)
	}
	if diff := cmp.Diff(map[string]string{ociRefName: testVersion, containerdName: testRef}, ref.Annotations); diff != "" {
		t.Errorf("index.json annotations (-want +got):\n%s", diff)
	}
	idx, err := top.ImageIndex(ref.Digest)
	if err != nil {
		t.Fatal(err)
	}
	// Every digest, size and diff ID of every blob checks out.
	if err := validate.Index(idx); err != nil {
		t.Fatalf("invalid image index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLabels, im.Annotations); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	var platforms []string
	var baseLayers []v1.Hash
	images := map[string]v1.Image{}
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		platforms = append(platforms, d.Platform.String())
		if d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: media type %s, want an OCI manifest", d.Platform, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		images[d.Platform.Architecture] = img
		baseLayers = append(baseLayers, checkImage(t, img, d.Platform.Architecture))
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if len(baseLayers) == 2 && baseLayers[0] != baseLayers[1] {
		t.Errorf("the CA layer differs between platforms (%s, %s): it should be one shared blob", baseLayers[0], baseLayers[1])
	}

	// docker load reads manifest.json: it names the amd64 image, tagged.
	tag, err := name.NewTag(testRef)
	if err != nil {
		t.Fatal(err)
	}
	docker, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatalf("manifest.json (docker load): %v", err)
	}
	if err := validate.Image(docker); err != nil {
		t.Fatalf("docker load's image: %v", err)
	}
	dockerCfg, err := docker.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if amd64, ok := images["amd64"]; ok {
		wantCfg, _ := amd64.ConfigName()
		if dockerCfg != wantCfg {
			t.Errorf("manifest.json's image has config %s, want the amd64 image's %s", dockerCfg, wantCfg)
		}
	}

	// The binary in the image runs: --version, and a start without a cluster
	// that logs the build before it gives up.
	for arch, img := range images {
		if !hostCanRun(arch) {
			continue
		}
		bin := layerFiles(t, img)["manager"].Data
		out, err := runBinary(t, bin, "--version")
		if err != nil {
			t.Fatalf("manager --version: %v\n%s", err, out)
		}
		want := "mqtt-operator " + testVersion + " (commit " + testCommit + ", built " + testDate + ", go"
		if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, " linux/"+arch+")\n") {
			t.Errorf("manager --version = %q, want %q…linux/%s)", out, want, arch)
		}
		out, err = runBinary(t, bin)
		if err == nil {
			t.Errorf("manager without a cluster exited 0:\n%s", out)
		}
		for _, s := range []string{"starting mqtt-operator", `"version":"` + testVersion + `"`, `"commit":"` + testCommit + `"`, "cannot load a kubeconfig"} {
			if !strings.Contains(out, s) {
				t.Errorf("manager's start log lacks %s:\n%s", s, out)
			}
		}
	}
}

// checkImage checks one platform's image and returns its first (CA) layer.
func checkImage(t *testing.T, img v1.Image, arch string) v1.Hash {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != arch {
		t.Errorf("%s: config is for %s/%s", arch, cf.OS, cf.Architecture)
	}
	if want, _ := time.Parse(time.RFC3339, testDate); !cf.Created.Equal(want) {
		t.Errorf("%s: created %s, want the commit's time %s", arch, cf.Created.Time, want)
	}
	want := v1.Config{User: "65532:65532", Entrypoint: []string{"/manager"}, WorkingDir: "/", Labels: wantLabels}
	if diff := cmp.Diff(want, cf.Config); diff != "" {
		t.Errorf("%s: config (-want +got):\n%s", arch, diff)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLabels, m.Annotations); diff != "" {
		t.Errorf("%s: manifest annotations (-want +got):\n%s", arch, diff)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("%s: config media type %s", arch, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("%s: layer media type %s, want %s", arch, l.MediaType, types.OCILayer)
		}
	}

	files := layerFiles(t, img)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	wantNames := []string{"etc/", "etc/ssl/", "etc/ssl/certs/", caBundlePath, "manager", "tmp/"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("%s: files in the image (-want +got):\n%s", arch, diff)
	}
	for n, f := range files {
		h := f.Header
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s is owned by %d:%d, want root (the non-root user cannot change it)", arch, n, h.Uid, h.Gid)
		}
		if want, _ := time.Parse(time.RFC3339, testDate); !h.ModTime.Equal(want) {
			t.Errorf("%s: %s has mtime %s, want %s", arch, n, h.ModTime, want)
		}
	}
	mgr := files["manager"]
	if mgr.Header.Mode != 0o755 {
		t.Errorf("%s: /manager mode %o, want 755", arch, mgr.Header.Mode)
	}
	checkStaticELF(t, arch+" /manager", mgr.Data, arch)
	if mode := files["tmp/"].Header.Mode; mode != 0o1777 {
		t.Errorf("%s: /tmp mode %o, want 1777", arch, mode)
	}
	checkCABundle(t, files[caBundlePath].Data)

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%s: %d layers, want 2 (CA bundle, manager)", arch, len(layers))
	}
	d, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkCABundle fails unless data is a PEM bundle of CA certificates that
// verifies a well-known root.
func checkCABundle(t *testing.T, data []byte) {
	t.Helper()
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				t.Errorf("CA bundle has trailing non-PEM data")
			}
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("CA bundle certificate %d: %v", n, err)
		}
		if !c.IsCA {
			t.Errorf("CA bundle holds a non-CA certificate: %s", c.Subject)
		}
		pool.AddCert(c)
		n++
	}
	if n < 100 {
		t.Errorf("CA bundle has %d certificates, want the NSS set (over 100)", n)
	}
	// ISRG Root X1 (Let's Encrypt) must be among them.
	found := false
	for _, s := range pool.Subjects() { //nolint:staticcheck // only comparing raw subjects of our own pool
		if bytes.Contains(s, []byte("ISRG Root X1")) {
			found = true
		}
	}
	if !found {
		t.Error("CA bundle lacks ISRG Root X1")
	}
}

// layerFiles reads every file of an image's layers (later layers win).
func layerFiles(t *testing.T, img v1.Image) map[string]tarFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]tarFile{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		files, _ := readTar(t, rc, false)
		_ = rc.Close()
		for n, f := range files {
			all[n] = f
		}
	}
	return all
}

// The same binaries and stamps give the same image tarball, byte for byte;
// another date gives another.
func TestImageIsReproducible(t *testing.T) {
	bins := t.TempDir()
	b := build{Version: "v1.0.0", Commit: "abc", Repository: defaultRepository, Source: defaultSource, BinDir: bins,
		ImagePlatforms: []platform{{"linux", "amd64"}, {"linux", "arm64"}},
		Date:           time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)}
	for _, p := range b.ImagePlatforms {
		if err := os.MkdirAll(filepath.Dir(b.binary(p, "manager")), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(b.binary(p, "manager"), []byte("not really "+p.String()), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	archive := func(b build) [32]byte {
		idx, err := buildImage(b)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := writeImageArchive(&buf, idx, b); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(buf.Bytes())
	}
	first := archive(b)
	if again := archive(b); again != first {
		t.Error("two builds from the same inputs differ")
	}
	later := b
	later.Date = later.Date.Add(time.Second)
	if archive(later) == first {
		t.Error("a different date gave the same archive: the date is not used")
	}
}

// A platform without a binary is a clear error, not an image without it.
func TestImageMissingBinary(t *testing.T) {
	b := build{Version: "v1.0.0", Commit: "abc", Repository: defaultRepository, BinDir: t.TempDir(),
		ImagePlatforms: []platform{{"linux", "amd64"}}}
	_, err := buildImage(b)
	if err == nil || !strings.Contains(err.Error(), "linux/amd64 manager") {
		t.Errorf("buildImage without binaries: %v, want an error naming linux/amd64 manager", err)
	}
	b.ImagePlatforms = []platform{{"darwin", "arm64"}}
	if _, err := buildImage(b); err == nil || !strings.Contains(err.Error(), "linux only") {
		t.Errorf("buildImage for darwin: %v, want an error", err)
	}
}
