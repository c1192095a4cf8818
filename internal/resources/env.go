package resources

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Variables the start script reads (see configmap.go). They carry no EMQX_
// prefix, so EMQX never reads them as configuration.
const (
	EnvPodName         = "POD_NAME"
	EnvPodNamespace    = "POD_NAMESPACE"
	EnvHeadlessService = "HEADLESS_SERVICE"
)

// EnvLicenseKey is the EMQX 5.9+ license; without it such a broker runs a
// single node only (pitfall 9).
const EnvLicenseKey = "EMQX_LICENSE__KEY"

// nodeNamePrefix is EMQX_NAME and cluster.dns.app: node names are
// emqx@<pod FQDN>. A prefix without a numeric suffix keeps the 4.x
// distribution port at 4370.
const nodeNamePrefix = "emqx"

// plugins4 is EMQX_LOADED_PLUGINS for 4.x. On an empty data volume the list
// replaces the default plugins, so management (REST API, /status) and
// dashboard must be in it next to emqx_auth_mnesia (pitfalls 3 and 4).
var plugins4 = []string{"emqx_management", "emqx_dashboard", "emqx_retainer", "emqx_rule_engine", "emqx_auth_mnesia"}

// protectedVar is a variable, or a subtree of EMQX configuration, the
// operator relies on. Pattern segments are separated by "__" as in EMQX env
// names; "*" matches one segment.
type protectedVar struct {
	pattern string
	reason  string
}

const (
	reasonNode      = "it is part of the node name or cluster discovery, which must match the headless Service (pitfall 5)"
	reasonScript    = "the start script derives the node name from it"
	reasonAPI       = "the operator reaches the management API with the generated credentials on a fixed port (pitfalls 1 and 2)"
	reasonAuth      = "built-in database authentication and authorization must stay on and default-deny (pitfall 3)"
	reasonPlugins4  = "it must load emqx_auth_mnesia together with emqx_management and emqx_dashboard (pitfalls 3 and 4)"
	reasonDataDir   = "EMQX's data must stay on the data volume"
	reasonNodeRole5 = "every node of the StatefulSet is a core node holding the database"
)

var protectedCommon = []protectedVar{
	{EnvPodName, reasonScript},
	{EnvPodNamespace, reasonScript},
	{EnvHeadlessService, reasonScript},
	{"EMQX_NAME", reasonNode},
	{"EMQX_HOST", reasonNode},
	{"EMQX_NODE_NAME", reasonNode},
	{"EMQX_NODE__NAME", reasonNode},
	{"EMQX_NODE__COOKIE", reasonNode},
	{"EMQX_NODE__DATA_DIR", reasonDataDir},
	{"EMQX_CLUSTER__NAME", reasonNode},
	{"EMQX_CLUSTER__DISCOVERY", reasonNode},
	{"EMQX_CLUSTER__DISCOVERY_STRATEGY", reasonNode},
	{"EMQX_CLUSTER__DNS", reasonNode},
	{"EMQX_CLUSTER__K8S", reasonNode},
	{"EMQX_CLUSTER__STATIC", reasonNode},
	{"EMQX_CLUSTER__ETCD", reasonNode},
	{"EMQX_CLUSTER__MCAST", reasonNode},
}

var protected4 = []protectedVar{
	{"EMQX_MANAGEMENT__BOOTSTRAP_APPS_FILE", reasonAPI},
	{"EMQX_MANAGEMENT__DEFAULT_APPLICATION", reasonAPI},
	{"EMQX_MANAGEMENT__LISTENER__HTTP", reasonAPI},
	{"EMQX_LOADED_PLUGINS", reasonPlugins4},
	{"EMQX_ALLOW_ANONYMOUS", reasonAuth},
	{"EMQX_ACL_NOMATCH", reasonAuth},
	{"EMQX_ACL_FILE", reasonAuth},
	{"EMQX_AUTH_ORDER", reasonAuth},
	{"EMQX_ACL_ORDER", reasonAuth},
	{"EMQX_ZONE__*__ALLOW_ANONYMOUS", reasonAuth},
	{"EMQX_ZONE__*__ENABLE_ACL", reasonAuth},
	{"EMQX_ZONE__*__ACL_NOMATCH", reasonAuth},
	{"EMQX_ZONE__*__BYPASS_AUTH_PLUGINS", reasonAuth},
}

var protected5 = []protectedVar{
	{"EMQX_API_KEY__BOOTSTRAP_FILE", reasonAPI},
	{"EMQX_DASHBOARD__LISTENERS__HTTP", reasonAPI},
	{"EMQX_AUTHENTICATION", reasonAuth},
	{"EMQX_AUTHORIZATION__SOURCES", reasonAuth},
	{"EMQX_AUTHORIZATION__NO_MATCH", reasonAuth},
	{"EMQX_LISTENERS__*__*__ENABLE_AUTHN", reasonAuth},
	{"EMQX_LISTENERS__*__*__AUTHENTICATION", reasonAuth},
	{"EMQX_NODE__ROLE", reasonNodeRole5},
}

// protectedReason returns why name may not be set by users, or "".
//
// A name is refused when it equals a protected pattern, lies below it
// (EMQX_AUTHENTICATION__1__BACKEND) or above it: 5.x accepts whole HOCON
// objects in env, so EMQX_AUTHORIZATION='{no_match = allow}' would override
// a protected key too. Names are compared upper-cased.
func protectedReason(name, major string) string {
	lists := [][]protectedVar{protectedCommon}
	switch major {
	case Major4:
		lists = append(lists, protected4)
	case Major5:
		lists = append(lists, protected5)
	}
	segs := strings.Split(strings.ToUpper(name), "__")
	for _, list := range lists {
		for _, p := range list {
			if segmentsOverlap(segs, strings.Split(p.pattern, "__")) {
				return p.reason
			}
		}
	}
	return ""
}

// segmentsOverlap reports whether one path is a prefix of the other.
func segmentsOverlap(name, pattern []string) bool {
	n := min(len(name), len(pattern))
	for i := range n {
		if pattern[i] != "*" && pattern[i] != name[i] {
			return false
		}
	}
	return true
}

// ValidateEnv refuses user env (spec.managed.env) that would break what the
// operator relies on: API credentials and port, built-in database
// authentication and authorization, node name and cluster discovery. major is
// "4" or "5". Duplicate names are refused too, since the StatefulSet's env is
// a list keyed by name. The error is a *SpecError naming the variable.
func ValidateEnv(env []corev1.EnvVar, major string) error {
	seen := make(map[string]int, len(env))
	for i, e := range env {
		field := fmt.Sprintf("spec.managed.env[%d]", i)
		if e.Name == "" {
			return specErrorf(field, "name must not be empty")
		}
		if j, dup := seen[e.Name]; dup {
			return specErrorf(field, "%s is already set at spec.managed.env[%d]", e.Name, j)
		}
		seen[e.Name] = i
		if reason := protectedReason(e.Name, major); reason != "" {
			return specErrorf(field, "%s is managed by the operator and cannot be set: %s", e.Name, reason)
		}
	}
	return nil
}

// mergeEnv puts user env after the generated variables. A user variable
// replaces the generated one of the same name; it goes to the end, so its
// $(VAR) references can use every generated variable.
func mergeEnv(generated, user []corev1.EnvVar) []corev1.EnvVar {
	overridden := make(map[string]bool, len(user))
	for _, e := range user {
		overridden[e.Name] = true
	}
	out := make([]corev1.EnvVar, 0, len(generated)+len(user))
	for _, e := range generated {
		if !overridden[e.Name] {
			out = append(out, e)
		}
	}
	for _, e := range user {
		out = append(out, *e.DeepCopy())
	}
	return out
}

func value(name, v string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: v} }

func fieldRef(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path},
	}}
}

func secretRef(b *v1alpha1.MQTTBroker, name, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: CredentialsSecretName(b)},
			Key:                  key,
		},
	}}
}

// containerEnv is the EMQX container's env: generated settings, then the
// user's (already validated).
func containerEnv(b *v1alpha1.MQTTBroker) []corev1.EnvVar {
	m := b.Spec.Managed
	env := []corev1.EnvVar{
		fieldRef(EnvPodName, "metadata.name"),
		fieldRef(EnvPodNamespace, "metadata.namespace"),
		value(EnvHeadlessService, HeadlessServiceName(b)),
		// Always set: 4.x would otherwise use the pod name (pitfall 5).
		value("EMQX_NAME", nodeNamePrefix),
		secretRef(b, "EMQX_NODE__COOKIE", SecretKeyNodeCookie),
	}
	if m.MajorVersion() == Major4 {
		env = append(env, env4()...)
		env = append(env,
			// The default application only seeds the database (pitfall 1);
			// giving it the operator's id and secret means no admin/public
			// application ever exists, and the bootstrap file re-applies them.
			secretRef(b, "EMQX_MANAGEMENT__DEFAULT_APPLICATION__ID", SecretKeyUsername),
			secretRef(b, "EMQX_MANAGEMENT__DEFAULT_APPLICATION__SECRET", SecretKeyPassword),
			// Port 18083 serves /api/v4 to dashboard users: no admin/public.
			secretRef(b, "EMQX_DASHBOARD__DEFAULT_USER__PASSWORD", SecretKeyDashboardPassword),
		)
	} else {
		env = append(env, env5()...)
		// Dashboard users can log in and obtain API tokens: no admin/public.
		env = append(env, secretRef(b, "EMQX_DASHBOARD__DEFAULT_PASSWORD", SecretKeyDashboardPassword))
	}
	return mergeEnv(env, m.Env)
}

// env4 is the 4.x configuration (cuttlefish: raw values, no quoting).
func env4() []corev1.EnvVar {
	return []corev1.EnvVar{
		// DNS SRV discovery; cluster.dns.name comes from the start script.
		value("EMQX_CLUSTER__DISCOVERY", "dns"),
		value("EMQX_CLUSTER__DNS__TYPE", "srv"),
		value("EMQX_CLUSTER__DNS__APP", nodeNamePrefix), // must equal EMQX_NAME
		// REST API and /status (pitfall 2), pinned because probes and APIURL use it.
		value("EMQX_MANAGEMENT__LISTENER__HTTP", fmt.Sprint(PortManagement)),
		// Re-applied at every start, unlike default_application (pitfall 1).
		value("EMQX_MANAGEMENT__BOOTSTRAP_APPS_FILE", bootstrapPath(Major4)),
		// Built-in database auth, default-deny (pitfalls 3 and 4).
		value("EMQX_LOADED_PLUGINS", strings.Join(plugins4, ",")),
		value("EMQX_ALLOW_ANONYMOUS", "false"),
		value("EMQX_ACL_NOMATCH", "deny"),
		// Replaces etc/acl.conf, whose trailing {allow, all}. would run after
		// the mnesia ACL and allow every topic without a rule.
		value("EMQX_ACL_FILE", aclPath),
		// The 127.0.0.1:11883 listener sits in the "internal" zone, which
		// allows anonymous clients and skips ACL; `kubectl port-forward`
		// would reach it. Users may re-enable it.
		value("EMQX_LISTENER__TCP__INTERNAL", ""),
		value("EMQX_LOG__TO", "console"),
	}
}

// env5 is the 5.x configuration. Values are HOCON: strings with special
// characters are quoted (pitfall 10). Env beats emqx.conf and runtime
// changes, which is wanted for these settings (the operator relies on them).
func env5() []corev1.EnvVar {
	return []corev1.EnvVar{
		// DNS SRV discovery; cluster.dns.name comes from the start script.
		value("EMQX_CLUSTER__DISCOVERY_STRATEGY", "dns"),
		value("EMQX_CLUSTER__DNS__RECORD_TYPE", "srv"),
		// REST API /api/v5 and /status (pitfall 2), pinned because probes and APIURL use it.
		value("EMQX_DASHBOARD__LISTENERS__HTTP__BIND", fmt.Sprint(PortDashboard)),
		// Re-applied at every start of a core node (pitfall 1).
		value("EMQX_API_KEY__BOOTSTRAP_FILE", hoconString(bootstrapPath(Major5))),
		// An empty chain allows everybody; with the built-in database
		// authenticator unknown users are rejected (pitfall 3).
		value("EMQX_AUTHENTICATION", "[{mechanism = password_based, backend = built_in_database, user_id_type = username, "+
			"password_hash_algorithm {name = sha256, salt_position = suffix}}]"),
		// The rules API answers 404 without a built_in_database source; the
		// file source after it only denies, it never ends in allow-all, and
		// whatever matches nothing is denied (pitfall 3).
		value("EMQX_AUTHORIZATION__NO_MATCH", "deny"),
		value("EMQX_AUTHORIZATION__SOURCES", "[{type = built_in_database, enable = true}, "+
			"{type = file, enable = true, path = "+hoconString(aclPath)+"}]"),
	}
}

// hoconString quotes s as a HOCON (JSON) string.
func hoconString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// hasEnv reports whether env sets name.
func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}
