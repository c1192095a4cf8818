package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// OutputYAML selects YAML output of the broker commands; OutputJSON JSON.
const OutputYAML = "yaml"

// writeDoc writes v as indented JSON or as YAML.
func writeDoc(w io.Writer, output string, v any) error {
	switch output {
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case OutputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q: want json or yaml", output)
}

// render writes v as a document for -o json|yaml, else the table rows
// (header first) that table returns.
func render(w io.Writer, output string, v any, table func() [][]string) error {
	if output != OutputTable {
		return writeDoc(w, output, v)
	}
	return writeRows(w, table())
}

// writeRows writes aligned columns; cells are made single-line.
func writeRows(w io.Writer, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 3, ' ', 0)
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = orDash(oneLine(c))
		}
		// Writes to a bytes.Buffer do not fail.
		_, _ = io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
