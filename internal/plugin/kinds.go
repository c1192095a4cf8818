// Package plugin implements the commands of the kubectl-mqtt plugin
// (status, credentials, reconcile) against a controller-runtime client, so
// that they can be tested with a fake client and a fake clock. The command
// line itself lives in cmd/kubectl-mqtt.
package plugin

import (
	"context"
	"fmt"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// ReconcileRequestedAtAnnotation asks the operator to reconcile an object
// now; see the API package.
const ReconcileRequestedAtAnnotation = mqttv1.ReconcileRequestedAtAnnotation

// NewScheme returns a scheme holding the built-in kinds and the MQTT kinds.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := mqttv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// statusObject is what the status table needs of every kind.
type statusObject interface {
	client.Object
	mqttv1.StatusAccess
}

// Kind describes one of the operator's kinds for the commands.
type Kind struct {
	// Kind is the API kind, e.g. MQTTUser.
	Kind string
	// names are the accepted lower-case spellings: singular, plural, short name.
	names []string
	// newObject returns an empty object of the kind.
	newObject func() client.Object
	// list returns the objects of the kind matching opts.
	list func(ctx context.Context, c client.Reader, opts ...client.ListOption) ([]statusObject, error)
	// brokerRef returns the object's broker reference; nil for MQTTBroker.
	brokerRef func(o client.Object) *mqttv1.BrokerReference
}

// Singular is the lower-case singular name, as used in kind/name references.
func (k Kind) Singular() string { return k.names[0] }

// kinds lists the kinds in the order the status table shows them.
var kinds = []Kind{
	{
		Kind:      "MQTTBroker",
		names:     []string{"mqttbroker", "mqttbrokers", "mqb"},
		newObject: func() client.Object { return &mqttv1.MQTTBroker{} },
		list:      listOf(func() client.ObjectList { return &mqttv1.MQTTBrokerList{} }),
		brokerRef: func(client.Object) *mqttv1.BrokerReference { return nil },
	},
	{
		Kind:      "MQTTUser",
		names:     []string{"mqttuser", "mqttusers", "mqu"},
		newObject: func() client.Object { return &mqttv1.MQTTUser{} },
		list:      listOf(func() client.ObjectList { return &mqttv1.MQTTUserList{} }),
		brokerRef: func(o client.Object) *mqttv1.BrokerReference { return &o.(*mqttv1.MQTTUser).Spec.BrokerRef },
	},
	{
		Kind:      "MQTTACL",
		names:     []string{"mqttacl", "mqttacls", "mqacl"},
		newObject: func() client.Object { return &mqttv1.MQTTACL{} },
		list:      listOf(func() client.ObjectList { return &mqttv1.MQTTACLList{} }),
		brokerRef: func(o client.Object) *mqttv1.BrokerReference { return &o.(*mqttv1.MQTTACL).Spec.BrokerRef },
	},
	{
		Kind:      "MQTTBan",
		names:     []string{"mqttban", "mqttbans", "mqban"},
		newObject: func() client.Object { return &mqttv1.MQTTBan{} },
		list:      listOf(func() client.ObjectList { return &mqttv1.MQTTBanList{} }),
		brokerRef: func(o client.Object) *mqttv1.BrokerReference { return &o.(*mqttv1.MQTTBan).Spec.BrokerRef },
	},
}

// groupSuffix may follow a kind name, as in mqttuser.mqtt.mqttoperator.io.
var groupSuffix = "." + mqttv1.GroupVersion.Group

// ParseKind resolves a kind name, case-insensitively: the singular, the
// plural or the short name, optionally followed by the API group.
func ParseKind(s string) (Kind, error) {
	name := strings.TrimSuffix(strings.ToLower(s), groupSuffix)
	for _, k := range kinds {
		for _, n := range k.names {
			if n == name {
				return k, nil
			}
		}
	}
	return Kind{}, fmt.Errorf("unknown kind %q: want one of %s", s, kindChoices())
}

func kindChoices() string {
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s (%s)", k.names[0], k.names[len(k.names)-1]))
	}
	return strings.Join(parts, ", ")
}

// Ref is a kind/name reference given on the command line.
type Ref struct {
	Kind Kind
	Name string
}

// String is the reference as kind/name.
func (r Ref) String() string { return r.Kind.Singular() + "/" + r.Name }

// ParseRef parses kind/name.
func ParseRef(s string) (Ref, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || kind == "" || name == "" || strings.Contains(name, "/") {
		return Ref{}, fmt.Errorf("invalid reference %q: want <kind>/<name>, e.g. mqttuser/sensor-1", s)
	}
	k, err := ParseKind(kind)
	if err != nil {
		return Ref{}, err
	}
	if err := ValidateName(name); err != nil {
		return Ref{}, err
	}
	return Ref{Kind: k, Name: name}, nil
}

// ValidateName checks an object name given on the command line.
func ValidateName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid name %q: %s", name, errs[0])
	}
	return nil
}

// ValidateNamespace checks a namespace given on the command line.
func ValidateNamespace(ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("invalid namespace %q: %s", ns, errs[0])
	}
	return nil
}

// KindNames lists the accepted spellings of every kind for usage text, e.g.
// "mqttbroker|mqttbrokers|mqb, mqttuser|mqttusers|mqu, ...".
func KindNames() string {
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, strings.Join(k.names, "|"))
	}
	return strings.Join(parts, ", ")
}

// listOf lists one kind's objects as statusObjects.
func listOf(newList func() client.ObjectList) func(context.Context, client.Reader, ...client.ListOption) ([]statusObject, error) {
	return func(ctx context.Context, c client.Reader, opts ...client.ListOption) ([]statusObject, error) {
		l := newList()
		if err := c.List(ctx, l, opts...); err != nil {
			return nil, err
		}
		var out []statusObject
		err := apimeta.EachListItem(l, func(o runtime.Object) error {
			out = append(out, o.(statusObject))
			return nil
		})
		return out, err
	}
}
