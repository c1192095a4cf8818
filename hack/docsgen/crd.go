package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// loadCRDs reads every CRD in dir, sorted by kind.
func loadCRDs(dir string) ([]*apiextv1.CustomResourceDefinition, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list CRDs: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", dir)
	}
	var crds []*apiextv1.CustomResourceDefinition
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read CRD: %w", err)
		}
		crd := &apiextv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(b, crd); err != nil {
			return nil, fmt.Errorf("decode %s: %w", p, err)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Schema == nil || crd.Spec.Versions[0].Schema.OpenAPIV3Schema == nil {
			return nil, fmt.Errorf("%s: want exactly one version with a schema", p)
		}
		crds = append(crds, crd)
	}
	sort.Slice(crds, func(i, j int) bool { return crds[i].Spec.Names.Kind < crds[j].Spec.Names.Kind })
	return crds, nil
}

// field is one row of a kind's field table.
type field struct {
	Path        string
	Type        string
	Required    bool
	Default     string
	Description string
	// Rules are the constraints the API server enforces on the field.
	Rules []string
}

// kindPage is what a reference page says about one kind.
type kindPage struct {
	Kind, Plural, Group, Version, Scope, File string
	ShortNames, Categories                    []string
	Description                               string
	Columns                                   []string
	// Rules are constraints on the whole object.
	Rules  []string
	Spec   []field
	Status []field
	Sample string
}

func newKindPage(crd *apiextv1.CustomResourceDefinition, foreign map[string]string) (kindPage, error) {
	v := crd.Spec.Versions[0]
	root := v.Schema.OpenAPIV3Schema
	p := kindPage{
		Kind: crd.Spec.Names.Kind, Plural: crd.Spec.Names.Plural, Group: crd.Spec.Group, Version: v.Name,
		Scope: string(crd.Spec.Scope), File: strings.ToLower(crd.Spec.Names.Kind) + ".md",
		ShortNames: crd.Spec.Names.ShortNames, Categories: crd.Spec.Names.Categories,
		Description: root.Description, Rules: rules(*root),
	}
	for _, c := range v.AdditionalPrinterColumns {
		p.Columns = append(p.Columns, c.Name)
	}
	for _, part := range []struct {
		name string
		into *[]field
	}{{"spec", &p.Spec}, {"status", &p.Status}} {
		s, ok := root.Properties[part.name]
		if !ok {
			continue
		}
		rows, err := fields(part.name, s, slices.Contains(root.Required, part.name), foreign)
		if err != nil {
			return kindPage{}, fmt.Errorf("%s: %w", p.Kind, err)
		}
		*part.into = rows
	}
	return p, nil
}

// fields flattens a schema into rows, one per property, depth first in
// alphabetical order. Properties of Kubernetes' own types (foreign, by JSON
// path) are one row each, named by their type, since kubectl explain and
// the Kubernetes API reference describe them.
func fields(path string, s apiextv1.JSONSchemaProps, required bool, foreign map[string]string) ([]field, error) {
	f := field{Path: path, Type: typeName(s), Required: required, Description: s.Description, Rules: rules(s)}
	if s.Default != nil {
		f.Default = jsonText(s.Default.Raw)
	}
	if t, ok := foreign[path]; ok && (hasChildren(s) || s.XIntOrString) {
		// The type's own schema (Quantity's pattern, …) is Kubernetes'
		// business; only the operator's rules on the field are shown.
		f.Type, f.Rules = t, celRules(s)
		return []field{f}, nil
	}
	out := []field{f}
	props := s.Properties
	req := s.Required
	sub := path
	if s.Type == "array" && s.Items != nil && s.Items.Schema != nil {
		props, req, sub = s.Items.Schema.Properties, s.Items.Schema.Required, path+"[]"
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rows, err := fields(sub+"."+n, props[n], slices.Contains(req, n), foreign)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// typeName is a short, readable type: string, integer, []object,
// map[string]string, date-time, …
func typeName(s apiextv1.JSONSchemaProps) string {
	if s.XIntOrString {
		return "integer or string"
	}
	switch s.Type {
	case "array":
		if s.Items != nil && s.Items.Schema != nil {
			return "[]" + typeName(*s.Items.Schema)
		}
		return "array"
	case "object":
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			return "map[string]" + typeName(*s.AdditionalProperties.Schema)
		}
		return "object"
	case "string":
		if s.Format != "" {
			return "string (" + s.Format + ")"
		}
	case "integer":
		if s.Format != "" {
			return "integer (" + s.Format + ")"
		}
	}
	return s.Type
}

// rules lists what the API server checks on a value beyond its type.
func rules(s apiextv1.JSONSchemaProps) []string {
	var out []string
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			vals[i] = "`" + jsonText(e.Raw) + "`"
		}
		out = append(out, "one of "+strings.Join(vals, ", "))
	}
	if s.Pattern != "" {
		out = append(out, "matches `"+s.Pattern+"`")
	}
	if s.MinLength != nil {
		out = append(out, fmt.Sprintf("at least %s", plural(*s.MinLength, "character")))
	}
	if s.MaxLength != nil {
		out = append(out, fmt.Sprintf("at most %s", plural(*s.MaxLength, "character")))
	}
	if s.Minimum != nil {
		out = append(out, fmt.Sprintf("at least %g", *s.Minimum))
	}
	if s.Maximum != nil {
		out = append(out, fmt.Sprintf("at most %g", *s.Maximum))
	}
	if s.MaxItems != nil {
		out = append(out, fmt.Sprintf("at most %s", plural(*s.MaxItems, "item")))
	}
	if s.XListType != nil && *s.XListType == "set" {
		out = append(out, "no duplicates")
	}
	return append(out, celRules(s)...)
}

// celRules are the CEL validations, by their message.
func celRules(s apiextv1.JSONSchemaProps) []string {
	var out []string
	for _, v := range s.XValidations {
		msg := v.Message
		if msg == "" {
			msg = "`" + v.Rule + "`"
		}
		out = append(out, msg)
	}
	return out
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// jsonText is a JSON scalar as a user writes it: strings unquoted.
func jsonText(raw []byte) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}

// hasChildren reports whether an object, or the items of an array, have
// properties of their own.
func hasChildren(s apiextv1.JSONSchemaProps) bool {
	if s.Items != nil && s.Items.Schema != nil {
		return len(s.Items.Schema.Properties) > 0
	}
	return len(s.Properties) > 0
}

// sampleFile is the kubebuilder name of the kind's sample in config/samples.
func sampleFile(crd *apiextv1.CustomResourceDefinition) string {
	prefix, _, _ := strings.Cut(crd.Spec.Group, ".")
	return prefix + "_" + crd.Spec.Versions[0].Name + "_" + strings.ToLower(crd.Spec.Names.Kind) + ".yaml"
}
