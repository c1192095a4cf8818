package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Objects are all objects of a managed broker.
type Objects struct {
	ConfigMap       *corev1.ConfigMap
	Secret          *corev1.Secret
	CookieSecret    *corev1.Secret
	HeadlessService *corev1.Service
	ClientService   *corev1.Service
	APIService      *corev1.Service
	StatefulSet     *appsv1.StatefulSet
	// PodDisruptionBudget is nil when the broker has a single node.
	PodDisruptionBudget *policyv1.PodDisruptionBudget
}

// Build validates the input and builds every object. A *SpecError means the
// spec must change (Stalled); any other error means bad credentials.
func Build(in Input) (*Objects, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	b := in.Broker
	cm := buildConfigMap(b)
	return &Objects{
		ConfigMap:       cm,
		Secret:          buildSecret(b, in.Credentials),
		CookieSecret:    buildCookieSecret(b, in.Cookie),
		HeadlessService: buildHeadlessService(b),
		ClientService:   buildClientService(b),
		APIService:      buildAPIService(b),
		StatefulSet: buildStatefulSet(b, podHashes{
			config: configHash(cm, in.Credentials),
			cookie: cookieHash(in.Cookie),
		}),
		PodDisruptionBudget: buildPDB(b),
	}, nil
}

// All lists the objects in the order they should be applied: what the pods
// mount and resolve first, the StatefulSet after. The cookie Secret comes
// before the credentials Secret, which no longer carries the cookie that
// an earlier operator version kept there: once that copy is gone, the
// cookie Secret must exist. A nil budget is left out.
func (o *Objects) All() []client.Object {
	all := []client.Object{o.ConfigMap, o.CookieSecret, o.Secret, o.HeadlessService, o.ClientService, o.APIService, o.StatefulSet}
	if o.PodDisruptionBudget != nil {
		all = append(all, o.PodDisruptionBudget)
	}
	return all
}

// podHashes are the pod template's annotations that roll or restart pods.
type podHashes struct{ config, cookie string }

// configHash is a SHA-256 over the ConfigMap's data, in key order, and the
// EMQX bootstrap file, so that it only changes when what EMQX reads at
// start does. The dashboard password is left out: EMQX uses it only to
// seed the database on first boot, so a restart would not apply it.
func configHash(cm *corev1.ConfigMap, c Credentials) string {
	h := sha256.New()
	write := func(kind, key string, value []byte) {
		for _, s := range [][]byte{[]byte(kind), []byte(key), value} {
			h.Write(s)
			h.Write([]byte{0})
		}
	}
	for _, k := range sortedKeys(cm.Data) {
		write("configmap", k, []byte(cm.Data[k]))
	}
	write("secret", SecretKeyBootstrap, []byte(c.bootstrapFile()))
	return hex.EncodeToString(h.Sum(nil))
}

// cookieHash identifies a cookie without revealing it: the first 16 hex
// digits of its SHA-256, as CookieHashAnnotation carries it.
func cookieHash(cookie string) string {
	sum := sha256.Sum256([]byte("mqtt-operator cookie\x00" + cookie))
	return hex.EncodeToString(sum[:8])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
