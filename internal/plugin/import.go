package plugin

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// BrokerContent is what import reads from a broker.
type BrokerContent struct {
	Users []broker.User
	// Rules maps each subject kind to its rule lists by subject name ("" for all).
	Rules map[broker.IdentityKind]map[string][]broker.Rule
	Bans  []broker.Ban
}

// ReadBrokerContent reads every user, rule list and ban of a broker.
func ReadBrokerContent(ctx context.Context, cl broker.Client) (BrokerContent, error) {
	c := BrokerContent{Rules: map[broker.IdentityKind]map[string][]broker.Rule{}}
	for _, k := range []broker.IdentityKind{broker.ByUsername, broker.ByClientID} {
		us, err := cl.ListUsers(ctx, k)
		if err != nil && broker.ClassOf(err) != broker.ClassUnsupported {
			return c, fmt.Errorf("list %s users: %w", k, err)
		}
		c.Users = append(c.Users, us...)
	}
	for _, k := range []broker.IdentityKind{broker.ByUsername, broker.ByClientID, broker.ByAll} {
		rs, err := cl.ListRules(ctx, k)
		if err != nil {
			return c, fmt.Errorf("list %s rules: %w", k, err)
		}
		c.Rules[k] = rs
	}
	bans, err := cl.ListBans(ctx)
	if err != nil {
		return c, fmt.Errorf("list bans: %w", err)
	}
	c.Bans = bans
	return c, nil
}

// ImportResult is the manifests import prints and what it had to leave out.
type ImportResult struct {
	Objects []client.Object
	// Warnings describe broker content that cannot be expressed as objects.
	Warnings []string
}

// ImportObjects turns broker content into MQTTUser, MQTTACL and MQTTBan
// objects in the broker's namespace that, applied, leave the broker as it
// is: users adopt the broker's password (spec.keepExistingPassword), rule
// lists are copied in evaluation order, bans keep their reason and end.
// Bans that ended before now are skipped. Names are DNS-1123 forms of the
// identities; an identity that had to be changed, or that meets a name
// already taken, gets a suffix hashed from it, so the same broker always
// gives the same names.
func ImportObjects(b *mqttv1.MQTTBroker, c BrokerContent, now time.Time) ImportResult {
	var res ImportResult
	ref := mqttv1.BrokerReference{Name: b.Name}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: b.Namespace} }

	users := slices.Clone(c.Users)
	slices.SortFunc(users, func(x, y broker.User) int {
		return cmp.Or(-cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.ID, y.ID)) // username before clientid
	})
	names := newNamer()
	for _, u := range users {
		spec := mqttv1.MQTTUserSpec{BrokerRef: ref, Username: u.ID, Superuser: u.Superuser, KeepExistingPassword: true}
		if u.Kind == broker.ByClientID {
			spec.Identifier = mqttv1.IdentifierClientID
		}
		o := &mqttv1.MQTTUser{TypeMeta: typeMeta("MQTTUser"), ObjectMeta: meta(names.name(string(u.Kind), u.ID)), Spec: spec}
		res.Objects = append(res.Objects, o)
	}

	acls, warnings := importACLs(c.Rules, ref, meta)
	res.Objects = append(res.Objects, acls...)
	res.Warnings = append(res.Warnings, warnings...)

	bans := slices.Clone(c.Bans)
	slices.SortFunc(bans, func(x, y broker.Ban) int { return cmp.Or(cmp.Compare(x.As, y.As), cmp.Compare(x.Who, y.Who)) })
	names = newNamer()
	for _, bn := range bans {
		if !bn.Until.IsZero() && !bn.Until.After(now) {
			continue
		}
		spec := mqttv1.MQTTBanSpec{BrokerRef: ref, As: mqttv1.BanKind(bn.As), Who: bn.Who, Reason: bn.Reason}
		if !bn.Until.IsZero() {
			t := metav1.NewTime(bn.Until.UTC())
			spec.Until = &t
		}
		o := &mqttv1.MQTTBan{TypeMeta: typeMeta("MQTTBan"), ObjectMeta: meta(names.name(string(bn.As), string(bn.As)+"-"+bn.Who)), Spec: spec}
		res.Objects = append(res.Objects, o)
	}
	return res
}

// maxACLRules is the MQTTACL's limit on rules.
const maxACLRules = 100

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: mqttv1.GroupVersion.String(), Kind: kind}
}

// checkTopicFilter applies the MQTTACL's topic validation: "#" only as the
// whole last level, "+" only as a whole level.
func checkTopicFilter(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("empty topic")
	case strings.ContainsRune(t, 0):
		return fmt.Errorf("topic contains NUL")
	}
	levels := strings.Split(t, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("'#' may only be the whole last level")
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("'+' may only be a whole level")
		}
	}
	return nil
}

// namer hands out distinct object names for one kind.
type namer struct{ used map[string]bool }

func newNamer() *namer { return &namer{used: map[string]bool{}} }

// name derives a DNS-1123 subdomain from id. When the id had to change, or
// the name is taken, a hash of kind and id is appended.
func (n *namer) name(kind, id string) string {
	base := dnsName(id)
	name := base
	if name != id || n.used[name] || validation.IsDNS1123Subdomain(name) != nil {
		name = withSuffix(base, hashOf(kind+":"+id))
	}
	n.used[name] = true
	return name
}

var notDNS = regexp.MustCompile(`[^a-z0-9.-]+`)

// dnsName lower-cases id, turns runs of other characters into "-" and
// trims what may not start or end a name.
func dnsName(id string) string {
	s := notDNS.ReplaceAllString(strings.ToLower(id), "-")
	s = strings.Trim(s, "-.")
	if len(s) > validation.DNS1123SubdomainMaxLength {
		s = strings.Trim(s[:validation.DNS1123SubdomainMaxLength], "-.")
	}
	return s
}

// withSuffix appends "-suffix", shortening base so the whole fits.
func withSuffix(base, suffix string) string {
	maxBase := validation.DNS1123SubdomainMaxLength - len(suffix) - 1
	if len(base) > maxBase {
		base = strings.Trim(base[:maxBase], "-.")
	}
	if base == "" {
		return "x-" + suffix
	}
	return base + "-" + suffix
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:8]
}

// WriteManifests prints objects as a YAML stream (the default) or, with
// -o json, as a v1 List.
func WriteManifests(w io.Writer, output string, objs []client.Object) error {
	if output == OutputJSON {
		items := make([]any, 0, len(objs))
		for _, o := range objs {
			items = append(items, o)
		}
		return writeDoc(w, OutputJSON, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		// Creation timestamps and empty status are noise in a manifest.
		b = stripGenerated(b)
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// stripGenerated removes the fields a freshly built object serializes
// without meaning: metadata.creationTimestamp: null and an empty status.
func stripGenerated(b []byte) []byte {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l == "  creationTimestamp: null" || l == "status: {}" {
			continue
		}
		lines = append(lines, l)
	}
	return []byte(strings.Join(lines, "\n"))
}

// Import reads a broker's users, rules and bans and prints them as
// manifests; what cannot be imported is described on warn.
func Import(ctx context.Context, conn *BrokerConn, w, warn io.Writer, output string, now time.Time) error {
	content, err := ReadBrokerContent(ctx, conn.Client)
	if err != nil {
		return err
	}
	res := ImportObjects(conn.Broker, content, now)
	for _, msg := range res.Warnings {
		if _, err := fmt.Fprintf(warn, "warning: %s\n", msg); err != nil {
			return err
		}
	}
	return WriteManifests(w, output, res.Objects)
}

// importACLs makes one MQTTACL per subject of rules, in a stable order.
func importACLs(rules map[broker.IdentityKind]map[string][]broker.Rule, ref mqttv1.BrokerReference,
	meta func(string) metav1.ObjectMeta) ([]client.Object, []string) {
	var objs []client.Object
	var warnings []string
	names := newNamer()
	for _, k := range []broker.IdentityKind{broker.ByUsername, broker.ByClientID, broker.ByAll} {
		subjects := rules[k]
		keys := make([]string, 0, len(subjects))
		for s := range subjects {
			keys = append(keys, s)
		}
		slices.Sort(keys)
		for _, s := range keys {
			subject, base := mqttv1.ACLSubject{All: true}, "all-clients"
			switch k {
			case broker.ByUsername:
				subject, base = mqttv1.ACLSubject{Username: s}, s
			case broker.ByClientID:
				subject, base = mqttv1.ACLSubject{ClientID: s}, s
			}
			specRules, w := importRules(subject, subjects[s])
			warnings = append(warnings, w...)
			if len(specRules) > maxACLRules {
				warnings = append(warnings, fmt.Sprintf("%s has %d rules, more than an MQTTACL holds (%d); it was left out", subject.SubjectKey(), len(specRules), maxACLRules))
				continue
			}
			objs = append(objs, &mqttv1.MQTTACL{TypeMeta: typeMeta("MQTTACL"), ObjectMeta: meta(names.name(string(k), base)),
				Spec: mqttv1.MQTTACLSpec{BrokerRef: ref, Subject: subject, Rules: specRules}})
		}
	}
	return objs, warnings
}

// importRules converts a subject's rules, in order, leaving out (with a
// warning) those whose topic filter an MQTTACL refuses.
func importRules(subject mqttv1.ACLSubject, rules []broker.Rule) ([]mqttv1.ACLRule, []string) {
	out := []mqttv1.ACLRule{}
	var warnings []string
	for i, r := range rules {
		if err := checkTopicFilter(r.Topic); err != nil {
			warnings = append(warnings, fmt.Sprintf("%s rule %d (%s %s %q) left out: %v; it matches nothing on the broker, and applying the MQTTACL removes it",
				subject.SubjectKey(), i, r.Permission, r.Action, r.Topic, err))
			continue
		}
		out = append(out, mqttv1.ACLRule{Topic: r.Topic, Action: mqttv1.ACLAction(r.Action), Permission: mqttv1.ACLPermission(r.Permission)})
	}
	return out, warnings
}
