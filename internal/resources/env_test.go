package resources

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestValidateEnvRefusesProtected(t *testing.T) {
	cases := []struct {
		major string
		name  string
	}{
		// node name and cluster discovery, both versions
		{Major4, "EMQX_NAME"}, {Major5, "EMQX_NAME"},
		{Major4, "EMQX_HOST"}, {Major5, "EMQX_NODE__NAME"}, {Major5, "EMQX_NODE_NAME"},
		{Major4, "EMQX_NODE__COOKIE"}, {Major5, "EMQX_NODE"},
		{Major4, "EMQX_CLUSTER__DISCOVERY"}, {Major4, "EMQX_CLUSTER__DNS__NAME"}, {Major4, "EMQX_CLUSTER__DNS__APP"},
		{Major5, "EMQX_CLUSTER__DISCOVERY_STRATEGY"}, {Major5, "EMQX_CLUSTER__DNS__RECORD_TYPE"},
		{Major5, "EMQX_CLUSTER__STATIC__SEEDS"}, {Major5, "EMQX_CLUSTER"},
		{Major4, EnvPodName}, {Major5, EnvHeadlessService}, {Major5, EnvPodNamespace},
		{Major5, "EMQX_NODE__DATA_DIR"},
		// API credentials and port
		{Major4, "EMQX_MANAGEMENT__BOOTSTRAP_APPS_FILE"},
		{Major4, "EMQX_MANAGEMENT__DEFAULT_APPLICATION__SECRET"},
		{Major4, "EMQX_MANAGEMENT__LISTENER__HTTP"},
		{Major5, "EMQX_API_KEY__BOOTSTRAP_FILE"}, {Major5, "EMQX_API_KEY"},
		{Major5, "EMQX_DASHBOARD__LISTENERS__HTTP__BIND"},
		// authentication and authorization
		{Major4, "EMQX_LOADED_PLUGINS"}, {Major4, "EMQX_ALLOW_ANONYMOUS"}, {Major4, "EMQX_ACL_NOMATCH"},
		{Major4, "EMQX_ACL_FILE"}, {Major4, "EMQX_ACL_ORDER"}, {Major4, "EMQX_ZONE__EXTERNAL__ALLOW_ANONYMOUS"},
		{Major4, "EMQX_ZONE__EXTERNAL__BYPASS_AUTH_PLUGINS"}, {Major4, "emqx_allow_anonymous"},
		{Major5, "EMQX_AUTHENTICATION"}, {Major5, "EMQX_AUTHENTICATION__1__BACKEND"},
		{Major5, "EMQX_AUTHORIZATION"}, {Major5, "EMQX_AUTHORIZATION__NO_MATCH"},
		{Major5, "EMQX_AUTHORIZATION__SOURCES"}, {Major5, "EMQX_AUTHORIZATION__SOURCES__1__TYPE"},
		{Major5, "EMQX_LISTENERS__TCP__DEFAULT__ENABLE_AUTHN"}, {Major5, "EMQX_LISTENERS__TCP__DEFAULT"},
		{Major5, "EMQX_LISTENERS"}, {Major5, "EMQX_NODE__ROLE"},
		// the license comes from spec.managed.licenseSecretRef
		{Major5, "EMQX_LICENSE__KEY"}, {Major5, "EMQX_LICENSE"},
	}
	for _, tc := range cases {
		t.Run(tc.major+"/"+tc.name, func(t *testing.T) {
			env := []corev1.EnvVar{{Name: "EMQX_LOG__LEVEL", Value: "info"}, {Name: tc.name, Value: "x"}}
			err := validateEnv(env, tc.major)
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("validateEnv = %v, want a *SpecError", err)
			}
			if se.Field != "spec.managed.env[1]" || !strings.Contains(se.Message, tc.name) {
				t.Errorf("error %q must name spec.managed.env[1] and %s", err, tc.name)
			}
		})
	}
}

func TestValidateEnvAllows(t *testing.T) {
	cases := []struct {
		major string
		name  string
	}{
		{Major4, "EMQX_LOG__LEVEL"}, {Major4, "EMQX_LOG__TO"}, {Major4, "EMQX_LISTENER__TCP__INTERNAL"},
		{Major4, "EMQX_CLUSTER__AUTOCLEAN"}, {Major4, "EMQX_NODE__PROCESS_LIMIT"}, {Major4, "EMQX_ACL_CACHE_TTL"},
		{Major4, "EMQX_DASHBOARD__DEFAULT_USER__PASSWORD"}, {Major4, "EMQX_AUTH__MNESIA__PASSWORD_HASH"},
		{Major5, "EMQX_LISTENERS__TCP__DEFAULT__BIND"}, {Major5, "EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE"},
		{Major5, "EMQX_AUTHORIZATION__CACHE__ENABLE"}, {Major5, "EMQX_AUTHORIZATION__DENY_ACTION"},
		{Major5, "EMQX_DASHBOARD__DEFAULT_PASSWORD"}, {Major5, "EMQX_CLUSTER__AUTOCLEAN"},
		{Major5, "EMQX_NODE__PROCESS_LIMIT"}, {Major5, "MY_APP_SETTING"},
		// a 4.x-only name means nothing to 5.x and the other way round
		{Major5, "EMQX_ALLOW_ANONYMOUS"}, {Major4, "EMQX_AUTHORIZATION__NO_MATCH"},
	}
	for _, tc := range cases {
		t.Run(tc.major+"/"+tc.name, func(t *testing.T) {
			if err := validateEnv([]corev1.EnvVar{{Name: tc.name, Value: "x"}}, tc.major); err != nil {
				t.Errorf("validateEnv: %v", err)
			}
		})
	}
}

func TestValidateEnvDuplicates(t *testing.T) {
	err := validateEnv([]corev1.EnvVar{{Name: "A"}, {Name: "B"}, {Name: "A"}}, Major5)
	if !IsSpecError(err) || !strings.Contains(err.Error(), "spec.managed.env[2]") || !strings.Contains(err.Error(), "env[0]") {
		t.Errorf("validateEnv = %v, want a duplicate error naming both indexes", err)
	}
}

func TestBuildRefusesProtectedEnv(t *testing.T) {
	b := testBroker(testVersion4, 1, false)
	b.Spec.Managed.Env = []corev1.EnvVar{{Name: "EMQX_ACL_NOMATCH", Value: "allow"}}
	_, err := Build(testInput(b))
	if !IsSpecError(err) || !strings.Contains(err.Error(), "EMQX_ACL_NOMATCH") {
		t.Fatalf("Build = %v, want a *SpecError naming EMQX_ACL_NOMATCH", err)
	}
}

func TestUserEnvMergedLast(t *testing.T) {
	for _, version := range []string{testVersion4, testVersion5} {
		t.Run(version, func(t *testing.T) {
			plain := emqxContainer(t, mustBuild(t, testBroker(version, 3, false))).Env

			b := testBroker(version, 3, false)
			overridden := "EMQX_DASHBOARD__DEFAULT_PASSWORD"
			if version == testVersion4 {
				overridden = "EMQX_LOG__TO"
			}
			user := []corev1.EnvVar{
				{Name: "EMQX_LOG__LEVEL", Value: "debug"},
				{Name: overridden, Value: "from-user"},
				{Name: "GREETING", Value: "node $(POD_NAME)"},
			}
			b.Spec.Managed.Env = user
			got := emqxContainer(t, mustBuild(t, b)).Env

			var want []corev1.EnvVar
			for _, e := range plain {
				if e.Name != overridden {
					want = append(want, e)
				}
			}
			want = append(want, user...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if _, ok := findEnv(plain, overridden); !ok {
				t.Fatalf("test setup: %s is not generated", overridden)
			}
			// The builder must not alias the spec.
			got[len(got)-1].Value = "changed"
			if b.Spec.Managed.Env[2].Value != "node $(POD_NAME)" {
				t.Error("the built env shares memory with the spec")
			}
		})
	}
}
