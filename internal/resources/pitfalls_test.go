package resources

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Each test here checks one fact of docs/internals/managed.md across the
// whole version × replicas × storage matrix.

// forMatrix runs f for every matrix case.
func forMatrix(t *testing.T, f func(t *testing.T, c matrixCase, objs *Objects)) {
	for _, c := range matrix() {
		t.Run(c.name, func(t *testing.T) {
			f(t, c, mustBuild(t, testBroker(c.version, c.replicas, c.storage)))
		})
	}
}

func major(c matrixCase) string { return c.version[:1] }

// API credentials come from a bootstrap file that is mounted and referenced
// by the version's env var ("API credentials").
func TestBootstrapFileMountedAndReferenced(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		ctr := emqxContainer(t, objs)
		var file string
		switch major(c) {
		case Major4:
			file = mustEnvValue(t, ctr, "EMQX_MANAGEMENT__BOOTSTRAP_APPS_FILE")
			if _, ok := findEnv(ctr.Env, "EMQX_API_KEY__BOOTSTRAP_FILE"); ok {
				t.Error("4.x must not carry the 5.x bootstrap variable")
			}
		case Major5:
			raw := mustEnvValue(t, ctr, "EMQX_API_KEY__BOOTSTRAP_FILE")
			// A HOCON value: the path must be quoted ("HOCON values").
			unquoted, err := strconv.Unquote(raw)
			if err != nil {
				t.Fatalf("EMQX_API_KEY__BOOTSTRAP_FILE = %s, want a quoted string: %v", raw, err)
			}
			file = unquoted
		}
		mount, ok := mountFor(ctr, file)
		if !ok {
			t.Fatalf("no volume mounted at the bootstrap file %s", file)
		}
		if !mount.ReadOnly || mount.SubPath != "" {
			t.Errorf("bootstrap mount = %+v, want a read-only directory mount", mount)
		}
		vol, ok := findVolume(objs, mount.Name)
		if !ok || vol.Secret == nil {
			t.Fatalf("mount %s is not backed by a Secret volume: %+v", mount.Name, vol)
		}
		if vol.Secret.SecretName != objs.Secret.Name {
			t.Errorf("bootstrap volume uses Secret %s, want %s", vol.Secret.SecretName, objs.Secret.Name)
		}
		if mode := vol.Secret.DefaultMode; mode == nil || *mode&0o040 == 0 {
			t.Errorf("bootstrap file mode %v is not readable by fsGroup 1000", mode)
		}
		rel := strings.TrimPrefix(file, strings.TrimSuffix(mount.MountPath, "/")+"/")
		var key string
		for _, it := range vol.Secret.Items {
			if it.Path == rel {
				key = it.Key
			}
		}
		if key == "" {
			t.Fatalf("Secret volume items %+v do not project %s", vol.Secret.Items, rel)
		}
		content := string(objs.Secret.Data[key])
		want := testCredentials.APIKey + ":" + testCredentials.APISecret + "\n"
		if content != want {
			t.Errorf("bootstrap file = %q, want %q", content, want)
		}
		// 4.4 refuses to start emqx_management on a line it cannot parse,
		// including an empty one.
		if !regexp.MustCompile(`\A([^:\n]+:[^:\n]+\n)+\z`).MatchString(content) {
			t.Errorf("bootstrap file %q is not key:secret lines", content)
		}
		if objs.Secret.Type != corev1.SecretTypeBasicAuth ||
			string(objs.Secret.Data[SecretKeyUsername]) != testCredentials.APIKey ||
			string(objs.Secret.Data[SecretKeyPassword]) != testCredentials.APISecret {
			t.Errorf("Secret must be basic-auth with username/password = the API key/secret, got type %s", objs.Secret.Type)
		}
	})
}

// No well-known admin/public anywhere ("API credentials").
func TestNoDefaultAdminPasswords(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		ctr := emqxContainer(t, objs)
		names := []string{"EMQX_DASHBOARD__DEFAULT_PASSWORD"}
		if major(c) == Major4 {
			names = []string{"EMQX_DASHBOARD__DEFAULT_USER__PASSWORD",
				"EMQX_MANAGEMENT__DEFAULT_APPLICATION__ID", "EMQX_MANAGEMENT__DEFAULT_APPLICATION__SECRET"}
		}
		for _, n := range names {
			e, ok := findEnv(ctr.Env, n)
			if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != objs.Secret.Name {
				t.Errorf("%s must come from the credentials Secret, got %+v", n, e)
			}
		}
	})
}

// Built-in database authentication and authorization, default-deny
// ("Default deny").
func TestDefaultDeny(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		ctr := emqxContainer(t, objs)
		var aclFilePath string
		switch major(c) {
		case Major4:
			plugins := strings.Split(mustEnvValue(t, ctr, "EMQX_LOADED_PLUGINS"), ",")
			// The list replaces the defaults on a fresh volume ("What the
			// entrypoints write").
			for _, p := range []string{"emqx_auth_mnesia", "emqx_management", "emqx_dashboard"} {
				if !contains(plugins, p) {
					t.Errorf("EMQX_LOADED_PLUGINS %v lacks %s", plugins, p)
				}
			}
			if v := mustEnvValue(t, ctr, "EMQX_ALLOW_ANONYMOUS"); v != "false" {
				t.Errorf("EMQX_ALLOW_ANONYMOUS = %q", v)
			}
			if v := mustEnvValue(t, ctr, "EMQX_ACL_NOMATCH"); v != "deny" {
				t.Errorf("EMQX_ACL_NOMATCH = %q", v)
			}
			aclFilePath = mustEnvValue(t, ctr, "EMQX_ACL_FILE")
		case Major5:
			authn := mustEnvValue(t, ctr, "EMQX_AUTHENTICATION")
			for _, want := range []string{"mechanism = password_based", "backend = built_in_database", "user_id_type = username"} {
				if !strings.Contains(authn, want) {
					t.Errorf("EMQX_AUTHENTICATION %q lacks %q", authn, want)
				}
			}
			if v := mustEnvValue(t, ctr, "EMQX_AUTHORIZATION__NO_MATCH"); v != "deny" {
				t.Errorf("EMQX_AUTHORIZATION__NO_MATCH = %q", v)
			}
			sources := mustEnvValue(t, ctr, "EMQX_AUTHORIZATION__SOURCES")
			if !strings.HasPrefix(sources, "[{type = built_in_database, enable = true}") {
				t.Errorf("the built-in database source must come first: %s", sources)
			}
			m := regexp.MustCompile(`type = file, enable = true, path = ("[^"]*")`).FindStringSubmatch(sources)
			if m == nil {
				t.Fatalf("no file source in %s", sources)
			}
			p, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatal(err)
			}
			aclFilePath = p
		}
		// The ACL file is mounted from the ConfigMap and never allows all.
		mount, ok := mountFor(ctr, aclFilePath)
		if !ok {
			t.Fatalf("ACL file %s is not mounted", aclFilePath)
		}
		vol, _ := findVolume(objs, mount.Name)
		if vol.ConfigMap == nil || vol.ConfigMap.Name != objs.ConfigMap.Name {
			t.Fatalf("ACL file's volume %+v is not the ConfigMap", vol)
		}
		acl, ok := objs.ConfigMap.Data[path.Base(aclFilePath)]
		if !ok {
			t.Fatalf("ConfigMap has no key %s", path.Base(aclFilePath))
		}
		var rules []string
		for _, line := range strings.Split(acl, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "%") {
				rules = append(rules, line)
			}
		}
		if len(rules) == 0 {
			t.Fatal("ACL file has no rules")
		}
		for _, r := range rules {
			if regexp.MustCompile(`\{\s*allow\s*,\s*all\s*\}`).MatchString(r) || !strings.HasPrefix(r, "{deny,") {
				t.Errorf("ACL file must only deny, found %q", r)
			}
		}
	})
}

// Stable node names through the headless Service ("Node names and
// discovery").
func TestHeadlessService(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		svc := objs.HeadlessService
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("clusterIP = %q, want None", svc.Spec.ClusterIP)
		}
		if !svc.Spec.PublishNotReadyAddresses {
			t.Error("publishNotReadyAddresses must be true so nodes find each other before they are Ready")
		}
		if objs.StatefulSet.Spec.ServiceName != svc.Name {
			t.Errorf("serviceName = %q, want %q", objs.StatefulSet.Spec.ServiceName, svc.Name)
		}
		if !selects(svc.Spec.Selector, objs.StatefulSet.Spec.Template.Labels) {
			t.Error("headless Service does not select the pods")
		}
		ports := map[string]int32{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = p.Port
		}
		if ports[PortNameEkka] != 4370 || ports[PortNameGenRPC] != 5369 {
			t.Errorf("headless ports = %v, want ekka 4370 and gen-rpc 5369", ports)
		}
		ctr := emqxContainer(t, objs)
		if v := mustEnvValue(t, ctr, "EMQX_NAME"); v != "emqx" {
			t.Errorf("EMQX_NAME = %q; 4.x would otherwise use the pod name", v)
		}
		if v := mustEnvValue(t, ctr, EnvHeadlessService); v != svc.Name {
			t.Errorf("%s = %q, want %q", EnvHeadlessService, v, svc.Name)
		}
		if major(c) == Major4 {
			if mustEnvValue(t, ctr, "EMQX_CLUSTER__DNS__APP") != mustEnvValue(t, ctr, "EMQX_NAME") {
				t.Error("cluster.dns.app must equal EMQX_NAME")
			}
			wantEnv(t, ctr, "EMQX_CLUSTER__DISCOVERY", "dns")
			wantEnv(t, ctr, "EMQX_CLUSTER__DNS__TYPE", "srv")
		} else {
			wantEnv(t, ctr, "EMQX_CLUSTER__DISCOVERY_STRATEGY", "dns")
			wantEnv(t, ctr, "EMQX_CLUSTER__DNS__RECORD_TYPE", "srv")
		}
		if ctr.Command[len(ctr.Command)-1] != startPath {
			t.Errorf("command %v does not run the start script", ctr.Command)
		}
	})
}

// No cluster domain anywhere in the output: the pods read theirs from the
// files the kubelet writes ("Host names"). The published host names carry
// it only once it is known (TestNames).
func TestNoClusterDomainLiteral(t *testing.T) {
	hardCoded := regexp.MustCompile(`\.svc\.[A-Za-z0-9]`)
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		out := renderYAML(t, objs)
		if strings.Contains(out, "cluster.local") {
			t.Error("output contains cluster.local")
		}
		if m := hardCoded.FindString(out); m != "" {
			t.Errorf("output contains a hard-coded cluster domain after .svc.: %q", m)
		}
		b := testBroker(c.version, c.replicas, c.storage)
		for _, s := range []string{APIURL(b), MQTTHost(b)} {
			if hardCoded.MatchString(s) || strings.Contains(s, "cluster.local") {
				t.Errorf("%s contains a cluster domain", s)
			}
		}
	})
}

// A full restart on volumes needs every node up at once ("Rollouts and
// restarts").
func TestParallelPodManagement(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		if got := objs.StatefulSet.Spec.PodManagementPolicy; got != "Parallel" {
			t.Errorf("podManagementPolicy = %q", got)
		}
		if got := objs.StatefulSet.Spec.UpdateStrategy.Type; got != "RollingUpdate" {
			t.Errorf("updateStrategy = %q", got)
		}
		if got := *objs.StatefulSet.Spec.Replicas; got != c.replicas {
			t.Errorf("replicas = %d, want %d", got, c.replicas)
		}
	})
}

// /status on 8081 for 4.x, on 18083 for 5.x ("Ports and probes").
func TestProbes(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		ctr := emqxContainer(t, objs)
		wantPort := map[string]int32{Major4: 8081, Major5: 18083}[major(c)]
		for name, p := range map[string]*corev1.Probe{"startup": ctr.StartupProbe, "readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Fatalf("%s probe missing or not HTTP", name)
			}
			if p.HTTPGet.Path != "/status" {
				t.Errorf("%s probe path = %q", name, p.HTTPGet.Path)
			}
			port, ok := containerPortNumber(ctr, p.HTTPGet.Port.String())
			if !ok {
				t.Fatalf("%s probe port %q is not a container port", name, p.HTTPGet.Port.String())
			}
			if port != wantPort {
				t.Errorf("%s probe on port %d, want %d", name, port, wantPort)
			}
		}
		if ctr.StartupProbe.FailureThreshold*ctr.StartupProbe.PeriodSeconds < 120 {
			t.Error("the startup probe must leave time for mnesia to load")
		}
	})
}

func TestServicePorts(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		ports := func(svc *corev1.Service) map[int32]bool {
			got := map[int32]bool{}
			for _, p := range svc.Spec.Ports {
				got[p.Port] = true
			}
			return got
		}
		client, api := ports(objs.ClientService), ports(objs.APIService)
		for _, p := range []int32{1883, 8083} {
			if !client[p] {
				t.Errorf("client Service lacks MQTT port %d", p)
			}
		}
		// Without spec.managed.tls the TLS listeners are off and not exposed:
		// the image's certificate is a public demo key (TestTLS).
		for _, p := range []int32{8883, 8084} {
			if client[p] {
				t.Errorf("client Service exposes TLS port %d without spec.managed.tls", p)
			}
		}
		wantAPI := []int32{18083}
		if major(c) == Major4 {
			wantAPI = append(wantAPI, 8081)
		} else if api[8081] {
			t.Error("5.x has no port 8081")
		}
		for _, p := range wantAPI {
			if !api[p] {
				t.Errorf("API Service lacks port %d", p)
			}
			// A LoadBalancer for MQTT must not expose the management API.
			if client[p] {
				t.Errorf("client Service exposes API port %d", p)
			}
		}
		for _, svc := range []*corev1.Service{objs.ClientService, objs.APIService} {
			got := ports(svc)
			if got[4370] || got[5369] {
				t.Errorf("cluster-internal ports must not be on Service %s", svc.Name)
			}
		}
		// Clients reach only pods that joined; the operator must reach a
		// node before it is Ready to see it join ("Cluster membership").
		if objs.ClientService.Spec.PublishNotReadyAddresses {
			t.Error("the client Service must only route to ready pods")
		}
		if !objs.APIService.Spec.PublishNotReadyAddresses {
			t.Error("the API Service must route to pods that are not Ready yet, or no readiness gate is ever set")
		}
		if objs.ClientService.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("client Service type = %s", objs.ClientService.Spec.Type)
		}
		if objs.APIService.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("API Service type = %s, want ClusterIP whatever serviceType says", objs.APIService.Spec.Type)
		}
	})
}

func TestPodDisruptionBudgetOnlyForClusters(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		pdb := objs.PodDisruptionBudget
		if c.replicas == 1 {
			if pdb != nil {
				t.Error("a single node must not get a PodDisruptionBudget")
			}
			return
		}
		if pdb == nil {
			t.Fatal("PodDisruptionBudget missing")
		}
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
			t.Errorf("budget = %+v, want maxUnavailable 1", pdb.Spec)
		}
		if !selects(pdb.Spec.Selector.MatchLabels, objs.StatefulSet.Spec.Template.Labels) {
			t.Error("budget does not select the pods")
		}
	})
}

// Data on a PVC when storage is set, and dropped on scale-down ("Storage",
// "Scaling down").
func TestStorage(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		sts := objs.StatefulSet
		ctr := emqxContainer(t, objs)
		var dataMount corev1.VolumeMount
		for _, m := range ctr.VolumeMounts {
			if m.MountPath == "/opt/emqx/data" {
				dataMount = m
			}
		}
		vol, isVolume := findVolume(objs, dataMount.Name)
		if c.storage {
			if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != dataMount.Name {
				t.Fatalf("want one claim template mounted at /opt/emqx/data, got %+v", sts.Spec.VolumeClaimTemplates)
			}
			if isVolume {
				t.Error("the data claim must not be shadowed by a pod volume")
			}
			req := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
			if req.String() != "1Gi" {
				t.Errorf("claim size = %s", req.String())
			}
			if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenScaled != "Delete" || p.WhenDeleted != "Retain" {
				t.Errorf("retention policy = %+v", p)
			}
		} else {
			if len(sts.Spec.VolumeClaimTemplates) != 0 {
				t.Error("no claim templates without storage")
			}
			if !isVolume || vol.EmptyDir == nil {
				t.Errorf("data volume = %+v, want emptyDir", vol)
			}
		}
	})
}

// The "restricted" Pod Security Standard, field by field.
func TestSecurityContextRestricted(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		spec := objs.StatefulSet.Spec.Template.Spec
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Fatal("pod runAsNonRoot must be true")
		}
		if *psc.RunAsUser != 1000 || *psc.RunAsGroup != 1000 || *psc.FSGroup != 1000 {
			t.Errorf("pod uid/gid/fsGroup = %d/%d/%d, want the image's 1000", *psc.RunAsUser, *psc.RunAsGroup, *psc.FSGroup)
		}
		if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("seccompProfile must be RuntimeDefault")
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Error("host namespaces are not allowed")
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				t.Errorf("hostPath volume %s", v.Name)
			}
		}
		for _, ctr := range spec.Containers {
			sc := ctr.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Error("allowPrivilegeEscalation must be false")
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Error("privileged")
			}
			if sc.Capabilities == nil || !equalStrings(capNames(sc.Capabilities.Drop), []string{"ALL"}) || len(sc.Capabilities.Add) != 0 {
				t.Errorf("capabilities = %+v, want drop [ALL]", sc.Capabilities)
			}
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || (sc.RunAsUser != nil && *sc.RunAsUser == 0) {
				t.Error("container must run as non-root")
			}
			for _, p := range ctr.Ports {
				if p.HostPort != 0 {
					t.Errorf("hostPort on %s", p.Name)
				}
			}
		}
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			t.Error("service links inject EMQX_* variables for a Service named emqx; they must be off")
		}
	})
}

// What EMQX reads at start rolls the pods when it changes: the ConfigMap
// and the bootstrap file. The dashboard password only seeds the database,
// and the cookie is handled apart (a restart of every node at once), so
// neither changes the config hash.
func TestConfigHashRollsPods(t *testing.T) {
	b := testBroker(testVersion5, 3, true)
	hashes := func(in Input) (config, cookie string) {
		t.Helper()
		objs, err := Build(in)
		if err != nil {
			t.Fatal(err)
		}
		a := objs.StatefulSet.Spec.Template.Annotations
		return a[ConfigHashAnnotation], a[CookieHashAnnotation]
	}
	base, baseCookie := hashes(testInput(b))
	if len(base) != 64 || len(baseCookie) != 16 {
		t.Fatalf("hashes = %q, %q", base, baseCookie)
	}
	if again, _ := hashes(testInput(b)); again != base {
		t.Error("hash is not deterministic")
	}
	if strings.Contains(baseCookie, testCookie) || baseCookie != cookieHash(testCookie) {
		t.Errorf("cookie hash %q", baseCookie)
	}

	rotated := testInput(b)
	rotated.Credentials.APISecret = "Rotated0123456789abcdefghijklmno"
	if got, cookie := hashes(rotated); got == base || cookie != baseCookie {
		t.Error("a new API secret must change the config hash and only it")
	}
	dashboard := testInput(b)
	dashboard.Credentials.DashboardPassword = "OtherDash0123456789abcdefghijklm"
	if got, _ := hashes(dashboard); got != base {
		t.Error("the dashboard password only seeds the database; it must not roll the pods")
	}
	cookie := testInput(b)
	cookie.Cookie = "OtherCookie0123456789abcdefghijk"
	if got, c := hashes(cookie); got != base || c == baseCookie {
		t.Error("a new cookie must change the cookie hash and only it")
	}
	b.Spec.Managed.Replicas = ptrTo[int32](5)
	if got, _ := hashes(testInput(b)); got != base {
		t.Error("a replica change must not change the config hash")
	}
}

// Pods are Ready only once the controller has seen their node join
// ("Cluster membership").
func TestReadinessGate(t *testing.T) {
	forMatrix(t, func(t *testing.T, c matrixCase, objs *Objects) {
		gates := objs.StatefulSet.Spec.Template.Spec.ReadinessGates
		if len(gates) != 1 || gates[0].ConditionType != JoinedCondition {
			t.Errorf("readiness gates = %+v, want %s", gates, JoinedCondition)
		}
		if s := objs.StatefulSet.Spec.UpdateStrategy; s.Type != "RollingUpdate" || s.RollingUpdate.MaxUnavailable != nil {
			t.Errorf("update strategy = %+v, want one pod at a time", s)
		}
	})
}

func wantEnv(t *testing.T, c *corev1.Container, name, want string) {
	t.Helper()
	if got := mustEnvValue(t, c, name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func capNames(caps []corev1.Capability) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = string(c)
	}
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}
