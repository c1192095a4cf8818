package docstest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/mqttoperator/mqtt-operator/internal/argohealth"
	"github.com/mqttoperator/mqtt-operator/internal/docblocks"
)

// page is one Markdown file under docs/.
type page struct {
	rel    string // path relative to docs/, with forward slashes
	text   string
	blocks []docblocks.Block
}

func loadPages(t *testing.T) []page {
	t.Helper()
	var pages []page
	err := filepath.WalkDir(docsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(docsDir, path)
		if err != nil {
			return err
		}
		blocks, err := docblocks.Parse(string(src))
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		pages = append(pages, page{rel: filepath.ToSlash(rel), text: string(src), blocks: blocks})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no pages under docs/")
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].rel < pages[j].rel })
	return pages
}

// The three kinds of ```yaml block, as docs/README.md describes them.
const (
	yamlObjects    = "objects"
	yamlFragment   = "fragment"
	yamlHelmValues = "helm-values"
)

// yamlMode says what the docs test does with a yaml block, from its info
// string; unknown words are errors so that a typo does not skip a block.
func yamlMode(b docblocks.Block) (string, error) {
	for k := range b.Flags {
		if k != yamlFragment && k != yamlHelmValues && k != docblocks.FileFlag {
			return "", fmt.Errorf("unknown word %q in the info string (allowed: fragment, helm-values, file=PATH)", k)
		}
	}
	_, frag := b.Flags[yamlFragment]
	_, helm := b.Flags[yamlHelmValues]
	switch {
	case frag && helm:
		return "", fmt.Errorf("a block is either a fragment or helm-values")
	case frag:
		return yamlFragment, nil
	case helm:
		return yamlHelmValues, nil
	}
	return yamlObjects, nil
}

// Every ```yaml block in docs/ is applied to the API server (the
// operator's, Flux's and Argo CD's CRDs installed, no manager running):
// complete objects in order, one fresh namespace per page; fragments are
// parsed; Helm values are rendered with the chart and the result is
// applied with a server-side dry run.
func TestDocsYAMLBlocks(t *testing.T) {
	script := loadHealthScript(t)
	ctx := context.Background()
	for _, p := range loadPages(t) {
		t.Run(p.rel, func(t *testing.T) {
			ns := ""
			var applied []*unstructured.Unstructured
			for _, b := range p.blocks {
				where := fmt.Sprintf("%s:%d", p.rel, b.Line)
				if b.Lang == "yml" {
					t.Errorf("%s: write ```yaml, not ```yml", where)
					continue
				}
				if b.Lang != "yaml" {
					continue
				}
				mode, err := yamlMode(b)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				switch mode {
				case yamlFragment:
					if _, err := decodeYAML(b.Text); err != nil {
						t.Errorf("%s: %v", where, err)
					}
				case yamlHelmValues:
					if err := applyHelmValues(ctx, b.Text); err != nil {
						t.Errorf("%s: %v", where, err)
					}
				default:
					objs, err := objects(b.Text)
					if err != nil {
						t.Errorf("%s: %v", where, err)
						continue
					}
					if ns == "" {
						ns = pageNamespace(t, p.rel)
					}
					for _, o := range objs {
						out, err := apply(ctx, o, ns, false)
						if err != nil {
							t.Errorf("%s: %v", where, err)
							continue
						}
						applied = append(applied, out)
						checkUnprocessed(t, where, script, out)
					}
				}
			}
			checkSecretRefs(t, p.rel, applied)
		})
	}
}

// checkUnprocessed: with no operator running, every MQTT object from the
// docs must read as in progress to kstatus and to the Argo CD health check.
func checkUnprocessed(t *testing.T, where, script string, u *unstructured.Unstructured) {
	t.Helper()
	if u.GroupVersionKind().Group != mqttGroup {
		return
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Errorf("%s: kstatus: %v", where, err)
	} else if res.Status != status.InProgressStatus {
		t.Errorf("%s: %s %s reads %s to kstatus before any operator processed it", where, u.GetKind(), u.GetName(), res.Status)
	}
	h, err := argohealth.Evaluate(script, u.Object)
	if err != nil {
		t.Errorf("%s: Argo CD health: %v", where, err)
	} else if h.Status != argohealth.Progressing {
		t.Errorf("%s: %s %s is %s to Argo CD before any operator processed it", where, u.GetKind(), u.GetName(), h.Status)
	}
}

// checkSecretRefs: examples are complete, so every Secret an MQTT object
// references (any spec field named *SecretRef) is on the same page.
func checkSecretRefs(t *testing.T, page string, objs []*unstructured.Unstructured) {
	t.Helper()
	secrets := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Secret" && o.GetAPIVersion() == "v1" {
			secrets[o.GetNamespace()+"/"+o.GetName()] = true
		}
	}
	for _, o := range objs {
		if o.GroupVersionKind().Group != mqttGroup {
			continue
		}
		for _, name := range secretRefs(o.Object["spec"]) {
			if !secrets[o.GetNamespace()+"/"+name] {
				t.Errorf("%s: %s %s references Secret %q, which the page does not define", page, o.GetKind(), o.GetName(), name)
			}
		}
	}
}

// secretRefs finds the names in every field called *SecretRef.
func secretRefs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if ref, ok := child.(map[string]any); ok && strings.HasSuffix(k, "SecretRef") {
				if name, ok := ref["name"].(string); ok {
					out = append(out, name)
				}
			}
			out = append(out, secretRefs(child)...)
		}
	case []any:
		for _, child := range x {
			out = append(out, secretRefs(child)...)
		}
	}
	return out
}

// A block marked file=PATH shows that file of the repository verbatim, so
// that the copy in the docs cannot drift from the one users apply.
func TestDocsFileBlocks(t *testing.T) {
	n := 0
	for _, p := range loadPages(t) {
		for _, b := range p.blocks {
			path, ok := b.Flags[docblocks.FileFlag]
			if !ok {
				continue
			}
			n++
			want, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(path)))
			if err != nil {
				t.Errorf("%s:%d: %v", p.rel, b.Line, err)
				continue
			}
			if strings.TrimRight(string(want), "\n") != strings.TrimRight(b.Text, "\n") {
				t.Errorf("%s:%d: the block differs from %s; run make docs", p.rel, b.Line, path)
			}
		}
	}
	if n == 0 {
		t.Error("no block is marked file=PATH; gitops.md shows the shipped files that way")
	}
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// pendingPages are linked from the index but written on other branches;
// a link to one of them may be broken until that branch is merged.
var pendingPages = map[string]bool{
	"upgrading.md": true, "brokers.md": true, "migrating-4-to-5.md": true, "kubectl-mqtt.md": true, "benchmarks.md": true,
}

// Relative links between pages resolve to files in the repository.
func TestDocsLinks(t *testing.T) {
	for _, p := range loadPages(t) {
		for _, m := range linkRE.FindAllStringSubmatch(p.text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			resolved := filepath.Join(docsDir, filepath.Dir(filepath.FromSlash(p.rel)), filepath.FromSlash(target))
			if _, err := os.Stat(resolved); err != nil {
				rel, _ := filepath.Rel(docsDir, resolved)
				if pendingPages[filepath.ToSlash(rel)] {
					continue
				}
				t.Errorf("%s: broken link %q", p.rel, m[1])
			}
		}
	}
}

// docs/README.md links every top-level page and the reference pages.
func TestDocsIndex(t *testing.T) {
	index, err := os.ReadFile(filepath.Join(docsDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, m := range linkRE.FindAllStringSubmatch(string(index), -1) {
		target, _, _ := strings.Cut(m[1], "#")
		linked[strings.TrimPrefix(target, "./")] = true
	}
	for _, p := range loadPages(t) {
		top := !strings.Contains(p.rel, "/")
		if p.rel == "README.md" || (!top && !strings.HasPrefix(p.rel, "reference/")) {
			continue
		}
		if !linked[p.rel] {
			t.Errorf("docs/README.md does not link %s", p.rel)
		}
	}
	for page := range pendingPages {
		if !linked[page] {
			t.Errorf("docs/README.md does not link %s", page)
		}
	}
}
