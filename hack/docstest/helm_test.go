package docstest

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// The release the docs install: helm install mqtt-operator
// charts/mqtt-operator -n mqtt-operator-system.
const (
	helmRelease   = "mqtt-operator"
	helmNamespace = "mqtt-operator-system"
)

// applyHelmValues renders the chart with a values block from the docs
// (checked against the chart's values schema, as helm install does) and
// applies everything it renders, CRDs included, with a server-side dry run.
func applyHelmValues(ctx context.Context, text string) error {
	docs, err := decodeYAML(text)
	if err != nil {
		return err
	}
	if len(docs) != 1 {
		return fmt.Errorf("a helm-values block holds one values document, not %d", len(docs))
	}
	chrt, err := loader.Load(filepath.Join(repoRoot, "charts", "mqtt-operator"))
	if err != nil {
		return fmt.Errorf("load chart: %w", err)
	}
	in := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	in.ReleaseName, in.Namespace = helmRelease, helmNamespace
	in.DryRun, in.ClientOnly, in.IncludeCRDs, in.Replace = true, true, true, true
	rel, err := in.RunWithContext(ctx, chrt, docs[0])
	if err != nil {
		return fmt.Errorf("render the chart with these values: %w", err)
	}
	manifests := releaseutil.SplitManifests(rel.Manifest)
	if len(manifests) == 0 {
		return fmt.Errorf("the chart rendered nothing")
	}
	if err := ensureNamespace(ctx, helmNamespace); err != nil {
		return err
	}
	names := make([]string, 0, len(manifests))
	for name := range manifests {
		names = append(names, name)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(names))
	for _, name := range names {
		if docs, err := decodeYAML(manifests[name]); err == nil && len(docs) == 0 {
			continue // a template that rendered to nothing
		}
		objs, err := objects(manifests[name])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, o := range objs {
			if _, err := apply(ctx, o, helmNamespace, true); err != nil {
				return fmt.Errorf("rendered %s: %w", name, err)
			}
		}
	}
	return nil
}
