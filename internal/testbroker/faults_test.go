package testbroker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/mqtttest"
)

func TestInjectFaultV4Code(t *testing.T) {
	b := startBroker(t, Options{})
	b.InjectFault(Fault{Count: 2, V4Code: 101, Message: "rpc failed", PathPrefix: "/api/v4/auth_username"})
	for i := 0; i < 2; i++ {
		r := v4(t, b, "GET", "/auth_username", "")
		mustStatus(t, r, http.StatusOK)
		if string(r.body) != `{"code":101,"message":"rpc failed"}` {
			t.Fatalf("call %d: %s", i, r.body)
		}
	}
	// Other paths were not affected, and the fault is used up.
	mustCode4(t, v4(t, b, "GET", "/brokers", ""))
	mustCode4(t, v4(t, b, "GET", "/auth_username", ""))
	// A V4Code-only fault never hits v5 calls.
	b.InjectFault(Fault{V4Code: 101})
	mustStatus(t, v5(t, b, "GET", "/nodes", ""), http.StatusOK)
	mustStatus(t, v4(t, b, "GET", "/brokers", ""), http.StatusOK)
	if r := v4(t, b, "GET", "/brokers", ""); !strings.Contains(string(r.body), `"code":0`) {
		t.Fatalf("fault not consumed by the v4 call: %s", r.body)
	}
}

func TestInjectFaultHTTPStatus(t *testing.T) {
	b := startBroker(t, Options{})
	b.InjectFault(Fault{HTTPStatus: 503, PathPrefix: "/api/v5/"})
	r := v5(t, b, "GET", "/clients", "")
	mustStatus(t, r, http.StatusServiceUnavailable)
	if v, _ := jsonAt(r.json(t), "code"); v != "SERVICE_UNAVAILABLE" {
		t.Fatalf("v5 fault body %s", r.body)
	}
	mustStatus(t, v5(t, b, "GET", "/clients", ""), http.StatusOK)

	b.InjectFault(Fault{HTTPStatus: 502})
	r = v4(t, b, "GET", "/brokers", "")
	mustStatus(t, r, http.StatusBadGateway)
	if string(r.body) != "Bad Gateway" {
		t.Fatalf("v4 text fault body %q", r.body)
	}
	// Unauthenticated status probes are not consumed by path-less faults.
	b.InjectFault(Fault{HTTPStatus: 500})
	mustStatus(t, doAPI(t, b, req{method: "GET", path: "/status", user: "-"}), http.StatusOK)
	mustStatus(t, v5(t, b, "GET", "/nodes", ""), http.StatusInternalServerError)
	b.InjectFault(Fault{HTTPStatus: 500})
	b.ClearFaults()
	mustStatus(t, v5(t, b, "GET", "/nodes", ""), http.StatusOK)
}

func TestLatency(t *testing.T) {
	b := startBroker(t, Options{})
	b.SetLatency(150 * time.Millisecond)
	start := time.Now()
	mustCode4(t, v4(t, b, "GET", "/brokers", ""))
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("call took %v, want >= 150ms", d)
	}
	b.SetLatency(0)
	start = time.Now()
	mustCode4(t, v4(t, b, "GET", "/brokers", ""))
	if d := time.Since(start); d >= 150*time.Millisecond {
		t.Fatalf("latency still applied: %v", d)
	}
}

func TestStopAndStartAPI(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	url := b.APIURL()
	if err := b.StopAPI(); err != nil {
		t.Fatalf("stop api: %v", err)
	}
	client := &http.Client{Timeout: testTimeout}
	if resp, err := client.Get(url + "/status"); err == nil {
		_ = resp.Body.Close()
		t.Fatal("API still answering after StopAPI")
	}
	// MQTT keeps running while the API is down.
	mqtttest.MustConnect(t, b.MQTTAddr(), "c", "alice", "p")
	if err := b.StartAPI(); err != nil {
		t.Fatalf("start api: %v", err)
	}
	if b.APIURL() != url {
		t.Fatalf("API moved from %s to %s", url, b.APIURL())
	}
	mustCode4(t, v4(t, b, "GET", "/auth_username/alice", ""))
}

func TestWipe(t *testing.T) {
	b := startBroker(t, Options{})
	addUser(t, b, "alice", "p")
	mustCode4(t, v4(t, b, "POST", "/acl", `{"username":"alice","topic":"t","action":"pub","access":"allow"}`))
	mustCode4(t, v4(t, b, "POST", "/banned", `{"who":"x","as":"clientid","reason":"r"}`))
	b.Wipe()
	if r := v4(t, b, "GET", "/auth_username/alice", ""); string(r.body) != `{"code":0,"data":{}}` {
		t.Fatalf("user survived wipe: %s", r.body)
	}
	if r := v4(t, b, "GET", "/acl/username/alice", ""); string(r.body) != `{"code":0,"data":[]}` {
		t.Fatalf("rules survived wipe: %s", r.body)
	}
	if r := v5(t, b, "GET", "/banned", ""); !strings.Contains(string(r.body), `"count":0`) {
		t.Fatalf("bans survived wipe: %s", r.body)
	}
	refusedWith(t, b, "c", "alice", "p", rcNotAuthorized)
}

func control(t *testing.T, b *Broker, method, path, body string) apiReply {
	t.Helper()
	return doAPI(t, b, req{method: method, path: "/testbroker" + path, body: body, user: "-"})
}

func TestControlAPI(t *testing.T) {
	b := startBroker(t, Options{})
	mustStatus(t, control(t, b, "GET", "/", ""), http.StatusOK)
	mustStatus(t, control(t, b, "POST", "/faults", `{"count":1,"v4Code":101,"pathPrefix":"/api/v4/brokers"}`), http.StatusNoContent)
	list := control(t, b, "GET", "/faults", "")
	if v, _ := jsonAt(list.json(t), "faults/0/v4Code"); normJSON(v) != int64(101) {
		t.Fatalf("faults list %s", list.body)
	}
	if r := v4(t, b, "GET", "/brokers", ""); !strings.Contains(string(r.body), `"code":101`) {
		t.Fatalf("control fault not applied: %s", r.body)
	}
	mustStatus(t, control(t, b, "POST", "/faults", `{"count":5}`), http.StatusBadRequest)
	mustStatus(t, control(t, b, "POST", "/faults", `{"httpStatus":500}`), http.StatusNoContent)
	mustStatus(t, control(t, b, "DELETE", "/faults", ""), http.StatusNoContent)
	mustCode4(t, v4(t, b, "GET", "/brokers", ""))

	mustStatus(t, control(t, b, "POST", "/latency", `{"latency":"100ms"}`), http.StatusNoContent)
	if r := control(t, b, "GET", "/latency", ""); !strings.Contains(string(r.body), "100ms") {
		t.Fatalf("latency %s", r.body)
	}
	mustStatus(t, control(t, b, "POST", "/latency", `{"latency":0}`), http.StatusNoContent)

	addUser(t, b, "alice", "p")
	mustStatus(t, control(t, b, "POST", "/wipe", ""), http.StatusNoContent)
	if r := v4(t, b, "GET", "/auth_username/alice", ""); string(r.body) != `{"code":0,"data":{}}` {
		t.Fatalf("wipe via control API: %s", r.body)
	}
	mustStatus(t, control(t, b, "POST", "/nope", ""), http.StatusNotFound)
}

func TestControlAPIOutage(t *testing.T) {
	b := startBroker(t, Options{})
	mustStatus(t, control(t, b, "POST", "/api-outage", `{"duration":"300ms"}`), http.StatusAccepted)
	client := &http.Client{Timeout: time.Second}
	up := func() bool {
		resp, err := client.Get(b.APIURL() + "/status")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	eventually(t, "the API to go down", func() bool { return !up() })
	eventually(t, "the API to come back", up)
}

func TestControlAPIIsLoopbackOnly(t *testing.T) {
	b := startBroker(t, Options{})
	rec := httptest.NewRecorder()
	hreq := httptest.NewRequest("POST", "/testbroker/wipe", nil)
	hreq.RemoteAddr = "10.1.2.3:4567"
	b.ServeHTTP(rec, hreq)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("remote control call = %d, want 403", rec.Code)
	}
	rec = httptest.NewRecorder()
	hreq = httptest.NewRequest("POST", "/testbroker/wipe", nil)
	hreq.RemoteAddr = "[::1]:4567"
	b.ServeHTTP(rec, hreq)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("loopback control call = %d, want 204", rec.Code)
	}
}

func writeSelfSigned(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testbroker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestAPIOverTLS(t *testing.T) {
	certFile, keyFile, pool := writeSelfSigned(t)
	b := startBroker(t, Options{TLSCertFile: certFile, TLSKeyFile: keyFile})
	if !strings.HasPrefix(b.APIURL(), "https://") {
		t.Fatalf("APIURL %s", b.APIURL())
	}
	client := &http.Client{Timeout: testTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	hreq, _ := http.NewRequest("GET", b.APIURL()+"/api/v5/nodes", nil)
	hreq.SetBasicAuth("admin", "public")
	resp, err := client.Do(hreq)
	if err != nil {
		t.Fatalf("tls call: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tls call status %d", resp.StatusCode)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := New(Options{V5UserIDType: "email"}); err == nil {
		t.Error("bad user id type accepted")
	}
	if _, err := New(Options{TLSCertFile: "x.crt"}); err == nil {
		t.Error("cert without key accepted")
	}
	b, err := New(Options{AppID: "k", AppSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if r := doAPI(t, b, req{method: "GET", path: "/api/v4/brokers", user: "k", pass: "s"}); r.status != http.StatusOK {
		t.Errorf("custom app credentials rejected: %d", r.status)
	}
	if r := doAPI(t, b, req{method: "GET", path: "/api/v5/nodes"}); r.status != http.StatusUnauthorized {
		t.Errorf("default credentials accepted with a custom app: %d", r.status)
	}
}
