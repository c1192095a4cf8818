package plugin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// ClientRow is a client as the clients command shows it (and the shape of
// -o json|yaml).
type ClientRow struct {
	ClientID    string     `json:"clientid"`
	Username    string     `json:"username,omitempty"`
	IPAddress   string     `json:"ipAddress,omitempty"`
	Connected   bool       `json:"connected"`
	Node        string     `json:"node,omitempty"`
	ConnectedAt *time.Time `json:"connectedAt,omitempty"`
}

func clientRow(c broker.ClientInfo) ClientRow {
	r := ClientRow{ClientID: c.ClientID, Username: c.Username, IPAddress: c.IPAddress, Connected: c.Connected, Node: c.Node}
	if !c.ConnectedAt.IsZero() {
		t := c.ConnectedAt.UTC()
		r.ConnectedAt = &t
	}
	return r
}

// ClientList is the document of clients -o json|yaml.
type ClientList struct {
	Items []ClientRow `json:"items"`
}

func clientTable(rows []ClientRow) [][]string {
	out := [][]string{{"CLIENTID", "USERNAME", "IP", "CONNECTED", "NODE", "CONNECTED AT"}}
	for _, r := range rows {
		at := ""
		if r.ConnectedAt != nil {
			at = r.ConnectedAt.Format(time.RFC3339)
		}
		out = append(out, []string{r.ClientID, r.Username, r.IPAddress, strconv.FormatBool(r.Connected), r.Node, at})
	}
	return out
}

// Clients lists the broker's clients that match f.
func Clients(ctx context.Context, cl broker.Client, w io.Writer, f broker.ClientFilter, output string) error {
	cs, err := cl.ListClients(ctx, f)
	if err != nil {
		return fmt.Errorf("list clients: %w", err)
	}
	l := ClientList{Items: make([]ClientRow, 0, len(cs))}
	for _, c := range cs {
		l.Items = append(l.Items, clientRow(c))
	}
	if output == OutputTable && len(l.Items) == 0 {
		_, err := fmt.Fprintln(w, "No clients found.")
		return err
	}
	return render(w, output, l, func() [][]string { return clientTable(l.Items) })
}

// GetClient shows one client.
func GetClient(ctx context.Context, cl broker.Client, w io.Writer, id, output string) error {
	c, err := cl.GetClient(ctx, id)
	if err != nil {
		return clientError(id, err)
	}
	r := clientRow(c)
	return render(w, output, r, func() [][]string { return clientTable([]ClientRow{r}) })
}

// clientError explains a failed lookup of a client.
func clientError(id string, err error) error {
	if broker.IsNotFound(err) {
		return fmt.Errorf("client %q is not known to the broker: %w", id, err)
	}
	return fmt.Errorf("get client %q: %w", id, err)
}

// Kick disconnects each client and ends its session. A client the broker
// does not know is an error, so that a typo is not reported as done.
func Kick(ctx context.Context, cl broker.Client, w io.Writer, ids []string) error {
	for _, id := range ids {
		if _, err := cl.GetClient(ctx, id); err != nil {
			return clientError(id, err)
		}
		if err := cl.KickClient(ctx, id); err != nil {
			return fmt.Errorf("kick client %q: %w", id, err)
		}
		if _, err := fmt.Fprintf(w, "client %s kicked\n", id); err != nil {
			return err
		}
	}
	return nil
}

// SubscriptionRow is a subscription as the subscriptions command shows it.
type SubscriptionRow struct {
	ClientID string `json:"clientid"`
	Topic    string `json:"topic"`
	QoS      int    `json:"qos"`
	Node     string `json:"node,omitempty"`
}

// SubscriptionList is the document of subscriptions -o json|yaml.
type SubscriptionList struct {
	Items []SubscriptionRow `json:"items"`
}

// Subscriptions lists every client's subscriptions, or one client's.
func Subscriptions(ctx context.Context, cl broker.Client, w io.Writer, clientID, output string) error {
	subs, err := cl.ListSubscriptions(ctx, clientID)
	if err != nil {
		return fmt.Errorf("list subscriptions: %w", err)
	}
	l := SubscriptionList{Items: make([]SubscriptionRow, 0, len(subs))}
	for _, s := range subs {
		l.Items = append(l.Items, SubscriptionRow{ClientID: s.ClientID, Topic: s.Topic, QoS: s.QoS, Node: s.Node})
	}
	if output == OutputTable && len(l.Items) == 0 {
		_, err := fmt.Fprintln(w, "No subscriptions found.")
		return err
	}
	return render(w, output, l, func() [][]string {
		rows := [][]string{{"CLIENTID", "TOPIC", "QOS", "NODE"}}
		for _, s := range l.Items {
			rows = append(rows, []string{s.ClientID, s.Topic, strconv.Itoa(s.QoS), s.Node})
		}
		return rows
	})
}

// SubscribeItem is one entry of a subscribe or unsubscribe batch file.
type SubscribeItem struct {
	ClientID string `json:"clientid"`
	Topic    string `json:"topic"`
	QoS      int    `json:"qos,omitempty"`
}

// ParseSubscribeFile reads a batch file: a YAML or JSON list of
// {clientid, topic, qos}. Every entry is checked before anything is sent.
func ParseSubscribeFile(data []byte) ([]broker.SubscribeRequest, error) {
	var items []SubscribeItem
	if err := yaml.UnmarshalStrict(data, &items); err != nil {
		return nil, fmt.Errorf("read the batch file (a list of {clientid, topic, qos}): %w", err)
	}
	if len(items) == 0 {
		return nil, errors.New("the batch file lists no subscriptions")
	}
	out := make([]broker.SubscribeRequest, 0, len(items))
	for i, it := range items {
		r := broker.SubscribeRequest(it)
		if err := CheckSubscribe(r); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// CheckSubscribe validates one request before it is sent.
func CheckSubscribe(r broker.SubscribeRequest) error {
	switch {
	case r.ClientID == "":
		return errors.New("clientid must not be empty")
	case r.Topic == "":
		return errors.New("topic must not be empty")
	}
	return checkQoS(r.QoS)
}

func checkQoS(q int) error {
	if q < 0 || q > 2 {
		return fmt.Errorf("qos %d: want 0, 1 or 2", q)
	}
	return nil
}

// Subscribe subscribes clients to topics on their behalf; Unsubscribe (when
// unsubscribe is true) removes the subscriptions. One request is sent as
// such, several as a batch; every result is printed, and any failure makes
// the command fail after the others were tried.
func Subscribe(ctx context.Context, cl broker.Client, w io.Writer, rs []broker.SubscribeRequest, unsubscribe bool) error {
	verb, done := "subscribe", "subscribed to"
	if unsubscribe {
		verb, done = "unsubscribe", "unsubscribed from"
	}
	var errs []error
	switch len(rs) {
	case 0:
		return fmt.Errorf("nothing to %s", verb)
	case 1:
		var err error
		if unsubscribe {
			err = cl.Unsubscribe(ctx, rs[0].ClientID, rs[0].Topic)
		} else {
			err = cl.Subscribe(ctx, rs[0])
		}
		errs = []error{err}
	default:
		var err error
		if unsubscribe {
			errs, err = cl.UnsubscribeBatch(ctx, rs)
		} else {
			errs, err = cl.SubscribeBatch(ctx, rs)
		}
		if err != nil {
			return fmt.Errorf("%s batch: %w", verb, err)
		}
	}
	if len(rs) == 1 && errs[0] != nil {
		return fmt.Errorf("%s client %q to %q: %w", verb, rs[0].ClientID, rs[0].Topic, errs[0])
	}
	failed := 0
	for i, r := range rs {
		var err error
		if i < len(errs) {
			err = errs[i]
		}
		if err != nil {
			failed++
			if _, werr := fmt.Fprintf(w, "client %s not %s %s: %v\n", r.ClientID, done, r.Topic, err); werr != nil {
				return werr
			}
			continue
		}
		if _, err := fmt.Fprintf(w, "client %s %s %s\n", r.ClientID, done, r.Topic); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed", failed, len(rs))
	}
	return nil
}

// Payload encodings of publish.
const (
	EncodingPlain  = "plain"
	EncodingBase64 = "base64"
)

// DecodePayload turns a payload as given into bytes.
func DecodePayload(payload []byte, encoding string) ([]byte, error) {
	switch encoding {
	case "", EncodingPlain:
		return payload, nil
	case EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(string(payload))
		if err != nil {
			return nil, fmt.Errorf("payload is not valid base64: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown encoding %q: want plain or base64", encoding)
}

// PublishItem is one entry of a publish batch file.
type PublishItem struct {
	Topic    string `json:"topic"`
	Payload  string `json:"payload"`
	Encoding string `json:"encoding,omitempty"`
	QoS      int    `json:"qos,omitempty"`
	Retain   bool   `json:"retain,omitempty"`
}

// ParsePublishFile reads a batch file: a YAML or JSON list of {topic,
// payload, encoding, qos, retain}.
func ParsePublishFile(data []byte) ([]broker.Message, error) {
	var items []PublishItem
	if err := yaml.UnmarshalStrict(data, &items); err != nil {
		return nil, fmt.Errorf("read the batch file (a list of {topic, payload, encoding, qos, retain}): %w", err)
	}
	if len(items) == 0 {
		return nil, errors.New("the batch file lists no messages")
	}
	out := make([]broker.Message, 0, len(items))
	for i, it := range items {
		p, err := DecodePayload([]byte(it.Payload), it.Encoding)
		if err == nil {
			err = CheckMessage(it.Topic, it.QoS)
		}
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		out = append(out, broker.Message{Topic: it.Topic, Payload: p, QoS: it.QoS, Retain: it.Retain})
	}
	return out, nil
}

// CheckMessage validates a message before it is sent; the broker judges
// the topic itself.
func CheckMessage(topic string, qos int) error {
	if topic == "" {
		return errors.New("topic must not be empty")
	}
	return checkQoS(qos)
}

// PublishRow is the result of one published message.
type PublishRow struct {
	Topic         string `json:"topic"`
	ID            string `json:"id,omitempty"`
	NoSubscribers bool   `json:"noSubscribers,omitempty"`
	Error         string `json:"error,omitempty"`
}

// PublishList is the document of publish -o json|yaml.
type PublishList struct {
	Items []PublishRow `json:"items"`
}

// Publish sends messages through the broker's API: one as a single
// publish, several as a batch. Every result is printed; any failure makes
// the command fail.
func Publish(ctx context.Context, cl broker.Client, w io.Writer, ms []broker.Message, output string) error {
	var results []broker.PublishResult
	switch len(ms) {
	case 0:
		return errors.New("nothing to publish")
	case 1:
		r, err := cl.Publish(ctx, ms[0])
		if err != nil {
			return fmt.Errorf("publish to %q: %w", ms[0].Topic, err)
		}
		results = []broker.PublishResult{r}
	default:
		rs, err := cl.PublishBatch(ctx, ms)
		if err != nil {
			return fmt.Errorf("publish batch: %w", err)
		}
		results = rs
	}
	l := PublishList{Items: make([]PublishRow, 0, len(ms))}
	failed := 0
	for i, m := range ms {
		row := PublishRow{Topic: m.Topic}
		if i < len(results) {
			row.ID, row.NoSubscribers = results[i].ID, results[i].NoSubscribers
			if results[i].Err != nil {
				row.Error = results[i].Err.Error()
			}
		} else {
			row.Error = "the broker sent no result"
		}
		if row.Error != "" {
			failed++
		}
		l.Items = append(l.Items, row)
	}
	err := render(w, output, l, func() [][]string {
		rows := [][]string{{"TOPIC", "RESULT", "ID"}}
		for _, r := range l.Items {
			result := "published"
			switch {
			case r.Error != "":
				result = "failed: " + r.Error
			case r.NoSubscribers:
				result = "published, no subscribers"
			}
			rows = append(rows, []string{r.Topic, result, r.ID})
		}
		return rows
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d messages failed", failed, len(ms))
	}
	return nil
}

// MetricsDoc is the document of metrics and stats -o json|yaml: stats
// fills the gauges, metrics the counters.
type MetricsDoc struct {
	Connections      *int64 `json:"connections,omitempty"`
	LiveConnections  *int64 `json:"liveConnections,omitempty"`
	Sessions         *int64 `json:"sessions,omitempty"`
	Subscriptions    *int64 `json:"subscriptions,omitempty"`
	Topics           *int64 `json:"topics,omitempty"`
	RetainedMessages *int64 `json:"retainedMessages,omitempty"`

	MessagesReceived       *int64 `json:"messagesReceived,omitempty"`
	MessagesSent           *int64 `json:"messagesSent,omitempty"`
	MessagesDropped        *int64 `json:"messagesDropped,omitempty"`
	MessagesRetained       *int64 `json:"messagesRetained,omitempty"`
	AuthenticationFailures *int64 `json:"authenticationFailures,omitempty"`
	AuthorizationDenials   *int64 `json:"authorizationDenials,omitempty"`
}

// metricRow is one named value of the stats (a gauge) or metrics (a
// counter) table, and the field of the document that carries it.
type metricRow struct {
	name  string
	gauge bool
	field **int64
	value *int64
}

// Metrics prints the broker's counters since its nodes started (metrics)
// or, with stats, its gauges now: connections, sessions, subscriptions,
// topics and retained messages. Both are summed over the cluster's nodes.
func Metrics(ctx context.Context, cl broker.Client, w io.Writer, stats bool, output string) error {
	m, err := cl.Metrics(ctx)
	if err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	var doc MetricsDoc
	var rows []metricRow
	for _, r := range []metricRow{
		{"connections", true, &doc.Connections, &m.Connections},
		{"live_connections", true, &doc.LiveConnections, &m.LiveConnections},
		{"sessions", true, &doc.Sessions, &m.Sessions},
		{"subscriptions", true, &doc.Subscriptions, &m.Subscriptions},
		{"topics", true, &doc.Topics, &m.Topics},
		{"retained", true, &doc.RetainedMessages, &m.RetainedMessages},
		{"messages.received", false, &doc.MessagesReceived, &m.MessagesReceived},
		{"messages.sent", false, &doc.MessagesSent, &m.MessagesSent},
		{"messages.dropped", false, &doc.MessagesDropped, &m.MessagesDropped},
		{"messages.retained", false, &doc.MessagesRetained, &m.MessagesRetained},
		{"authentication.failures", false, &doc.AuthenticationFailures, &m.AuthenticationFailures},
		{"authorization.denials", false, &doc.AuthorizationDenials, &m.AuthorizationDenials},
	} {
		if r.gauge == stats {
			*r.field = r.value
			rows = append(rows, r)
		}
	}
	return render(w, output, doc, func() [][]string {
		out := [][]string{{"NAME", "VALUE"}}
		for _, r := range rows {
			out = append(out, []string{r.name, strconv.FormatInt(*r.value, 10)})
		}
		return out
	})
}
