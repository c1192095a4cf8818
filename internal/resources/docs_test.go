package resources

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The reasoning behind the managed objects lives in the repository
// (docs/internals/managed.md). Comments cite it by section title, never a
// document outside the repository, and every cited section exists.
func TestCommentsCiteTheRepository(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "internals", "managed.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			sections[title] = true
		}
	}
	var files []string
	for _, pattern := range []string{"*.go", "../../controllers/mqttbroker*.go", "../../api/v1alpha1/mqttbroker_types.go", "../../api/v1alpha1/conditions.go"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d files to check: %v", len(files), files)
	}
	outside := regexp.MustCompile(`(?i)pitfall|emqx-deploy|reference/emqx|shared/reference|§`)
	// A citation may wrap across comment lines.
	wrap := regexp.MustCompile(`\n\s*//\s*`)
	cite := regexp.MustCompile(`managed\.md,\s+"([^"]+)"`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, "//") && outside.MatchString(line[strings.Index(line, "//"):]) {
				t.Errorf("%s:%d cites a document outside the repository: %s", f, i+1, strings.TrimSpace(line))
			}
		}
		for _, m := range cite.FindAllStringSubmatch(wrap.ReplaceAllString(string(src), " "), -1) {
			if !sections[m[1]] {
				t.Errorf("%s cites docs/internals/managed.md, %q, which has no such section", f, m[1])
			}
		}
	}
}
