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

// envLicenseKey sets license.key. The operator points it at the mounted
// license Secret with a file:// URL, which EMQX Enterprise reads at start
// and re-reads periodically, so a renewed license needs no restart
// (docs/internals/managed.md, "Licensing").
const envLicenseKey = "EMQX_LICENSE__KEY"

// nodeNamePrefix is EMQX_NAME and cluster.dns.app: node names are
// emqx@<pod FQDN>. A prefix without a numeric suffix keeps the 4.x
// distribution port at 4370.
const nodeNamePrefix = "emqx"

// plugins4 is EMQX_LOADED_PLUGINS for 4.x. On an empty data volume the
// entrypoint writes data/loaded_plugins with only these, so management
// (REST API, /status) and dashboard must be in it next to emqx_auth_mnesia
// (docs/internals/managed.md, "What the entrypoints write").
var plugins4 = []string{"emqx_management", "emqx_dashboard", "emqx_retainer", "emqx_rule_engine", "emqx_auth_mnesia"}

// protectedVar is a variable, or a subtree of EMQX configuration, the
// operator relies on. Pattern segments are separated by "__" as in EMQX env
// names; "*" matches one segment.
type protectedVar struct {
	pattern string
	reason  string
}

const (
	reasonNode      = "it is part of the node name or cluster discovery, which must match the headless Service"
	reasonScript    = "the start script derives the node name from it"
	reasonAPI       = "the operator reaches the management API with the generated credentials on a fixed port"
	reasonAuth      = "built-in database authentication and authorization must stay on and default-deny"
	reasonPlugins4  = "it must load emqx_auth_mnesia together with emqx_management and emqx_dashboard"
	reasonDataDir   = "EMQX's data must stay on the data volume"
	reasonNodeRole5 = "every node of the StatefulSet is a core node holding the database"
	reasonLicense   = "set spec.managed.licenseSecretRef instead"
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
	{"EMQX_LICENSE", reasonLicense},
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

// validateEnv refuses user env (spec.managed.env) that would break what the
// operator relies on: API credentials and port, built-in database
// authentication and authorization, node name and cluster discovery. major is
// "4" or "5". Duplicate names are refused too, since the StatefulSet's env is
// a list keyed by name. The error is a *SpecError naming the variable.
func validateEnv(env []corev1.EnvVar, major string) error {
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

func secretRef(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret},
			Key:                  key,
		},
	}}
}

// containerEnv is the EMQX container's env: generated settings, then the
// user's (already validated).
func containerEnv(b *v1alpha1.MQTTBroker) []corev1.EnvVar {
	m := b.Spec.Managed
	creds := CredentialsSecretName(b)
	env := []corev1.EnvVar{
		fieldRef(EnvPodName, "metadata.name"),
		fieldRef(EnvPodNamespace, "metadata.namespace"),
		value(EnvHeadlessService, HeadlessServiceName(b)),
		// Always set: 4.x would otherwise use the pod name.
		value("EMQX_NAME", nodeNamePrefix),
		// Its own Secret: regenerating the API credentials never touches it
		// (docs/internals/managed.md, "The Erlang cookie").
		secretRef("EMQX_NODE__COOKIE", CookieSecretName(b), SecretKeyCookie),
	}
	if m.MajorVersion() == Major4 {
		env = append(env, env4()...)
		env = append(env, tlsEnv4(m.TLS != nil)...)
		env = append(env,
			// The default application only seeds the database; giving it
			// the operator's id and secret means no admin/public
			// application ever exists, and the bootstrap file re-applies
			// them (docs/internals/managed.md, "API credentials").
			secretRef("EMQX_MANAGEMENT__DEFAULT_APPLICATION__ID", creds, SecretKeyUsername),
			secretRef("EMQX_MANAGEMENT__DEFAULT_APPLICATION__SECRET", creds, SecretKeyPassword),
			// Port 18083 serves /api/v4 to dashboard users: no admin/public.
			secretRef("EMQX_DASHBOARD__DEFAULT_USER__PASSWORD", creds, SecretKeyDashboardPassword),
		)
	} else {
		env = append(env, env5()...)
		env = append(env, tlsEnv5(m.TLS != nil)...)
		// Dashboard users can log in and obtain API tokens: no admin/public.
		env = append(env, secretRef("EMQX_DASHBOARD__DEFAULT_PASSWORD", creds, SecretKeyDashboardPassword))
		if m.LicenseSecretRef != nil {
			env = append(env, value(envLicenseKey, hoconString("file://"+licensePath)))
		}
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
		// REST API and /status, pinned because probes and APIURL use it.
		value("EMQX_MANAGEMENT__LISTENER__HTTP", fmt.Sprint(PortManagement)),
		// Re-applied whenever emqx_management starts, unlike
		// default_application.
		value("EMQX_MANAGEMENT__BOOTSTRAP_APPS_FILE", bootstrapPath(Major4)),
		// Built-in database auth, default-deny.
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
// characters are quoted (docs/internals/managed.md, "HOCON values"). Env
// beats emqx.conf and runtime changes, which is wanted for these settings
// (the operator relies on them).
func env5() []corev1.EnvVar {
	return []corev1.EnvVar{
		// DNS SRV discovery; cluster.dns.name comes from the start script.
		value("EMQX_CLUSTER__DISCOVERY_STRATEGY", "dns"),
		value("EMQX_CLUSTER__DNS__RECORD_TYPE", "srv"),
		// REST API /api/v5 and /status, pinned because probes and APIURL use it.
		value("EMQX_DASHBOARD__LISTENERS__HTTP__BIND", fmt.Sprint(PortDashboard)),
		// Re-applied whenever emqx_management starts on a core node.
		value("EMQX_API_KEY__BOOTSTRAP_FILE", hoconString(bootstrapPath(Major5))),
		// An empty chain allows everybody; with the built-in database
		// authenticator unknown users are rejected.
		value("EMQX_AUTHENTICATION", "[{mechanism = password_based, backend = built_in_database, user_id_type = username, "+
			"password_hash_algorithm {name = sha256, salt_position = suffix}}]"),
		// The rules API answers 404 without a built_in_database source; the
		// file source after it only denies, it never ends in allow-all, and
		// whatever matches nothing is denied.
		value("EMQX_AUTHORIZATION__NO_MATCH", "deny"),
		value("EMQX_AUTHORIZATION__SOURCES", "[{type = built_in_database, enable = true}, "+
			"{type = file, enable = true, path = "+hoconString(aclPath)+"}]"),
	}
}

// tlsEnv4 points the 4.4 TLS listeners (listener.ssl.external,
// listener.wss.external) at the mounted certificate, or switches them off:
// an empty listen address removes a listener, as it does for the internal
// one. The certificate chain doubles as cacertfile, which only matters
// once a user turns on client-certificate verification.
func tlsEnv4(enabled bool) []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, l := range []string{"EMQX_LISTENER__SSL__EXTERNAL", "EMQX_LISTENER__WSS__EXTERNAL"} {
		if !enabled {
			env = append(env, value(l, ""))
			continue
		}
		env = append(env,
			value(l+"__CERTFILE", tlsCertPath),
			value(l+"__KEYFILE", tlsKeyPath),
			value(l+"__CACERTFILE", tlsCertPath))
	}
	return env
}

// tlsEnv5 does the same for the 5.x listeners ssl.default and wss.default.
func tlsEnv5(enabled bool) []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, l := range []string{"EMQX_LISTENERS__SSL__DEFAULT", "EMQX_LISTENERS__WSS__DEFAULT"} {
		if !enabled {
			env = append(env, value(l+"__ENABLE", "false"))
			continue
		}
		env = append(env,
			value(l+"__SSL_OPTIONS__CERTFILE", hoconString(tlsCertPath)),
			value(l+"__SSL_OPTIONS__KEYFILE", hoconString(tlsKeyPath)),
			value(l+"__SSL_OPTIONS__CACERTFILE", hoconString(tlsCertPath)))
	}
	return env
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
