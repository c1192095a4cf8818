package helmtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// With watchNamespaces the manager's rules become a Role and RoleBinding in
// each watched namespace, none elsewhere and no manager ClusterRole (every
// rule config/rbac/role.yaml holds today is on namespaced resources); the
// metrics checks keep their ClusterRole; the manager is told the namespaces.
func TestWatchNamespacesRBAC(t *testing.T) {
	r := renderSet(t, "watchNamespaces={team-a,team-b}")
	want := one[*rbacv1.ClusterRole](t, decodeFile(t, "config/rbac/role.yaml")).Rules

	var roleNS []string
	for _, role := range all[*rbacv1.Role](r.objects) {
		if role.Name == "mqtt-operator-leader-election" {
			continue
		}
		roleNS = append(roleNS, role.Namespace)
		if role.Name != "mqtt-operator-manager" {
			t.Errorf("unexpected Role %s/%s", role.Namespace, role.Name)
		}
		if d := cmp.Diff(want, role.Rules); d != "" {
			t.Errorf("Role %s/%s rules (-config/rbac/role.yaml +chart):\n%s", role.Namespace, role.Name, d)
		}
		rb := named[*rbacv1.RoleBinding](t, r.objects, role.Namespace, role.Name)
		wantRB := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}
		if rb.RoleRef != wantRB || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "mqtt-operator" || rb.Subjects[0].Namespace != namespace {
			t.Errorf("RoleBinding %s/%s: roleRef %+v subjects %+v", rb.Namespace, rb.Name, rb.RoleRef, rb.Subjects)
		}
	}
	if d := cmp.Diff([]string{"team-a", "team-b"}, roleNS); d != "" {
		t.Errorf("manager Roles in namespaces (-want +got):\n%s", d)
	}
	var clusterRoles []string
	for _, cr := range all[*rbacv1.ClusterRole](r.objects) {
		clusterRoles = append(clusterRoles, cr.Name)
	}
	if d := cmp.Diff([]string{"mqtt-operator-metrics-auth", "mqtt-operator-metrics-reader"}, clusterRoles); d != "" {
		t.Errorf("ClusterRoles (-want +got):\n%s", d)
	}
	args := one[*appsv1.Deployment](t, r.objects).Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--watch-namespaces=team-a,team-b") {
		t.Errorf("args %v lack --watch-namespaces=team-a,team-b", args)
	}
	if !strings.Contains(r.notes, "only in these namespaces: team-a, team-b") {
		t.Errorf("NOTES.txt does not name the watched namespaces:\n%s", r.notes)
	}
}

// scopeFixture is a role.yaml whose rules mix namespaced and cluster-scoped
// resources, also within one rule, as controller-gen writes them when
// markers share a group and verbs.
const scopeFixture = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
rules:
- apiGroups: [""]
  resources: [namespaces, secrets, services]
  verbs: [get, list, watch]
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
- apiGroups: [mqtt.mqttoperator.io]
  resources: [mqttusers/status, mqttacls/status]
  verbs: [get, patch, update]
- nonResourceURLs: [/healthz]
  verbs: [get]
`

// renderScopeFixture renders a copy of the chart whose generated rules are
// scopeFixture's, with watchNamespaces, and returns the rules of the manager's
// Role in team-a and of its ClusterRole.
func renderScopeFixture(t *testing.T) (role, cluster []rbacv1.PolicyRule) {
	t.Helper()
	dir := copyChart(t)
	if err := os.WriteFile(filepath.Join(dir, "files", "rbac", "role.yaml"), []byte(scopeFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := installChart(dir, mustParse(t, "watchNamespaces={team-a}"))
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, []byte(rel.Manifest))
	return named[*rbacv1.Role](t, objs, "team-a", "mqtt-operator-manager").Rules,
		named[*rbacv1.ClusterRole](t, objs, "", "mqtt-operator-manager").Rules
}

// The split of the rules by scope, on a fixture: cluster-scoped resources
// (taken out of a mixed rule too) and non-resource URLs go to the
// ClusterRole, the rest to the Roles, and nothing is lost.
func TestRBACScopeSplit(t *testing.T) {
	role, cluster := renderScopeFixture(t)
	get := []string{"get", "list", "watch"}
	wantRole := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets", "services"}, Verbs: get},
		{APIGroups: []string{"mqtt.mqttoperator.io"}, Resources: []string{"mqttusers/status", "mqttacls/status"}, Verbs: []string{"get", "patch", "update"}},
	}
	wantCluster := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: get},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}},
	}
	if d := cmp.Diff(wantRole, role); d != "" {
		t.Errorf("Role rules (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantCluster, cluster); d != "" {
		t.Errorf("ClusterRole rules (-want +got):\n%s", d)
	}
}

// checkRuleScopes asks the API server's discovery whether each resource the
// rules name is namespaced, and fails for a cluster-scoped one in a Role or
// a namespaced one in the ClusterRole of a namespace-scoped install: the
// chart's list of cluster-scoped resources must know every one that
// config/rbac/role.yaml names.
func checkRuleScopes(t *testing.T, cfg *rest.Config, role, cluster []rbacv1.PolicyRule) {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	namespaced := map[string]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			namespaced[gv.Group+"/"+r.Name] = r.Namespaced
		}
	}
	check := func(rules []rbacv1.PolicyRule, wantNamespaced bool, where string) {
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					key := g + "/" + strings.Split(res, "/")[0]
					ns, known := namespaced[key]
					if !known {
						t.Errorf("%s names %s, which the API server does not serve", where, key)
					} else if ns != wantNamespaced {
						t.Errorf("%s names %s, whose namespaced is %v: add it to clusterScoped in charts/mqtt-operator/templates/_helpers.tpl", where, key, ns)
					}
				}
			}
		}
	}
	check(role, true, "the manager's Role")
	check(cluster, false, "the manager's ClusterRole beside its Roles")
}
