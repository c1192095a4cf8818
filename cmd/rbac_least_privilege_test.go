package main

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// secretVerbs is every verb the operator holds on Secrets, with the reason
// it needs it. A verb granted without a row here, or a row for a verb not
// granted, fails TestSecretVerbsHaveReasons: adding a permission on Secrets
// takes a written reason.
var secretVerbs = map[string]string{
	"get": "read, uncached, the Secrets a spec references: user passwords (passwordSecretRef), " +
		"a broker's API credentials and CA bundle; and the generated credentials Secret before writing it",
	"list": "fill the manager's Secret cache, which holds only Secrets labelled mqtt.mqttoperator.io/watch=true " +
		"(RBAC cannot restrict by label; the cache's label selector keeps other Secrets out of memory)",
	"watch":  "see a password rotation or a changed API credential in a watched Secret at once",
	"create": "generate <user>-mqtt-credentials for an MQTTUser without passwordSecretRef, and a managed broker's API credentials",
	"patch": "refresh the connection details in a generated Secret, take over a generated-name Secret whose owner is gone, " +
		"and add the watch label to a referenced Secret; server-side apply of a managed broker's credentials",
	"delete": "revoke a deleted MQTTUser's generated credentials in its finalizer, and remove a deleted managed broker's credentials",
}

func readRole(t *testing.T, name string) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "config", "rbac", name))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole // a Role has the same rules field
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(role.Rules) == 0 {
		t.Fatalf("%s has no rules", name)
	}
	return role.Rules
}

// roleFiles lists the files of config/rbac that hold a Role or ClusterRole.
func roleFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "config", "rbac", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(data, &meta); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if meta.Kind == "Role" || meta.Kind == "ClusterRole" {
			out = append(out, filepath.Base(p))
		}
	}
	if !slices.Contains(out, "role.yaml") {
		t.Fatalf("no role.yaml among %v", out)
	}
	return out
}

// No role in config/rbac (the generated one, leader election, metrics
// authentication and the metrics reader) grants anything by wildcard, or
// the verbs that let a holder grant itself more (escalate, bind,
// impersonate), or access to RBAC objects.
func TestRBACHasNoWildcards(t *testing.T) {
	for _, file := range roleFiles(t) {
		for i, r := range readRole(t, file) {
			for field, values := range map[string][]string{
				"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs,
				"resourceNames": r.ResourceNames, "nonResourceURLs": r.NonResourceURLs,
			} {
				for _, v := range values {
					if v == rbacv1.VerbAll || v == rbacv1.ResourceAll || v == rbacv1.APIGroupAll || (field == "nonResourceURLs" && filepath.Base(v) == "*") {
						t.Errorf("%s rule %d: %s contains the wildcard %q", file, i, field, v)
					}
				}
			}
			for _, v := range r.Verbs {
				if v == "escalate" || v == "bind" || v == "impersonate" {
					t.Errorf("%s rule %d grants %q on %v", file, i, v, r.Resources)
				}
			}
			for _, res := range r.Resources {
				if slices.Contains(r.APIGroups, rbacv1.GroupName) {
					t.Errorf("%s rule %d grants access to RBAC resource %q", file, i, res)
				}
			}
		}
	}
}

// Every verb on Secrets has its reason in secretVerbs, and the table lists
// nothing that is not granted.
func TestSecretVerbsHaveReasons(t *testing.T) {
	var granted []string
	for _, r := range readRole(t, "role.yaml") {
		if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "secrets") {
			if len(r.ResourceNames) > 0 {
				continue // narrower than the kind; not the case today
			}
			for _, v := range r.Verbs {
				if !slices.Contains(granted, v) {
					granted = append(granted, v)
				}
			}
		}
	}
	var explained []string
	for v, reason := range secretVerbs {
		if reason == "" {
			t.Errorf("verb %q has an empty reason", v)
		}
		explained = append(explained, v)
	}
	sort.Strings(granted)
	sort.Strings(explained)
	if d := cmp.Diff(explained, granted); d != "" {
		t.Errorf("verbs on Secrets (-explained in secretVerbs +granted by config/rbac/role.yaml):\n%s\n"+
			"drop the verb from the +kubebuilder:rbac marker, or add it to secretVerbs with the reason", d)
	}
	for _, v := range granted {
		t.Logf("secrets %-6s %s", v, secretVerbs[v])
	}
}
