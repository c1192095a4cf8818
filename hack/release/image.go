package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's shape. Kubernetes' runAsNonRoot needs a numeric user, and a
// numeric user needs no /etc/passwd. 65532 is distroless' "nonroot", so the
// Dockerfile's image and this one run as the same user.
const (
	imageUser       = "65532:65532"
	imageEntrypoint = "/manager"
	// caBundlePath is the first file Go's crypto/x509 reads on Linux.
	caBundlePath = "etc/ssl/certs/ca-certificates.crt"
	// ociRefName and containerdName name the image in index.json: skopeo's
	// oci-archive:<file>:<tag> matches the first, containerd (and Docker
	// with the containerd image store) tags the loaded image with the second.
	ociRefName     = "org.opencontainers.image.ref.name"
	containerdName = "io.containerd.image.name"
)

// imageLabels are the OCI labels of the image's config, also set as
// annotations on its manifests and index.
func imageLabels(b build) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "mqtt-operator",
		"org.opencontainers.image.description": "Kubernetes operator that manages EMQX users, authorization rules and bans declaratively",
		"org.opencontainers.image.version":     b.Version,
		"org.opencontainers.image.revision":    b.Commit,
		"org.opencontainers.image.created":     b.Date.Format(time.RFC3339),
		"org.opencontainers.image.source":      b.Source,
		"org.opencontainers.image.url":         b.Source,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// caBundle is the PEM bundle of the Mozilla NSS roots that Go ships as a
// module (golang.org/x/crypto/x509roots/fallback), so the image's trust
// store comes from go.sum, not from whatever machine built it. Roots with
// constraints (a distrust-after date) are left out: a PEM file cannot carry
// the constraint, and trusting them without it would trust more than NSS does.
func caBundle() []byte {
	var buf bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return buf.Bytes()
}

// baseEntries are the files every platform shares: the CA bundle, and /tmp
// for libraries that want a scratch directory (mount an emptyDir there when
// the root filesystem is read-only).
func baseEntries() []entry {
	return []entry{
		dir("etc/", 0o755),
		dir("etc/ssl/", 0o755),
		dir("etc/ssl/certs/", 0o755),
		file(caBundlePath, 0o644, caBundle()),
		dir("tmp/", 0o1777),
	}
}

// layer is a gzip-compressed OCI layer of entries.
func layer(entries []entry, mtime time.Time) (v1.Layer, error) {
	gz, err := tarGz(entries, mtime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// buildImage packs the static linux managers of b.ImagePlatforms into one
// OCI image index on an empty base: a shared layer with the CA bundle and
// one layer with /manager (root-owned, so the non-root user cannot replace it).
func buildImage(b build) (v1.ImageIndex, error) {
	base, err := layer(baseEntries(), b.Date)
	if err != nil {
		return nil, fmt.Errorf("CA layer: %w", err)
	}
	labels := imageLabels(b)
	created := v1.Time{Time: b.Date}
	var adds []mutate.IndexAddendum
	for _, p := range b.ImagePlatforms {
		if p.OS != "linux" {
			return nil, fmt.Errorf("image platform %s: the image is linux only", p)
		}
		bin, err := os.ReadFile(b.binary(p, "manager"))
		if err != nil {
			return nil, fmt.Errorf("%s manager (build it with `make image`): %w", p, err)
		}
		mgr, err := layer([]entry{file("manager", 0o755, bin)}, b.Date)
		if err != nil {
			return nil, fmt.Errorf("%s manager layer: %w", p, err)
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err = mutate.Append(img,
			mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
				Created: created, CreatedBy: "CA certificates from golang.org/x/crypto/x509roots/fallback", Comment: "mqtt-operator release"}},
			mutate.Addendum{Layer: mgr, MediaType: types.OCILayer, History: v1.History{
				Created: created, CreatedBy: "static manager for " + p.String(), Comment: "mqtt-operator release"}},
		)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = p.OS, p.Arch
		cf.Created = created
		cf.Author = b.Source
		cf.Config = v1.Config{
			User:       imageUser,
			Entrypoint: []string{imageEntrypoint},
			WorkingDir: "/",
			Labels:     labels,
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		img = mutate.Annotations(img, labels).(v1.Image)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	return mutate.Annotations(idx, labels).(v1.ImageIndex), nil
}

// writeImageFile builds the image and writes it to out as an OCI layout
// tarball.
func writeImageFile(b build, out string) error {
	idx, err := buildImage(b)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writeImageArchive(&buf, idx, b); err != nil {
		return err
	}
	return writeFileAtomic(out, buf.Bytes())
}

// writeImageArchive writes idx as a tar of an OCI image layout (what skopeo's
// oci-archive: reads, and `crane push --index` once extracted) that also has
// a Docker manifest.json naming the first platform's image, so `docker load`
// works with the classic image store too (it loads that platform; the
// containerd image store reads index.json and loads them all).
func writeImageArchive(w io.Writer, idx v1.ImageIndex, b build) error {
	tmp, err := os.MkdirTemp("", "mqtt-operator-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		ociRefName:     b.Version,
		containerdName: b.imageRef(),
	})); err != nil {
		return err
	}
	docker, err := dockerManifest(idx, b.imageRef())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), docker, 0o644); err != nil {
		return err
	}
	entries, err := dirEntries(tmp)
	if err != nil {
		return err
	}
	return writeTar(w, entries, b.Date)
}

// dockerManifest is `docker save`'s manifest.json for the index's first
// image, pointing into the OCI layout's blobs as Docker's own save does.
func dockerManifest(idx v1.ImageIndex, ref string) ([]byte, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("empty image index")
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	d := tarball.Descriptor{Config: blob(m.Config.Digest), RepoTags: []string{ref}}
	for _, l := range m.Layers {
		d.Layers = append(d.Layers, blob(l.Digest))
	}
	return json.Marshal(tarball.Manifest{d})
}

// dirEntries reads a directory tree into archive entries, sorted by name.
func dirEntries(root string) ([]entry, error) {
	var entries []entry
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			entries = append(entries, dir(rel+"/", 0o755))
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		entries = append(entries, file(rel, 0o644, data))
		return nil
	})
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries, err
}
