package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Files that carry the release version in the tree.
var (
	chartYAML         = filepath.Join("charts", chartName, "Chart.yaml")
	managerKustomized = filepath.Join("config", "manager", "kustomization.yaml")
)

// prepare sets the version in the tree for the release commit: the chart's
// version and appVersion (the image tag it deploys) and config/manager's
// image tag, so that installing from the Git tag (kubectl apply -k
// …/config/default?ref=v0.2.0, Flux, Argo CD) runs the released image, as
// install.yaml and the packaged chart do. Comments and layout are kept.
func prepare(version, repoRoot string, log io.Writer) error {
	edits := []struct {
		path string
		edit func(*kyaml.RNode) error
	}{
		{chartYAML, func(n *kyaml.RNode) error {
			if err := n.PipeE(kyaml.SetField("version", kyaml.NewStringRNode(strings.TrimPrefix(version, "v")))); err != nil {
				return err
			}
			return n.PipeE(kyaml.SetField("appVersion", kyaml.NewStringRNode(version)))
		}},
		{managerKustomized, func(n *kyaml.RNode) error {
			img, err := n.Pipe(kyaml.Lookup("images", "[name=controller]"))
			if err != nil || img == nil {
				return fmt.Errorf("no images entry named controller: %w", err)
			}
			return img.PipeE(kyaml.SetField("newTag", kyaml.NewStringRNode(version)))
		}},
	}
	for _, e := range edits {
		path := filepath.Join(repoRoot, e.path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		node, err := kyaml.Parse(string(data))
		if err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		if err := e.edit(node); err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		out, err := node.String()
		if err != nil {
			return err
		}
		if err := writeFileAtomic(path, []byte(out)); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(log, "%s: %s\n", e.path, version)
	}
	return nil
}

// treeVersion is the chart's appVersion in the tree, for a reminder when
// it is not the version being released.
func treeVersion(repoRoot string) (string, error) {
	data, err := os.ReadFile(filepath.Join(repoRoot, chartYAML))
	if err != nil {
		return "", err
	}
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return "", err
	}
	v, err := node.Pipe(kyaml.Lookup("appVersion"))
	if err != nil || v == nil {
		return "", fmt.Errorf("%s has no appVersion: %w", chartYAML, err)
	}
	return kyaml.GetValue(v), nil
}
