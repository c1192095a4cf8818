// Command docsgen writes the files under docs/ and config/ that are derived
// from other files, so that `make docs` can regenerate them and `make verify`
// can notice when they are stale:
//
//   - docs/reference/<kind>.md, one page per CRD in config/crd/bases, with
//     every field, its type, default and validation, and the kind's sample
//     from config/samples as the example;
//   - docs/reference/README.md, the index of those pages;
//   - config/argocd/argocd-cm.yaml, the argocd-cm entries that install
//     config/argocd/health.lua for every kind;
//   - in every other page under docs/, the content of each code block
//     marked file=PATH, copied from that file.
//
// Run it from the repository root.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mqttoperator/mqtt-operator/internal/docblocks"
)

func main() {
	o := options{}
	flag.StringVar(&o.crdDir, "crds", "config/crd/bases", "directory of the CRD manifests")
	flag.StringVar(&o.apiDir, "api", "api/v1alpha1", "directory of the Go API types (to tell Kubernetes types from the operator's own)")
	flag.StringVar(&o.samplesDir, "samples", "config/samples", "directory of the samples shown as examples")
	flag.StringVar(&o.refDir, "out", "docs/reference", "directory the reference pages are written to")
	flag.StringVar(&o.healthLua, "health-lua", "config/argocd/health.lua", "the Argo CD health check")
	flag.StringVar(&o.argocdCM, "argocd-cm", "config/argocd/argocd-cm.yaml", "the argocd-cm snippet to write")
	flag.StringVar(&o.docsDir, "docs", "docs", "directory of the pages whose file=PATH blocks are refreshed")
	flag.StringVar(&o.root, "root", ".", "directory that file=PATH is relative to")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "docsgen:", err)
		os.Exit(1)
	}
}

type options struct {
	crdDir, apiDir, samplesDir, refDir, healthLua, argocdCM, docsDir, root string
}

func run(o options) error {
	crds, err := loadCRDs(o.crdDir)
	if err != nil {
		return err
	}
	foreign, err := foreignFields(o.apiDir)
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	var kinds []kindPage
	for _, crd := range crds {
		page, err := newKindPage(crd, foreign[crd.Spec.Names.Kind])
		if err != nil {
			return err
		}
		sample, err := os.ReadFile(filepath.Join(o.samplesDir, sampleFile(crd)))
		if err != nil {
			return fmt.Errorf("sample of %s: %w", crd.Spec.Names.Kind, err)
		}
		page.Sample = strings.TrimSpace(string(sample))
		files[filepath.Join(o.refDir, page.File)] = renderKind(page)
		kinds = append(kinds, page)
	}
	files[filepath.Join(o.refDir, "README.md")] = renderIndex(kinds)
	lua, err := os.ReadFile(o.healthLua)
	if err != nil {
		return fmt.Errorf("read health check: %w", err)
	}
	cm, err := renderArgoCDConfigMap(crds, string(lua), o.healthLua)
	if err != nil {
		return err
	}
	files[o.argocdCM] = cm
	if err := syncPages(o, files); err != nil {
		return err
	}
	return writeAll(o.refDir, files)
}

// syncPages refreshes the file=PATH blocks of the pages under docsDir
// (the generated reference pages aside), adding the changed pages to files.
// A block showing a file generated in this run gets the new content.
func syncPages(o options, files map[string][]byte) error {
	read := func(p string) (string, error) {
		full := filepath.Join(o.root, filepath.FromSlash(p))
		if b, ok := files[full]; ok {
			return string(b), nil
		}
		b, err := os.ReadFile(full)
		return string(b), err
	}
	return filepath.WalkDir(o.docsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if filepath.Clean(path) == filepath.Clean(o.refDir) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".md") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out, err := docblocks.SyncFiles(string(src), read)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if out != string(src) {
			files[path] = []byte(out)
		}
		return nil
	})
}

// writeAll writes the files, and removes the generated pages in refDir that
// no CRD produces any more.
func writeAll(refDir string, files map[string][]byte) error {
	if err := os.MkdirAll(refDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", refDir, err)
	}
	old, err := filepath.Glob(filepath.Join(refDir, "*.md"))
	if err != nil {
		return fmt.Errorf("list %s: %w", refDir, err)
	}
	for _, f := range old {
		if _, keep := files[f]; !keep {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("remove stale %s: %w", f, err)
			}
		}
	}
	for path, content := range files {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
