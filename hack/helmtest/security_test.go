package helmtest

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// restrictedViolations evaluates a pod template against the latest
// `restricted` Pod Security Standard with the checks the admission plugin
// itself runs, and returns what it forbids ("" when allowed).
func restrictedViolations(t *testing.T, pod corev1.PodTemplateSpec) string {
	t.Helper()
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	res := policy.AggregateCheckResults(eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
	if res.Allowed {
		return ""
	}
	return res.ForbiddenReason() + ": " + res.ForbiddenDetail()
}

// The Deployment the chart renders by default, and kustomize's, meet the
// restricted Pod Security Standard. The security contexts can be overridden
// from values; overrides that break the standard are caught by the same check.
func TestPodSecurityRestricted(t *testing.T) {
	podOf := func(objs []client.Object) corev1.PodTemplateSpec {
		return one[*appsv1.Deployment](t, objs).Spec.Template
	}
	if v := restrictedViolations(t, podOf(render(t, nil).objects)); v != "" {
		t.Errorf("the chart's default Deployment violates restricted Pod Security: %s", v)
	}
	if v := restrictedViolations(t, podOf(kustomize(t, "config/default"))); v != "" {
		t.Errorf("kustomize build config/default's Deployment violates restricted Pod Security: %s", v)
	}

	for _, tc := range []struct {
		name, set string
		check     func(pod corev1.PodTemplateSpec) string // "" when the values took effect
		forbidden []string                                // what the policy names; none: allowed
	}{
		{
			name: "other user and group",
			set:  "podSecurityContext.runAsUser=1000,podSecurityContext.runAsGroup=3000,podSecurityContext.fsGroup=2000",
			check: func(p corev1.PodTemplateSpec) string {
				if sc := p.Spec.SecurityContext; *sc.RunAsUser != 1000 || *sc.RunAsGroup != 3000 || *sc.FSGroup != 2000 {
					return "user/group/fsGroup not applied"
				}
				return ""
			},
		},
		{
			name: "key removed with null",
			set:  "podSecurityContext.fsGroup=null,containerSecurityContext.readOnlyRootFilesystem=null",
			check: func(p corev1.PodTemplateSpec) string {
				if p.Spec.SecurityContext.FSGroup != nil || p.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem != nil {
					return "fsGroup or readOnlyRootFilesystem still set"
				}
				if p.Spec.SecurityContext.RunAsUser == nil {
					return "the other defaults were dropped too"
				}
				return ""
			},
		},
		{
			name: "container runs as root",
			set:  "podSecurityContext.runAsNonRoot=false,podSecurityContext.runAsUser=0",
			check: func(p corev1.PodTemplateSpec) string {
				if *p.Spec.SecurityContext.RunAsUser != 0 {
					return "runAsUser not applied"
				}
				return ""
			},
			forbidden: []string{"runAsNonRoot != true", "runAsUser=0"},
		},
		{
			name: "privilege escalation and capabilities",
			set:  "containerSecurityContext.allowPrivilegeEscalation=true,containerSecurityContext.capabilities=null",
			check: func(p corev1.PodTemplateSpec) string {
				if sc := p.Spec.Containers[0].SecurityContext; !*sc.AllowPrivilegeEscalation || sc.Capabilities != nil {
					return "container securityContext not applied"
				}
				return ""
			},
			forbidden: []string{"allowPrivilegeEscalation != false", "unrestricted capabilities"},
		},
		{
			name: "no seccomp profile",
			set:  "podSecurityContext.seccompProfile=null",
			check: func(p corev1.PodTemplateSpec) string {
				if p.Spec.SecurityContext.SeccompProfile != nil {
					return "seccompProfile still set"
				}
				return ""
			},
			forbidden: []string{"seccompProfile"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := podOf(renderSet(t, tc.set).objects)
			if msg := tc.check(pod); msg != "" {
				t.Fatalf("--set %s: %s: %+v", tc.set, msg, pod.Spec.SecurityContext)
			}
			v := restrictedViolations(t, pod)
			if len(tc.forbidden) == 0 && v != "" {
				t.Errorf("--set %s violates restricted Pod Security: %s", tc.set, v)
			}
			for _, f := range tc.forbidden {
				if !strings.Contains(v, f) {
					t.Errorf("--set %s: restricted Pod Security should forbid %q, says %q", tc.set, f, v)
				}
			}
		})
	}
}
