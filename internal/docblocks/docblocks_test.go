package docblocks

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	src := "# Page\n\n```yaml\na: 1\n```\n\ntext\n\n- item:\n\n  ```yaml fragment file=x.yaml\n  b: 2\n\n  c: 3\n  ```\n````md\n```yaml\nnested\n```\n````\n~~~\nplain\n~~~\n"
	got, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Line: 3, End: 5, Lang: "yaml", Flags: map[string]string{}, Text: "a: 1\n"},
		{Line: 11, End: 15, Indent: "  ", Lang: "yaml", Flags: map[string]string{"fragment": "", "file": "x.yaml"}, Text: "b: 2\n\nc: 3\n"},
		{Line: 16, End: 20, Lang: "md", Flags: map[string]string{}, Text: "```yaml\nnested\n```\n"},
		{Line: 21, End: 23, Flags: map[string]string{}, Text: "plain\n"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("blocks (-want +got):\n%s", d)
	}
	if _, err := Parse("```yaml\na: 1\n"); err == nil {
		t.Error("an unclosed block was accepted")
	}
}

func TestSyncFiles(t *testing.T) {
	files := map[string]string{"a.lua": "return {}\n\n-- end\n", "b.yaml": "x: 1\n"}
	read := func(p string) (string, error) {
		if s, ok := files[p]; ok {
			return s, nil
		}
		return "", fmt.Errorf("no file %s", p)
	}
	src := "intro\n```lua file=a.lua\nold\n```\nmiddle\n\n  ```yaml file=b.yaml\n  ```\n```sh\nkeep\n```\n"
	got, err := SyncFiles(src, read)
	if err != nil {
		t.Fatal(err)
	}
	want := "intro\n```lua file=a.lua\nreturn {}\n\n-- end\n```\nmiddle\n\n  ```yaml file=b.yaml\n  x: 1\n  ```\n```sh\nkeep\n```\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("page (-want +got):\n%s", d)
	}
	again, err := SyncFiles(got, read)
	if err != nil || again != got {
		t.Errorf("a second sync changed the page: %v\n%s", err, cmp.Diff(got, again))
	}
	if _, err := SyncFiles("```lua file=missing.lua\n```\n", read); err == nil {
		t.Error("a block naming a missing file was accepted")
	}
}
