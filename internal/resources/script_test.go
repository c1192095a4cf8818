package resources

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartScript runs the start script with every POSIX shell found, against
// fake /etc/hosts and /etc/resolv.conf files, with the image entrypoint
// replaced by a stub that prints what EMQX would see.
func TestStartScript(t *testing.T) {
	var shells []string
	seen := map[string]bool{}
	for _, sh := range []string{"sh", "dash", "bash", "busybox"} {
		p, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		// sh is often a link to dash or bash: run each real shell once.
		if real, err := filepath.EvalSymlinks(p); err == nil && !seen[real] {
			seen[real] = true
			shells = append(shells, p)
		}
	}
	if len(shells) == 0 {
		t.Skip("no shell to run the start script with")
	}
	const (
		hostsWithFQDN = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n" +
			"10.244.1.7\tbroker-1.broker-headless.mqtt.svc.corp.example\tbroker-1\n"
		hostsWithout = "127.0.0.1\tlocalhost\n10.244.1.7\tbroker-1\n"
		resolv       = "nameserver 10.96.0.10\nsearch mqtt.svc.corp.example svc.corp.example corp.example\noptions ndots:5"
	)
	cases := []struct {
		name, hosts, resolv string
		wantDomain          string
	}{
		{"from /etc/hosts", hostsWithFQDN, "", "corp.example"},
		{"from the search path", hostsWithout, resolv, "corp.example"},
		{"hosts wins over resolv.conf", hostsWithFQDN, strings.ReplaceAll(resolv, "corp.example", "other.example"), "corp.example"},
		{"no domain anywhere", hostsWithout, "nameserver 10.96.0.10\n", ""},
		{"no resolv.conf", hostsWithout, "-", ""},
	}
	for _, shell := range shells {
		for _, tc := range cases {
			t.Run(filepath.Base(shell)+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				hosts := filepath.Join(dir, "hosts")
				resolvConf := filepath.Join(dir, "resolv.conf")
				stub := filepath.Join(dir, "entrypoint")
				writeFile(t, hosts, tc.hosts, 0o644)
				if tc.resolv != "-" {
					writeFile(t, resolvConf, tc.resolv, 0o644)
				}
				writeFile(t, stub, "#!/bin/sh\necho \"NODE=$EMQX_NODE_NAME\"\necho \"HOST=$EMQX_HOST\"\n"+
					"echo \"DNS=$EMQX_CLUSTER__DNS__NAME\"\necho \"ARGS=$*\"\n", 0o755)

				script := startScript
				for old, repl := range map[string]string{"/etc/hosts": hosts, "/etc/resolv.conf": resolvConf, imageEntrypoint: stub} {
					if !strings.Contains(script, old) {
						t.Fatalf("script does not mention %s", old)
					}
					script = strings.ReplaceAll(script, old, repl)
				}
				path := filepath.Join(dir, "start.sh")
				writeFile(t, path, script, 0o644)

				cmd := exec.Command(shell, path, "/opt/emqx/bin/emqx", "foreground")
				if filepath.Base(shell) == "busybox" {
					cmd = exec.Command(shell, "sh", path, "/opt/emqx/bin/emqx", "foreground")
				}
				cmd.Env = []string{"PATH=/usr/bin:/bin", "POD_NAME=broker-1", "POD_NAMESPACE=mqtt",
					"HEADLESS_SERVICE=broker-headless", "EMQX_NAME=emqx"}
				out, err := cmd.CombinedOutput()
				if tc.wantDomain == "" {
					if err == nil || !strings.Contains(string(out), "no cluster domain") {
						t.Fatalf("want a failure naming the problem, got %v:\n%s", err, out)
					}
					return
				}
				if err != nil {
					t.Fatalf("start script failed: %v\n%s", err, out)
				}
				fqdn := "broker-1.broker-headless.mqtt.svc." + tc.wantDomain
				for _, want := range []string{
					"NODE=emqx@" + fqdn,
					"HOST=" + fqdn,
					"DNS=broker-headless.mqtt.svc." + tc.wantDomain,
					"ARGS=/opt/emqx/bin/emqx foreground",
				} {
					if !strings.Contains(string(out), want+"\n") {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				// The name must match NodeName, which the scale-down helpers parse.
				b := testBroker(testVersion5, 3, false)
				if nodeName(b, tc.wantDomain, 1) != "emqx@"+fqdn {
					t.Errorf("NodeName = %s, script gave emqx@%s", nodeName(b, tc.wantDomain, 1), fqdn)
				}
			})
		}
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
