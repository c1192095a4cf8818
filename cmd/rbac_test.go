package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// operatorSA is the identity the manager runs as in the RBAC tests.
const operatorSA = "system:serviceaccount:mqtt-operator-system:controller-manager"

// operatorConfig binds operatorSA to the ClusterRoles of the given files in
// config/rbac and returns a config that impersonates it.
func operatorConfig(t *testing.T, admin client.Client, roleFiles ...string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	for _, file := range roleFiles {
		data, err := os.ReadFile(filepath.Join("..", "config", "rbac", file))
		if err != nil {
			t.Fatal(err)
		}
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal(data, &role); err != nil {
			t.Fatal(err)
		}
		role.Name = ""
		role.GenerateName = "rbac-test-" + strings.TrimSuffix(file, ".yaml") + "-"
		if err := admin.Create(ctx, &role); err != nil {
			t.Fatal(err)
		}
		if err := admin.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "rbac-test-"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorSA}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	asOperator := rest.CopyConfig(testCfg)
	asOperator.Impersonate = rest.ImpersonationConfig{UserName: operatorSA}
	// The impersonation is real: what the role does not grant is refused.
	op, err := client.New(asOperator, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.List(ctx, &corev1.NodeList{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing nodes as the operator: %v, want Forbidden", err)
	}
	return asOperator
}

// The operator works with exactly the permissions config/rbac grants it:
// the manager runs as a service account bound to the generated ClusterRole
// and drives every kind to Ready, including a managed broker's objects.
func TestManagerWorksWithGeneratedRBAC(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	admin, err := client.New(testCfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	asOperator := operatorConfig(t, admin, "role.yaml")
	metrics := freeAddr(t)
	startManager(t, asOperator, "--health-probe-bind-address", "0", "--metrics-bind-address", metrics, "--metrics-secure=false", "--resync-interval", "5s")

	tb := startTestBroker(t)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rbac-test-%d", time.Now().UnixNano())}}
	ref := mqttv1.BrokerReference{Name: "emqx"}
	objs := []client.Object{
		ns,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns.Name}, Type: corev1.SecretTypeBasicAuth,
			StringData: map[string]string{"username": "admin", "password": "public"}},
		&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "emqx", Namespace: ns.Name}, Spec: mqttv1.MQTTBrokerSpec{External: &mqttv1.ExternalBroker{
			URL: tb.APIURL(), APIVersion: mqttv1.BrokerAPIv5, CredentialsSecretRef: mqttv1.LocalObjectReference{Name: "api"}}}},
		&mqttv1.MQTTUser{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: ns.Name}, Spec: mqttv1.MQTTUserSpec{BrokerRef: ref}},
		&mqttv1.MQTTACL{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: ns.Name}, Spec: mqttv1.MQTTACLSpec{BrokerRef: ref,
			Subject: mqttv1.ACLSubject{Username: "dev"}, Rules: []mqttv1.ACLRule{{Topic: "a/#", Action: mqttv1.ACLActionAll, Permission: mqttv1.ACLAllow}}}},
		&mqttv1.MQTTBan{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns.Name}, Spec: mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanClientID, Who: "bad"}},
		&mqttv1.MQTTBroker{ObjectMeta: metav1.ObjectMeta{Name: "managed", Namespace: ns.Name}, Spec: mqttv1.MQTTBrokerSpec{Managed: &mqttv1.ManagedBroker{Version: "5.8.6"}}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	for _, o := range objs[2:6] {
		obj := o.DeepCopyObject().(client.Object)
		g.Eventually(func() bool {
			if err := admin.Get(ctx, client.ObjectKeyFromObject(o), obj); err != nil {
				return false
			}
			return apimeta.IsStatusConditionTrue(obj.(mqttv1.StatusAccess).GetCommonStatus().Conditions, mqttv1.ConditionReady)
		}, 30*time.Second, 100*time.Millisecond).Should(gomega.BeTrue(), "%T %s did not become Ready as the operator's service account", o, o.GetName())
	}
	// The broker calls and the objects show on the metrics endpoint.
	body := poll(t, "http://"+metrics+"/metrics")
	for _, want := range []string{
		`mqtt_operator_broker_requests_total{broker="` + ns.Name + `/emqx",code="201",operation="CreateUser"}`,
		`mqtt_operator_broker_request_duration_seconds_bucket{broker="` + ns.Name + `/emqx",operation="Health"`,
		`mqtt_operator_objects{kind="MQTTUser",status="ready"}`,
		`mqtt_operator_broker_ready{name="emqx",namespace="` + ns.Name + `"} 1`,
		`mqtt_operator_drift_corrections_total{kind="MQTTUser"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	var sts metav1.PartialObjectMetadata
	sts.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("StatefulSet"))
	g.Eventually(func() error {
		return admin.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "managed"}, &sts)
	}, 30*time.Second, 100*time.Millisecond).Should(gomega.Succeed(), "the managed broker's StatefulSet was not created")
}
