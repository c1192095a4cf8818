package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The metrics endpoint is served over HTTPS by default and answers only
// clients whose Kubernetes token may get /metrics: no token is 401, a token
// of a service account without that permission is 403, one bound to a
// metrics-reader ClusterRole is 200. The manager runs with exactly the
// RBAC of config/rbac: the generated role and the metrics-auth role that
// lets it create TokenReviews and SubjectAccessReviews.
func TestMetricsRequireAuthorizedToken(t *testing.T) {
	ctx := context.Background()
	admin, err := client.New(testCfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// --metrics-secure is left at its default.
	startManager(t, operatorConfig(t, admin, "role.yaml", "metrics_auth_role.yaml"), "--health-probe-bind-address", "0", "--metrics-bind-address", addr)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-auth-"}}
	if err := admin.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	reader := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-reader-"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
	if err := admin.Create(ctx, reader); err != nil {
		t.Fatal(err)
	}
	scraper, nobody := serviceAccountToken(t, admin, ns.Name, "prometheus"), serviceAccountToken(t, admin, ns.Name, "nobody")
	if err := admin.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-reader-"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: ns.Name}},
	}); err != nil {
		t.Fatal(err)
	}

	// The certificate is self-signed unless --metrics-cert-dir names one;
	// what matters here is that the endpoint speaks TLS and checks tokens.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}, //nolint:gosec // self-signed test endpoint
		ForceAttemptHTTP2: true,
	}}
	url := "https://" + addr + "/metrics"
	get := func(token string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error(), ""
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Proto
	}
	// Wait for the endpoint and for the RoleBinding to reach the authorizer.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body, _ := get(scraper)
		if code == http.StatusOK {
			if !strings.Contains(body, "mqtt_operator_") {
				t.Fatalf("authorized scrape lacks the operator's metrics:\n%.500s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("authorized scrape: HTTP %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, tc := range []struct {
		name, token string
		want        []int
	}{
		{"no token", "", []int{http.StatusUnauthorized}},
		// The API server rejects the TokenReview of a token it never issued,
		// which controller-runtime's filter reports as 500 rather than 401.
		{"garbage token", "not-a-token", []int{http.StatusUnauthorized, http.StatusInternalServerError}},
		{"token without permission", nobody, []int{http.StatusForbidden}},
		{"token bound to the metrics reader", scraper, []int{http.StatusOK}},
	} {
		code, body, proto := get(tc.token)
		if !slices.Contains(tc.want, code) {
			t.Errorf("%s: HTTP %d, want %v: %.200s", tc.name, code, tc.want, body)
		}
		if proto != "HTTP/1.1" {
			t.Errorf("%s: served over %s; HTTP/2 must not be offered", tc.name, proto)
		}
	}
	// Plain HTTP is not answered on the secure port.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics"); err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP scrape answered 200 on the secure metrics port")
		}
	}
}

// serviceAccountToken creates a service account and returns a token for it
// from the TokenRequest API.
func serviceAccountToken(t *testing.T, c client.Client, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := c.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	if err := c.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatalf("token for %s: %v", name, err)
	}
	if tr.Status.Token == "" {
		t.Fatal(fmt.Errorf("empty token for %s", name))
	}
	return tr.Status.Token
}
