package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// kind is one of the benchmarked object kinds: how to make its i-th object,
// the Kubernetes writes the operator cannot avoid for it, and the broker
// write that puts it on the broker.
type kind struct {
	// name is the short name used in scenario specs: users, acls or bans.
	name string
	// controller is the manager's controller name, as in the
	// controller_runtime_* metrics.
	controller string
	// resource is the API resource, as in apiserver_request_total.
	resource string
	// storedMetric is the test broker gauge of what this kind stores.
	storedMetric string
	newObject    func(ns, name, brokerName string) client.Object
	newList      func() client.ObjectList
	// generatesSecret: the operator writes one Secret per object.
	generatesSecret bool
	brokerWrite     func(ctx context.Context, cl broker.Client, name string) error
}

// kindOrder is the order of the kinds in a mixed scenario.
var kindOrder = []string{"users", "acls", "bans"}

var kinds = map[string]*kind{
	"users": {
		name: "users", controller: "mqttuser", resource: "mqttusers", storedMetric: "testbroker_stored_users",
		newObject: func(ns, name, brokerName string) client.Object {
			return &mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: mqttv1.MQTTUserSpec{BrokerRef: mqttv1.BrokerReference{Name: brokerName}}}
		},
		newList:         func() client.ObjectList { return &mqttv1.MQTTUserList{} },
		generatesSecret: true,
		brokerWrite: func(ctx context.Context, cl broker.Client, name string) error {
			pw, err := password()
			if err != nil {
				return err
			}
			return cl.CreateUser(ctx, broker.UserSpec{Kind: broker.ByUsername, ID: name, Password: pw})
		},
	},
	"acls": {
		name: "acls", controller: "mqttacl", resource: "mqttacls", storedMetric: "testbroker_stored_rules",
		newObject: func(ns, name, brokerName string) client.Object {
			rules := aclRules(name)
			spec := mqttv1.MQTTACLSpec{BrokerRef: mqttv1.BrokerReference{Name: brokerName}, Subject: mqttv1.ACLSubject{Username: name}}
			for _, r := range rules {
				spec.Rules = append(spec.Rules, mqttv1.ACLRule{Topic: r.Topic, Action: mqttv1.ACLAction(r.Action), Permission: mqttv1.ACLPermission(r.Permission)})
			}
			return &mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
		},
		newList: func() client.ObjectList { return &mqttv1.MQTTACLList{} },
		brokerWrite: func(ctx context.Context, cl broker.Client, name string) error {
			return cl.ReplaceRules(ctx, broker.Subject{Kind: broker.ByUsername, Name: name}, aclRules(name))
		},
	},
	"bans": {
		name: "bans", controller: "mqttban", resource: "mqttbans", storedMetric: "testbroker_stored_bans",
		newObject: func(ns, name, brokerName string) client.Object {
			return &mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: mqttv1.MQTTBanSpec{BrokerRef: mqttv1.BrokerReference{Name: brokerName}, As: mqttv1.BanClientID, Who: name,
					Reason: "benchmark", Duration: &metav1.Duration{Duration: banDuration}}}
		},
		newList: func() client.ObjectList { return &mqttv1.MQTTBanList{} },
		brokerWrite: func(ctx context.Context, cl broker.Client, name string) error {
			now := time.Now()
			return cl.CreateBan(ctx, broker.Ban{As: broker.BanClientID, Who: name, Reason: "benchmark", By: "benchmark", At: now, Until: now.Add(banDuration)})
		},
	},
}

// banDuration is long enough that no ban expires during a run.
const banDuration = 24 * time.Hour

// aclRules are the three rules of every benchmarked MQTTACL.
func aclRules(name string) []broker.Rule {
	return []broker.Rule{
		{Topic: "devices/" + name + "/#", Action: broker.ActionPublish, Permission: broker.Allow},
		{Topic: "commands/" + name, Action: broker.ActionSubscribe, Permission: broker.Allow},
		{Topic: "#", Action: broker.ActionAll, Permission: broker.Deny},
	}
}

// objectName is the i-th object's name; the same names are used on the
// broker (usernames, ban targets).
func objectName(i int) string { return fmt.Sprintf("b-%05d", i) }

func password() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// floorWrites issues, for one existing object, the Kubernetes writes the
// operator cannot avoid: the finalizer, the generated Secret (users) and
// one status write. pass makes each floor pass write new values, so every
// request is a real write.
func (k *kind) floorWrites(ctx context.Context, c client.Client, obj client.Object, pass string, mqttAddr string) error {
	fin, err := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": []string{"bench.mqttoperator.io/" + pass}}})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, fin)); err != nil {
		return fmt.Errorf("finalizer: %w", err)
	}
	if k.generatesSecret {
		pw, err := password()
		if err != nil {
			return err
		}
		host, port, err := net.SplitHostPort(mqttAddr)
		if err != nil {
			return err
		}
		gvk, err := c.GroupVersionKindFor(obj)
		if err != nil {
			return err
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: obj.GetName() + "-" + pass, Labels: map[string]string{
				mqttv1.LabelManagedBy: mqttv1.ManagedByValue, mqttv1.LabelUser: obj.GetName(), mqttv1.LabelWatch: "true",
			}},
			Type:       corev1.SecretTypeOpaque,
			StringData: map[string]string{"password": pw, "username": obj.GetName(), "host": host, "port": port},
		}
		s.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(obj, gvk)}
		if err := c.Create(ctx, s); err != nil {
			return fmt.Errorf("secret: %w", err)
		}
	}
	now := metav1.Now()
	status, err := json.Marshal(map[string]any{"status": map[string]any{
		"observedGeneration": obj.GetGeneration(),
		"conditions": []metav1.Condition{{Type: mqttv1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: obj.GetGeneration(),
			LastTransitionTime: now, Reason: mqttv1.ReasonSucceeded, Message: "benchmark floor " + pass}},
	}})
	if err != nil {
		return err
	}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, status)); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}
