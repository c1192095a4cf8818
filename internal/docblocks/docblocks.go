// Package docblocks reads the fenced code blocks of the Markdown pages in
// docs/, and refreshes the blocks that show a file of the repository. The
// convention the blocks follow is described in docs/README.md; the docs
// tests (hack/docstest) and the docs generator (hack/docsgen) share it.
package docblocks

import (
	"fmt"
	"regexp"
	"strings"
)

// FileFlag marks a block that shows a file of the repository verbatim:
// ```yaml file=config/gitops/flux.yaml
const FileFlag = "file"

// Block is one fenced code block of a Markdown page.
type Block struct {
	// Line is the line of the opening fence, counted from 1; End is the
	// line of the closing fence.
	Line, End int
	// Indent is the indentation of the fence, removed from the content.
	Indent string
	// Lang is the first word of the info string (yaml, sh, lua, …).
	Lang string
	// Flags are the other words of the info string: a bare word maps to "",
	// key=value to value.
	Flags map[string]string
	// Text is the content, without the fence's indentation.
	Text string
}

var fenceRE = regexp.MustCompile("^( *)(```+|~~~+)(.*)$")

// Parse returns the fenced code blocks of a Markdown page. A block left
// open at the end of the page is an error.
func Parse(src string) ([]Block, error) {
	var blocks []Block
	var cur *Block
	var fence string
	var text strings.Builder
	for i, line := range strings.Split(src, "\n") {
		n := i + 1
		m := fenceRE.FindStringSubmatch(line)
		if cur == nil {
			if m == nil {
				continue
			}
			cur = &Block{Line: n, Indent: m[1], Flags: map[string]string{}}
			if info := strings.Fields(m[3]); len(info) > 0 {
				cur.Lang = info[0]
				for _, w := range info[1:] {
					k, v, _ := strings.Cut(w, "=")
					cur.Flags[k] = v
				}
			}
			fence = m[2]
			text.Reset()
			continue
		}
		if m != nil && strings.HasPrefix(m[2], fence) && strings.TrimSpace(m[3]) == "" && len(m[1]) <= len(cur.Indent) {
			cur.End, cur.Text = n, text.String()
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		text.WriteString(strings.TrimPrefix(line, cur.Indent))
		text.WriteString("\n")
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: code block is never closed", cur.Line)
	}
	return blocks, nil
}

// SyncFiles replaces the content of every block marked file=PATH with
// read(PATH), indented like its fence, and returns the new page.
func SyncFiles(src string, read func(path string) (string, error)) (string, error) {
	blocks, err := Parse(src)
	if err != nil {
		return "", err
	}
	lines := strings.Split(src, "\n")
	var out []string
	next := 0 // first line (0-based) not yet copied
	for _, b := range blocks {
		path, ok := b.Flags[FileFlag]
		if !ok {
			continue
		}
		content, err := read(path)
		if err != nil {
			return "", fmt.Errorf("line %d: %w", b.Line, err)
		}
		out = append(out, lines[next:b.Line]...)
		for _, l := range strings.Split(strings.TrimRight(content, "\n"), "\n") {
			if l == "" {
				out = append(out, "")
				continue
			}
			out = append(out, b.Indent+l)
		}
		next = b.End - 1
	}
	out = append(out, lines[next:]...)
	return strings.Join(out, "\n"), nil
}
