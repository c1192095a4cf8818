package docstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// decodeYAML splits a YAML stream into objects. Duplicate keys are errors;
// documents that hold only comments are skipped.
func decodeYAML(text string) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	var out []map[string]any
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split YAML: %w", err)
		}
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("parse YAML: %w", err)
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return nil, fmt.Errorf("a YAML document must be a mapping: %w", err)
		}
		out = append(out, m)
	}
}

// objects decodes a block of complete objects: each has apiVersion, kind
// and metadata.name.
func objects(text string) ([]*unstructured.Unstructured, error) {
	docs, err := decodeYAML(text)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no object in the block")
	}
	out := make([]*unstructured.Unstructured, len(docs))
	for i, d := range docs {
		u := &unstructured.Unstructured{Object: d}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("object %d is not complete: apiVersion, kind and metadata.name are required (mark partial YAML as a fragment)", i+1)
		}
		out[i] = u
	}
	return out, nil
}

// apply applies an object server-side, as kubectl apply --server-side and
// Flux do, with strict field validation so that a misspelt or misplaced
// field is an error. Namespaced objects without a namespace go to ns; a
// namespace an object names is created when missing.
func apply(ctx context.Context, u *unstructured.Unstructured, ns string, dryRun bool) (*unstructured.Unstructured, error) {
	gvk := u.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	opts := metav1.PatchOptions{FieldManager: "docs-test", Force: ptr.To(true), FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return dyn.Resource(m.Resource).Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	}
	if u.GetNamespace() == "" {
		u.SetNamespace(ns)
		if data, err = json.Marshal(u.Object); err != nil {
			return nil, err
		}
	} else if err := ensureNamespace(ctx, u.GetNamespace()); err != nil {
		return nil, err
	}
	out, err := dyn.Resource(m.Resource).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	return out, nil
}

func ensureNamespace(ctx context.Context, name string) error {
	err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

var nsUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// pageNamespace creates a fresh namespace for one page's examples.
func pageNamespace(t *testing.T, page string) string {
	t.Helper()
	name := strings.Trim(nsUnsafe.ReplaceAllString(strings.ToLower(strings.TrimSuffix(page, ".md")), "-"), "-")
	name = "docs-" + name
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	if err := ensureNamespace(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}
