package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Output formats of the status command.
const (
	OutputTable = ""
	OutputWide  = "wide"
	OutputJSON  = "json"
)

// messageWidth is how many characters of a condition message the table
// shows; -o wide shows all of it.
const messageWidth = 60

// noStatusMessage describes an object the operator has not reported on.
const noStatusMessage = "no status reported by the operator yet"

// StatusOptions selects what the status command shows.
type StatusOptions struct {
	// Namespace to list; ignored with AllNamespaces.
	Namespace string
	// AllNamespaces lists every namespace and adds a NAMESPACE column.
	AllNamespaces bool
	// Kinds restricts the table to these kinds; empty means all four.
	Kinds []Kind
	// Output is OutputTable, OutputWide or OutputJSON.
	Output string
}

// StatusRow is one object in the status output. It is also the JSON shape of
// -o json.
type StatusRow struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	// Broker is the referenced MQTTBroker: its name, or namespace/name when
	// it lives in another namespace. Empty for an MQTTBroker.
	Broker string `json:"broker,omitempty"`
	// Ready is the Ready condition's status: True, False or Unknown (also
	// when the object has no Ready condition yet).
	Ready       string `json:"ready"`
	Stalled     bool   `json:"stalled"`
	Reconciling bool   `json:"reconciling"`
	// Stale is true when the status describes an older generation of the spec.
	Stale bool `json:"stale"`
	// Deleting is true once the object's deletion has started.
	Deleting bool `json:"deleting"`
	// Reason and Message explain Ready (or, without Ready, Stalled or
	// Reconciling). Message is never truncated here.
	Reason             string      `json:"reason,omitempty"`
	Message            string      `json:"message,omitempty"`
	Generation         int64       `json:"generation"`
	ObservedGeneration int64       `json:"observedGeneration"`
	CreationTimestamp  metav1.Time `json:"creationTimestamp"`

	kindIndex int
}

// StatusList is the document written by -o json.
type StatusList struct {
	Items []StatusRow `json:"items"`
}

// ReadyColumn is the READY cell: the Ready status followed by the states
// that qualify it, e.g. "False (Stalled)" or "True (Stale)".
func (r StatusRow) ReadyColumn() string {
	var marks []string
	if r.Deleting {
		marks = append(marks, "Deleting")
	}
	if r.Stalled {
		marks = append(marks, "Stalled")
	}
	if r.Reconciling {
		marks = append(marks, "Reconciling")
	}
	if r.Stale {
		marks = append(marks, "Stale")
	}
	if len(marks) == 0 {
		return r.Ready
	}
	return r.Ready + " (" + strings.Join(marks, ", ") + ")"
}

// Status writes the readiness of the MQTT objects as a table or as JSON.
func Status(ctx context.Context, c client.Reader, w io.Writer, clk clock.PassiveClock, opts StatusOptions) error {
	switch opts.Output {
	case OutputTable, OutputWide, OutputJSON:
	default:
		return fmt.Errorf("unknown output format %q: want json or wide", opts.Output)
	}
	rows, err := CollectStatus(ctx, c, opts)
	if err != nil {
		return err
	}
	if opts.Output == OutputJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(StatusList{Items: rows})
	}
	if len(rows) == 0 {
		if opts.AllNamespaces {
			_, err = fmt.Fprintln(w, "No MQTT resources found.")
		} else {
			_, err = fmt.Fprintf(w, "No MQTT resources found in namespace %s.\n", opts.Namespace)
		}
		return err
	}
	return writeTable(w, rows, clk.Now(), opts)
}

// CollectStatus lists the objects and summarizes their conditions, sorted by
// namespace, kind (MQTTBroker, MQTTUser, MQTTACL, MQTTBan) and name.
func CollectStatus(ctx context.Context, c client.Reader, opts StatusOptions) ([]StatusRow, error) {
	selected := opts.Kinds
	if len(selected) == 0 {
		selected = kinds
	}
	var listOpts []client.ListOption
	if !opts.AllNamespaces {
		listOpts = append(listOpts, client.InNamespace(opts.Namespace))
	}
	rows := make([]StatusRow, 0)
	for _, k := range selected {
		objs, err := k.list(ctx, c, listOpts...)
		if err != nil {
			if apimeta.IsNoMatchError(err) {
				return nil, fmt.Errorf("list %s: the kind is not known to the cluster (are the mqtt-operator CRDs installed?)", k.Kind)
			}
			return nil, fmt.Errorf("list %s: %w", k.Kind, err)
		}
		for _, o := range objs {
			row := summarize(o, k.brokerRef(o))
			row.APIVersion, row.Kind, row.kindIndex = mqttv1.GroupVersion.String(), k.Kind, kindIndex(k)
			rows = append(rows, row)
		}
	}
	slices.SortFunc(rows, func(a, b StatusRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.kindIndex, b.kindIndex), cmp.Compare(a.Name, b.Name))
	})
	return rows, nil
}

func kindIndex(k Kind) int {
	return slices.IndexFunc(kinds, func(x Kind) bool { return x.Kind == k.Kind })
}

// summarize reads an object's kstatus conditions.
func summarize(o statusObject, ref *mqttv1.BrokerReference) StatusRow {
	st := o.GetCommonStatus()
	row := StatusRow{
		Namespace:          o.GetNamespace(),
		Name:               o.GetName(),
		Ready:              string(metav1.ConditionUnknown),
		Deleting:           !o.GetDeletionTimestamp().IsZero(),
		Generation:         o.GetGeneration(),
		ObservedGeneration: st.ObservedGeneration,
		CreationTimestamp:  o.GetCreationTimestamp(),
	}
	if ref != nil {
		row.Broker = ref.Name
		if ref.Namespace != "" && ref.Namespace != row.Namespace {
			row.Broker = ref.Namespace + "/" + ref.Name
		}
	}
	ready := apimeta.FindStatusCondition(st.Conditions, mqttv1.ConditionReady)
	stalled := apimeta.FindStatusCondition(st.Conditions, mqttv1.ConditionStalled)
	reconciling := apimeta.FindStatusCondition(st.Conditions, mqttv1.ConditionReconciling)
	row.Stalled = stalled != nil && stalled.Status == metav1.ConditionTrue
	row.Reconciling = reconciling != nil && reconciling.Status == metav1.ConditionTrue

	observed := st.ObservedGeneration
	if observed == 0 && ready != nil {
		observed = ready.ObservedGeneration
	}
	row.Stale = observed != 0 && observed < row.Generation

	switch {
	case ready != nil:
		row.Ready, row.Reason, row.Message = string(ready.Status), ready.Reason, ready.Message
	case row.Stalled:
		row.Reason, row.Message = stalled.Reason, stalled.Message
	case row.Reconciling:
		row.Reason, row.Message = reconciling.Reason, reconciling.Message
	case len(st.Conditions) == 0:
		row.Message = noStatusMessage
	}
	return row
}

func writeTable(w io.Writer, rows []StatusRow, now time.Time, opts StatusOptions) error {
	header := []string{"KIND", "NAME", "BROKER", "READY", "REASON", "MESSAGE", "AGE"}
	if opts.AllNamespaces {
		header = slices.Insert(header, 1, "NAMESPACE")
	}
	lines := [][]string{header}
	for _, r := range rows {
		msg := oneLine(r.Message)
		if opts.Output != OutputWide {
			msg = truncate(msg, messageWidth)
		}
		cells := []string{r.Kind, r.Name, r.Broker, r.ReadyColumn(), r.Reason, msg, age(r.CreationTimestamp, now)}
		if opts.AllNamespaces {
			cells = slices.Insert(cells, 1, r.Namespace)
		}
		lines = append(lines, cells)
	}
	return writeRows(w, lines)
}

func age(created metav1.Time, now time.Time) string {
	if created.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(created.Time))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine collapses runs of white space (newlines and tabs included) so a
// message cannot break the table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate shortens s to at most n characters, marking the cut with "...".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
