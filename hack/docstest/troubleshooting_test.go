package docstest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// constStrings returns the string constants of a Go file whose names start
// with prefix, by name.
func constStrings(t *testing.T, file, prefix string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					out[n.Name] = v
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s* constants in %s", prefix, file)
	}
	return out
}

// brokerCode is one entry of a result-code table in internal/broker.
type brokerCode struct {
	table, code, reason string
}

// brokerCodes reads the code tables of internal/broker/codes.go: every
// package-level map literal whose values are codeInfo{name, reason, class}.
func brokerCodes(t *testing.T) []brokerCode {
	t.Helper()
	file := filepath.Join(repoRoot, "internal", "broker", "codes.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []brokerCode
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		mt, ok := lit.Type.(*ast.MapType)
		if !ok || !isIdent(mt.Value, "codeInfo") {
			return true
		}
		for _, e := range lit.Elts {
			kv := e.(*ast.KeyValueExpr)
			key := kv.Key.(*ast.BasicLit)
			code := key.Value
			if key.Kind == token.STRING {
				code, _ = strconv.Unquote(code)
			}
			info := kv.Value.(*ast.CompositeLit)
			reason, _ := strconv.Unquote(info.Elts[1].(*ast.BasicLit).Value)
			out = append(out, brokerCode{table: vs.Names[0].Name, code: code, reason: reason})
		}
		return false
	})
	if len(out) < 30 {
		t.Fatalf("found only %d broker codes in %s; has the table format changed?", len(out), file)
	}
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

var firstCellRE = regexp.MustCompile("^\\|\\s*`([^`]+)`")

// tableKeys is the set of code spans that open a table row.
func tableKeys(text string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if m := firstCellRE.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// The troubleshooting page has a table row, with meaning and fix, for every
// condition type and reason in api/v1alpha1/conditions.go and every broker
// result code in internal/broker/codes.go, shown with the reason it turns
// into; and it documents nothing that does not exist.
func TestTroubleshootingCoversReasonsAndCodes(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(docsDir, "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	rows := tableKeys(text)
	known := map[string]bool{}
	conditions := filepath.Join(repoRoot, "api", "v1alpha1", "conditions.go")
	for _, prefix := range []string{"Condition", "Reason"} {
		for name, v := range constStrings(t, conditions, prefix) {
			known[v] = true
			if !rows[v] {
				t.Errorf("troubleshooting.md has no table row for %s %q", name, v)
			}
		}
	}
	for _, c := range brokerCodes(t) {
		key := c.code
		if c.table == "reasonCodes" {
			key = "reason_code:" + c.code
		}
		known[key], known[c.reason] = true, true
		if !rows[key] {
			t.Errorf("troubleshooting.md has no table row for broker code %q (%s)", key, c.table)
		}
		if !rows[key] {
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "| `"+key+"`") && !strings.Contains(line, "`"+c.reason+"`") {
				t.Errorf("the row of broker code %q does not name its reason %q", key, c.reason)
			}
		}
	}
	// Reasons a broker error can have without a known code.
	for _, r := range []string{"Rejected", "BrokerError"} {
		known[r] = true
	}
	var stale []string
	for k := range rows {
		if !known[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("troubleshooting.md documents %q, which is neither a condition, a reason nor a broker code", k)
	}
}
