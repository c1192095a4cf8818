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
	secret := buildSecret(b, in.Credentials)
	return &Objects{
		ConfigMap:           cm,
		Secret:              secret,
		HeadlessService:     buildHeadlessService(b),
		ClientService:       buildClientService(b),
		APIService:          buildAPIService(b),
		StatefulSet:         buildStatefulSet(b, configHash(cm, secret)),
		PodDisruptionBudget: buildPDB(b),
	}, nil
}

// All lists the objects in the order they should be applied: what the pods
// mount and resolve first, the StatefulSet after. A nil budget is left out.
func (o *Objects) All() []client.Object {
	all := []client.Object{o.ConfigMap, o.Secret, o.HeadlessService, o.ClientService, o.APIService, o.StatefulSet}
	if o.PodDisruptionBudget != nil {
		all = append(all, o.PodDisruptionBudget)
	}
	return all
}

// configHash is a SHA-256 over the ConfigMap's and the Secret's data, in key
// order, so that it only changes when the content does.
func configHash(cm *corev1.ConfigMap, secret *corev1.Secret) string {
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
	for _, k := range sortedKeys(secret.Data) {
		write("secret", k, secret.Data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
