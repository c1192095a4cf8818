package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

const root = "../.."

func TestFields(t *testing.T) {
	s := apiextv1.JSONSchemaProps{
		Type: "object", Description: "Spec is\nthe desired state.", Required: []string{"rules"},
		XValidations: apiextv1.ValidationRules{{Rule: "has(self.a) != has(self.b)", Message: "exactly one of a or b"}},
		Properties: map[string]apiextv1.JSONSchemaProps{
			"rules": {Type: "array", MaxItems: ptr.To[int64](100), Items: &apiextv1.JSONSchemaPropsOrArray{Schema: &apiextv1.JSONSchemaProps{
				Type: "object", Required: []string{"topic"},
				Properties: map[string]apiextv1.JSONSchemaProps{
					"topic":  {Type: "string", MinLength: ptr.To[int64](1), Description: "Topic | filter <x>."},
					"action": {Type: "string", Enum: []apiextv1.JSON{{Raw: []byte(`"publish"`)}, {Raw: []byte(`"all"`)}}},
				},
			}}},
			"port":   {Type: "integer", Format: "int32", Default: &apiextv1.JSON{Raw: []byte(`1883`)}, Minimum: ptr.To(1.0)},
			"mode":   {Type: "string", Default: &apiextv1.JSON{Raw: []byte(`"Delete"`)}},
			"labels": {Type: "object", AdditionalProperties: &apiextv1.JSONSchemaPropsOrBool{Schema: &apiextv1.JSONSchemaProps{Type: "string"}}},
			"affinity": {Type: "object", Description: "Affinity of the pods.", Properties: map[string]apiextv1.JSONSchemaProps{
				"nodeAffinity": {Type: "object"},
			}},
			"size": {XIntOrString: true, Pattern: "^[0-9]+$", AnyOf: []apiextv1.JSONSchemaProps{{Type: "integer"}, {Type: "string"}}},
		},
	}
	foreign := map[string]string{"spec.affinity": "Affinity (core/v1)", "spec.size": "Quantity (resource)"}
	got, err := fields("spec", s, true, foreign)
	if err != nil {
		t.Fatal(err)
	}
	want := []field{
		{Path: "spec", Type: "object", Required: true, Description: "Spec is\nthe desired state.", Rules: []string{"exactly one of a or b"}},
		{Path: "spec.affinity", Type: "Affinity (core/v1)", Description: "Affinity of the pods."},
		{Path: "spec.labels", Type: "map[string]string"},
		{Path: "spec.mode", Type: "string", Default: "Delete"},
		{Path: "spec.port", Type: "integer (int32)", Default: "1883", Rules: []string{"at least 1"}},
		{Path: "spec.rules", Type: "[]object", Required: true, Rules: []string{"at most 100 items"}},
		{Path: "spec.rules[].action", Type: "string", Rules: []string{"one of `publish`, `all`"}},
		{Path: "spec.rules[].topic", Type: "string", Required: true, Description: "Topic | filter <x>.", Rules: []string{"at least 1 character"}},
		{Path: "spec.size", Type: "Quantity (resource)"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	var b strings.Builder
	writeFields(&b, got[7:8])
	if line := strings.Split(b.String(), "\n")[2]; line != "| `spec.rules[].topic` | string | yes |  | Topic \\| filter &lt;x&gt;.<br>Validation: at least 1 character. |" {
		t.Errorf("table row: %s", line)
	}
}

// Fields of Kubernetes types are found from the Go types, so that the pages
// do not spell out all of core/v1 Affinity, while the operator's own types
// are described field by field.
func TestForeignFields(t *testing.T) {
	got, err := foreignFields(filepath.Join(root, "api", "v1alpha1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"MQTTBroker", "MQTTUser", "MQTTACL", "MQTTBan"} {
		if got[kind]["status.conditions"] != "[]Condition (meta/v1)" {
			t.Errorf("%s status.conditions: %q", kind, got[kind]["status.conditions"])
		}
	}
	b := got["MQTTBroker"]
	for path, want := range map[string]string{
		"spec.managed.affinity":     "Affinity (core/v1)",
		"spec.managed.env":          "[]EnvVar (core/v1)",
		"spec.managed.resources":    "ResourceRequirements (core/v1)",
		"spec.managed.storage.size": "Quantity (resource)",
		"status.lastChecked":        "Time (meta/v1)",
	} {
		if b[path] != want {
			t.Errorf("MQTTBroker %s: %q, want %q", path, b[path], want)
		}
	}
	for _, own := range []string{"spec.external", "spec.managed", "spec.managed.storage", "metadata", "status.metrics"} {
		if _, ok := b[own]; ok {
			t.Errorf("MQTTBroker %s is the operator's own type, found as foreign", own)
		}
	}
	if _, ok := got["MQTTBrokerList"]; ok {
		t.Error("a List type was taken for a kind")
	}
}

// The argocd-cm snippet holds the health check byte for byte, once per kind.
func TestArgoCDConfigMap(t *testing.T) {
	crds, err := loadCRDs(filepath.Join(root, "config", "crd", "bases"))
	if err != nil {
		t.Fatal(err)
	}
	lua, err := os.ReadFile(filepath.Join(root, "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := renderArgoCDConfigMap(crds, string(lua), "config/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(out, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Name != "argocd-cm" || cm.Namespace != "argocd" {
		t.Errorf("ConfigMap %s/%s, want argocd/argocd-cm", cm.Namespace, cm.Name)
	}
	var keys []string
	for k, v := range cm.Data {
		keys = append(keys, k)
		if v != string(lua) {
			t.Errorf("%s differs from health.lua:\n%s", k, cmp.Diff(string(lua), v))
		}
	}
	want := []string{
		"resource.customizations.health.mqtt.mqttoperator.io_MQTTACL",
		"resource.customizations.health.mqtt.mqttoperator.io_MQTTBan",
		"resource.customizations.health.mqtt.mqttoperator.io_MQTTBroker",
		"resource.customizations.health.mqtt.mqttoperator.io_MQTTUser",
	}
	if d := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
	if _, err := renderArgoCDConfigMap(crds, "return {}\n\n", "x.lua"); err == nil {
		t.Error("a script with trailing blank lines would not survive a YAML literal block, and was accepted")
	}
}

// Every kind gets a page with each of its spec and status fields, and the
// index links them all.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "ref", "mqttgone.md")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options{
		crdDir: filepath.Join(root, "config", "crd", "bases"), apiDir: filepath.Join(root, "api", "v1alpha1"),
		samplesDir: filepath.Join(root, "config", "samples"), refDir: filepath.Join(dir, "ref"),
		healthLua: filepath.Join(root, "config", "argocd", "health.lua"), argocdCM: filepath.Join(dir, "cm", "argocd-cm.yaml"),
		docsDir: filepath.Join(dir, "docs"), root: dir,
	}
	// A page showing the generated snippet gets this run's content.
	for _, d := range []string{o.docsDir, filepath.Dir(o.argocdCM)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	page := filepath.Join(o.docsDir, "gitops.md")
	if err := os.WriteFile(page, []byte("# GitOps\n\n```yaml file=cm/argocd-cm.yaml\nstale\n```\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	cm, err := os.ReadFile(o.argocdCM)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(page); err != nil || string(got) != "# GitOps\n\n```yaml file=cm/argocd-cm.yaml\n"+string(cm)+"```\n" {
		t.Errorf("the page's file= block was not refreshed (%v):\n%s", err, got)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a page for a kind that no longer exists was kept: %v", err)
	}
	crds, err := loadCRDs(o.crdDir)
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(o.refDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		file := strings.ToLower(crd.Spec.Names.Kind) + ".md"
		if !strings.Contains(string(index), "("+file+")") {
			t.Errorf("index does not link %s", file)
		}
		page, err := os.ReadFile(filepath.Join(o.refDir, file))
		if err != nil {
			t.Fatal(err)
		}
		schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		for _, part := range []string{"spec", "status"} {
			for name := range schema.Properties[part].Properties {
				if !strings.Contains(string(page), "| `"+part+"."+name+"` |") {
					t.Errorf("%s: no row for %s.%s", file, part, name)
				}
			}
		}
		if !strings.Contains(string(page), "kind: "+crd.Spec.Names.Kind) {
			t.Errorf("%s: the sample is missing", file)
		}
	}
}
