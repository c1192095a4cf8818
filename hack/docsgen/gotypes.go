package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// foreignFields finds, for every root kind in the Go API package in dir,
// the JSON paths of fields whose type comes from another package (core/v1
// Affinity, meta/v1 Condition, …), mapped to a readable type name. The CRD
// alone cannot tell them apart from the operator's own types.
func foreignFields(dir string) (map[string]map[string]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read API package: %w", err)
	}
	structs := map[string]*ast.StructType{}
	imports := map[string]string{} // alias → import path
	var roots []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "zz_generated") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse API package: %w", err)
		}
		addImports(imports, f)
		roots = append(roots, addStructs(structs, f)...)
	}
	out := map[string]map[string]string{}
	for _, kind := range roots {
		w := walker{structs: structs, imports: imports, found: map[string]string{}}
		w.walk(structs[kind], "")
		out[kind] = w.found
	}
	return out, nil
}

// addImports records f's imports by the name they are used under.
func addImports(imports map[string]string, f *ast.File) {
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		alias := path.Base(p)
		if imp.Name != nil {
			alias = imp.Name.Name
		}
		imports[alias] = p
	}
}

// addStructs records f's struct types by name, and returns the root kinds
// among them (kubebuilder root objects with a spec).
func addStructs(structs map[string]*ast.StructType, f *ast.File) []string {
	var roots []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			structs[ts.Name.Name] = st
			if gd.Doc != nil && strings.Contains(gd.Doc.Text(), "+kubebuilder:object:root=true") && hasField(st, "Spec") {
				roots = append(roots, ts.Name.Name)
			}
		}
	}
	return roots
}

type walker struct {
	structs map[string]*ast.StructType
	imports map[string]string
	found   map[string]string
}

func (w *walker) walk(st *ast.StructType, prefix string) {
	for _, f := range st.Fields.List {
		name, inline := jsonName(f)
		if name == "-" || (name == "" && !inline) {
			continue
		}
		p := prefix
		if !inline {
			p = join(prefix, name)
		}
		w.typ(f.Type, p, "", inline)
	}
}

// typ records or descends into one field's type; label accumulates the
// []/map[string] wrappers for the readable name.
func (w *walker) typ(e ast.Expr, p, label string, inline bool) {
	switch t := e.(type) {
	case *ast.StarExpr:
		w.typ(t.X, p, label, inline)
	case *ast.ArrayType:
		w.typ(t.Elt, p+"[]", label+"[]", false)
	case *ast.MapType:
		w.typ(t.Value, p, label+"map[string]", false)
	case *ast.SelectorExpr:
		if inline || p == "metadata" {
			return // TypeMeta and ObjectMeta are the standard header
		}
		pkg := t.X.(*ast.Ident).Name
		w.found[strings.TrimSuffix(p, "[]")] = label + t.Sel.Name + " (" + apiPackage(w.imports[pkg]) + ")"
	case *ast.Ident:
		if st, ok := w.structs[t.Name]; ok {
			w.walk(st, p)
		}
	}
}

var versionRE = regexp.MustCompile(`^v[0-9]+`)

// apiPackage names a Kubernetes Go package as its API group: core/v1,
// meta/v1; or by its last element when it is not versioned (resource).
func apiPackage(importPath string) string {
	parts := strings.Split(importPath, "/")
	if n := len(parts); n >= 2 && versionRE.MatchString(parts[n-1]) {
		return parts[n-2] + "/" + parts[n-1]
	}
	return parts[len(parts)-1]
}

// jsonName is the field's JSON name, and whether it is inlined.
func jsonName(f *ast.Field) (string, bool) {
	if f.Tag == nil {
		return "", len(f.Names) == 0
	}
	tag, _ := strconv.Unquote(f.Tag.Value)
	v, ok := reflect.StructTag(tag).Lookup("json")
	if !ok {
		return "", false
	}
	name, opts, _ := strings.Cut(v, ",")
	return name, name == "" && strings.Contains(","+opts+",", ",inline,")
}

func hasField(st *ast.StructType, name string) bool {
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			if n.Name == name {
				return true
			}
		}
	}
	return false
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
