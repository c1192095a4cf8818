package v1alpha1_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Every kind is found the same ways: in `kubectl get mqtt`, by a short
// name mq<kind>, and with the same status columns.
func TestCRDsConsistent(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) != 4 {
		t.Fatalf("CRDs: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatal(err)
		}
		n := crd.Spec.Names
		t.Run(n.Kind, func(t *testing.T) {
			if !slices.Equal(n.Categories, []string{"mqtt"}) {
				t.Errorf("categories = %v, want [mqtt]", n.Categories)
			}
			short := "mq" + strings.TrimPrefix(n.Singular, "mqtt")
			if len(n.ShortNames) == 0 || n.ShortNames[0] != short {
				t.Errorf("shortNames = %v, want %q first", n.ShortNames, short)
			}
			var cols []string
			for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				cols = append(cols, c.Name)
			}
			for _, want := range []string{"Ready", "Reason", "Suspended", "Age"} {
				if !slices.Contains(cols, want) {
					t.Errorf("printer columns %v lack %s", cols, want)
				}
			}
		})
	}
}
