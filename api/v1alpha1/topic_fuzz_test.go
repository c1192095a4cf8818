package v1alpha1

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdValidator checks an object against a generated CRD's OpenAPI schema and
// CEL rules the way the API server does on create, without an API server,
// so that a fuzzer can try many inputs a second.
type crdValidator struct {
	openapi    validation.SchemaValidator
	structural *schema.Structural
	cel        *cel.Validator
}

func loadCRD(t testing.TB, file string) *crdValidator {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", file))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	var internal apiextensionsinternal.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		t.Fatal(err)
	}
	openapi, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		t.Fatal(err)
	}
	structural, err := schema.NewStructural(&internal)
	if err != nil {
		t.Fatal(err)
	}
	return &crdValidator{openapi: openapi, structural: structural, cel: cel.NewValidator(structural, true, celconfig.PerCallLimit)}
}

func (v *crdValidator) validate(obj map[string]any) field.ErrorList {
	errs := validation.ValidateCustomResource(nil, obj, v.openapi)
	celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// wantTopicAccepted is the topic-filter rule the CRD must enforce on an
// MQTTACL rule, written independently of the CEL: an MQTT topic filter
// (wildcards only as whole levels, '#' only last) of 1 to 65535 bytes,
// without NUL or other control characters, without U+FFFD (what invalid
// UTF-8 becomes on its way into the API server), and not a shared
// subscription: EMQX authorizes $share/<group>/<filter> and $queue/<filter>
// against the filter alone, so a rule naming the prefix would never match.
func wantTopicAccepted(s string) bool {
	if s == "" || len(s) > 65535 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	if strings.HasPrefix(s, "$share/") || strings.HasPrefix(s, "$queue/") {
		return false
	}
	levels := strings.Split(s, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

func aclWithTopic(topic string) map[string]any {
	return map[string]any{
		"apiVersion": GroupVersion.String(), "kind": "MQTTACL",
		"metadata": map[string]any{"name": "acl", "namespace": "ns"},
		"spec": map[string]any{
			"brokerRef": map[string]any{"name": "emqx"},
			"subject":   map[string]any{"username": "alice"},
			"rules":     []any{map[string]any{"topic": topic, "action": "all", "permission": "allow"}},
		},
	}
}

// FuzzTopicFilterAdmission checks the MQTTACL CRD's topic validation (the
// OpenAPI limits and the CEL rules the API server runs) against
// wantTopicAccepted: every topic is accepted or refused by both.
func FuzzTopicFilterAdmission(f *testing.F) {
	v := loadCRD(f, "mqtt.mqttoperator.io_mqttacls.yaml")
	for _, s := range []string{"a/+/b/#", "#", "+", "+/+", "/", "//", "a//b/", "devices/${clientid}/%u/#", "$SYS/broker x/é",
		"", "a/#/b", "a/b#", "#/", "a/b+/c", "+x/y", "x+", "++", "a/\x00", "a\nb", "a\x7f", "tab\there",
		"$share/g/t", "$share/g/#", "$queue/t", "$share", "$sharex/t", "a/$share/t", "\ufffd", "ok\xffbad", "a/b/c/d/e/f/g/h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		// The API server's JSON decoder replaces invalid UTF-8 with U+FFFD
		// before any validation runs.
		topic = strings.ToValidUTF8(topic, "\ufffd")
		errs := v.validate(aclWithTopic(topic))
		if got, want := len(errs) == 0, wantTopicAccepted(topic); got != want {
			t.Fatalf("topic %q: admitted=%v, want %v (errors: %v)", topic, got, want, errs.ToAggregate())
		}
	})
}
