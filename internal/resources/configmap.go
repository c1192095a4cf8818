package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Where the ConfigMap is mounted (read-only) and what it holds. The
// directory lies outside /opt/emqx so that nothing of the image is
// shadowed, and nothing the image's start scripts write (4.4: tmpfile in
// /opt/emqx, data/loaded_plugins and data/configs/; see
// docs/internals/managed.md, "What the entrypoints write") can collide
// with it.
const (
	configDir      = "/opt/mqtt-operator/config"
	ConfigKeyStart = "start.sh"
	ConfigKeyACL   = "acl.conf"
	startPath      = configDir + "/" + ConfigKeyStart
	aclPath        = configDir + "/" + ConfigKeyACL
)

// imageEntrypoint is the ENTRYPOINT of the emqx/emqx 4.4 and 5.x images; the
// start script hands over to it.
const imageEntrypoint = "/usr/bin/docker-entrypoint.sh"

// startScript runs before the image's entrypoint (POSIX sh, builtins only,
// so it works on the Debian and Alpine based images).
//
// Node names must be stable FQDNs equal to the SRV targets of the headless
// Service, <pod>.<headless>.<namespace>.svc.<cluster domain>: EMQX's DNS
// discovery joins the names the SRV records give (docs/internals/managed.md,
// "Node names and discovery"). The cluster domain is not hard-coded
// anywhere: the kubelet writes this pod's FQDN into /etc/hosts (the
// StatefulSet sets hostname and subdomain) and the domain into the search
// path of /etc/resolv.conf, and the script reads it from there.
const startScript = `#!/bin/sh
# Written by mqtt-operator. Derives this pod's EMQX node name, then starts the
# image's entrypoint. The cluster domain is read from the files the kubelet
# writes, never configured.
set -eu
set -f
domain=""
prefix="${POD_NAME}.${HEADLESS_SERVICE}.${POD_NAMESPACE}.svc."
# /etc/hosts has "<ip> <pod>.<headless>.<namespace>.svc.<domain> <pod>".
while read -r line || [ -n "$line" ]; do
  for word in $line; do
    case "$word" in
      "#"*) break ;;
      "$prefix"?*) domain="${word#"$prefix"}"; break 2 ;;
    esac
  done
done < /etc/hosts
# Fallback: the search path starts with "<namespace>.svc.<domain>".
if [ -z "$domain" ] && [ -r /etc/resolv.conf ]; then
  search="${POD_NAMESPACE}.svc."
  while read -r key rest || [ -n "$key" ]; do
    [ "$key" = "search" ] || continue
    for word in $rest; do
      case "$word" in
        "$search"?*) domain="${word#"$search"}"; break 2 ;;
      esac
    done
  done < /etc/resolv.conf
fi
domain="${domain%.}"
if [ -z "$domain" ]; then
  echo "mqtt-operator: no cluster domain for ${POD_NAME} in /etc/hosts or /etc/resolv.conf" >&2
  exit 1
fi
EMQX_CLUSTER__DNS__NAME="${HEADLESS_SERVICE}.${POD_NAMESPACE}.svc.${domain}"
EMQX_HOST="${POD_NAME}.${EMQX_CLUSTER__DNS__NAME}"
EMQX_NODE_NAME="${EMQX_NAME}@${EMQX_HOST}"
export EMQX_CLUSTER__DNS__NAME EMQX_HOST EMQX_NODE_NAME
echo "mqtt-operator: node name ${EMQX_NODE_NAME}"
exec ` + imageEntrypoint + ` "$@"
`

// aclFile replaces EMQX's stock acl.conf, which ends in {allow, all}. and so
// would allow every topic no built-in database rule mentions: the file
// source is consulted after the built-in database (docs/internals/managed.md,
// "Default deny").
// It only denies; anything it does not match falls through to the
// default-deny no-match setting. The syntax is valid for 4.4 and 5.x.
const aclFile = `%% Written by mqtt-operator. Rules come from MQTTACL objects (built-in
%% database). This file only denies: an allow-all rule at its end would make
%% every topic without a rule allowed.
{deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.
`

// buildConfigMap builds the ConfigMap with the start script and the ACL file.
func buildConfigMap(b *v1alpha1.MQTTBroker) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(b, ConfigMapName(b)),
		Data: map[string]string{
			ConfigKeyStart: startScript,
			ConfigKeyACL:   aclFile,
		},
	}
}

// objectMeta is the metadata every built object shares.
func objectMeta(b *v1alpha1.MQTTBroker, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: b.Namespace, Labels: commonLabels(b)}
}
