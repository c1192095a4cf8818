// Package broker describes an MQTT broker's management API in domain terms.
//
// Controllers talk to a broker only through the interfaces in this package;
// the drivers in emqx4 and emqx5 translate them to EMQX's HTTP APIs. No HTTP
// type crosses this boundary: failures are *Error values with a Class the
// callers switch on.
package broker

import (
	"context"
	"net/http"
	"time"
)

// APIVersion names the management API flavour a driver speaks.
type APIVersion string

const (
	// APIv4 is the /api/v4 API of EMQX 4.x and EMQX Cloud v4 deployments.
	APIv4 APIVersion = "v4"
	// APIv5 is the /api/v5 API of EMQX 5.x.
	APIv5 APIVersion = "v5"
)

// IdentityKind says which MQTT identity a user or rule is attached to.
type IdentityKind string

const (
	// ByUsername identifies by the MQTT CONNECT username.
	ByUsername IdentityKind = "username"
	// ByClientID identifies by the MQTT client identifier.
	ByClientID IdentityKind = "clientid"
	// ByAll is the ACL subject that applies to every client ($all in v4, "all" in v5).
	ByAll IdentityKind = "all"
)

// User is a built-in database user as the broker reports it. Brokers never
// return passwords.
type User struct {
	Kind      IdentityKind
	ID        string
	Superuser bool
}

// UserSpec is what is written to the broker for a user.
type UserSpec struct {
	Kind     IdentityKind
	ID       string
	Password string
	// Superuser is honoured by v5 only; the v4 driver rejects true with ClassUnsupported.
	Superuser bool
}

// Action is what an ACL rule governs.
type Action string

// The actions a rule can govern; ActionAll is both.
const (
	ActionPublish   Action = "publish"
	ActionSubscribe Action = "subscribe"
	ActionAll       Action = "all"
)

// Permission is an ACL rule's verdict.
type Permission string

// The two verdicts.
const (
	Allow Permission = "allow"
	Deny  Permission = "deny"
)

// Rule is one ACL rule. Rules of a subject are evaluated in slice order,
// first match wins.
type Rule struct {
	Topic      string
	Action     Action
	Permission Permission
}

// Subject is who a rule set applies to. Name is empty for ByAll.
type Subject struct {
	Kind IdentityKind
	Name string
}

// BanKind is what a ban matches on.
type BanKind string

// What a ban can match: a client id, a username, or a peer address.
const (
	BanClientID BanKind = "clientid"
	BanUsername BanKind = "username"
	BanPeerHost BanKind = "peerhost"
)

// Ban is an entry of the broker's banned list.
type Ban struct {
	As     BanKind
	Who    string
	Reason string
	By     string
	At     time.Time
	// Until is when the ban ends; the zero value means permanent.
	Until time.Time
}

// ClientInfo is a session known to the broker. (Named ClientInfo because
// Client is the driver interface below.)
type ClientInfo struct {
	ClientID    string
	Username    string
	Node        string
	Connected   bool
	IPAddress   string
	ConnectedAt time.Time
}

// ClientFilter narrows a client listing; empty fields match everything.
type ClientFilter struct {
	ClientID string
	Username string
	// IPAddress is the client's peer address, exactly.
	IPAddress string
	// State is the connection state: ConnConnected, ConnIdle or ConnDisconnected.
	State ConnState
}

// ConnState is a client's connection state as both APIs name it.
type ConnState string

const (
	// ConnConnected is a client with a live connection.
	ConnConnected ConnState = "connected"
	// ConnIdle is a client that has connected at the transport level only.
	ConnIdle ConnState = "idle"
	// ConnDisconnected is a session kept after its connection ended.
	ConnDisconnected ConnState = "disconnected"
)

// Subscription is a topic filter a client is subscribed to.
type Subscription struct {
	ClientID string
	Topic    string
	QoS      int
	Node     string
}

// Message is published through the API on behalf of the broker.
type Message struct {
	Topic   string
	Payload []byte
	QoS     int
	Retain  bool
}

// PublishResult is the outcome of one published message. Err is set for a
// message the broker refused inside a batch.
type PublishResult struct {
	ID            string
	NoSubscribers bool
	Err           error
}

// SubscribeRequest asks the broker to subscribe a connected client.
type SubscribeRequest struct {
	ClientID string
	Topic    string
	QoS      int
}

// Metrics is a summary of the broker's stats (gauges: the state now) and
// metrics (counters: cumulative since each node started), over its nodes.
// Per-node values are summed; values every node reports for the whole
// cluster (topics, retained messages) are taken once. A counter can go
// down when a node restarts.
type Metrics struct {
	// Connections counts the clients' channels, including those of
	// disconnected sessions the broker keeps (connections.count).
	Connections int64
	// LiveConnections counts clients connected now (live_connections.count).
	LiveConnections int64
	// Sessions counts sessions, connected or kept (sessions.count).
	Sessions int64
	// Subscriptions counts subscriptions, shared ones included.
	Subscriptions int64
	// Topics counts the topics with at least one subscriber in the
	// cluster's route table.
	Topics int64
	// RetainedMessages counts the retained messages stored now.
	RetainedMessages int64

	// MessagesReceived counts PUBLISH messages received from clients.
	MessagesReceived int64
	// MessagesSent counts PUBLISH messages sent to clients.
	MessagesSent int64
	// MessagesDropped counts messages dropped: no subscriber, not
	// authorized, queue full or expired.
	MessagesDropped int64
	// MessagesRetained counts messages received with the retain flag.
	MessagesRetained int64
	// AuthenticationFailures counts CONNECTs refused by authentication.
	AuthenticationFailures int64
	// AuthorizationDenials counts publishes and subscriptions refused by
	// authorization (cached results included).
	AuthorizationDenials int64
}

// Info is what an authenticated health check learns about the broker.
type Info struct {
	Version string
	Nodes   int
	// RunningNodes counts nodes the broker reports as running.
	RunningNodes int
}

// Users manages built-in database users.
type Users interface {
	// CreateUser adds a user; ClassAlreadyExists when it is there already.
	CreateUser(ctx context.Context, u UserSpec) error
	// GetUser returns ClassNotFound when the user does not exist.
	GetUser(ctx context.Context, kind IdentityKind, id string) (User, error)
	// ListUsers reads every page.
	ListUsers(ctx context.Context, kind IdentityKind) ([]User, error)
	// UpdateUser sets the password (and superuser flag on v5); ClassNotFound when absent.
	UpdateUser(ctx context.Context, u UserSpec) error
	// DeleteUser is idempotent: a missing user is not an error.
	DeleteUser(ctx context.Context, kind IdentityKind, id string) error
}

// ACLs manages built-in database authorization rules.
type ACLs interface {
	// GetRules returns the subject's rules in evaluation order (empty when none).
	GetRules(ctx context.Context, s Subject) ([]Rule, error)
	// ListRules reads every page of one kind's rules, keyed by subject name
	// ("" for ByAll), each in evaluation order.
	ListRules(ctx context.Context, kind IdentityKind) (map[string][]Rule, error)
	// ReplaceRules makes the subject's rules equal to rules, removing extras.
	ReplaceRules(ctx context.Context, s Subject, rules []Rule) error
	// DeleteRules removes every rule of the subject; idempotent.
	DeleteRules(ctx context.Context, s Subject) error
}

// Bans manages the banned list.
type Bans interface {
	// CreateBan adds a ban. On v4 it overwrites an existing entry; on v5 an
	// active entry for the same (as, who) gives ClassAlreadyExists.
	CreateBan(ctx context.Context, b Ban) error
	// ListBans reads every page.
	ListBans(ctx context.Context) ([]Ban, error)
	// DeleteBan is idempotent: a missing entry is not an error.
	DeleteBan(ctx context.Context, as BanKind, who string) error
}

// Clients reads and kicks live sessions.
type Clients interface {
	ListClients(ctx context.Context, f ClientFilter) ([]ClientInfo, error)
	// GetClient returns ClassNotFound when the client is not known.
	GetClient(ctx context.Context, clientID string) (ClientInfo, error)
	// KickClient disconnects the client and ends its session; a client that
	// is not connected is not an error.
	KickClient(ctx context.Context, clientID string) error
	// ClearAuthzCache drops the client's cached authorization results so
	// that changed rules apply at once; a client that is not connected is not an error.
	ClearAuthzCache(ctx context.Context, clientID string) error
}

// PubSub publishes and manages subscriptions on behalf of clients.
type PubSub interface {
	// ListSubscriptions lists every page; clientID "" lists all clients'.
	ListSubscriptions(ctx context.Context, clientID string) ([]Subscription, error)
	Publish(ctx context.Context, m Message) (PublishResult, error)
	PublishBatch(ctx context.Context, ms []Message) ([]PublishResult, error)
	// Subscribe returns ClassNotFound when the client is not connected.
	Subscribe(ctx context.Context, r SubscribeRequest) error
	Unsubscribe(ctx context.Context, clientID, topic string) error
	// SubscribeBatch returns one error (or nil) per request, in order.
	SubscribeBatch(ctx context.Context, rs []SubscribeRequest) ([]error, error)
	// UnsubscribeBatch returns one error (or nil) per request, in order.
	UnsubscribeBatch(ctx context.Context, rs []SubscribeRequest) ([]error, error)
}

// Client is everything a controller may ask of a broker.
type Client interface {
	Users
	ACLs
	Bans
	Clients
	PubSub
	// Health is an authenticated read that proves the API answers and the
	// credentials are valid.
	Health(ctx context.Context) (Info, error)
	Metrics(ctx context.Context) (Metrics, error)
	APIVersion() APIVersion
}

// Config is what a client is built from.
type Config struct {
	// URL is the management listener's base, e.g. http://emqx:18083; a
	// trailing /api/v4 or /api/v5 is accepted and ignored.
	URL        string
	APIVersion APIVersion
	// Username and Password are the AppID/AppSecret (v4) or API key/secret (v5).
	Username string
	Password string
	// CABundle is PEM; empty means the system roots.
	CABundle           []byte
	InsecureSkipVerify bool
	// Timeout bounds each API call (including retries); zero means 10s.
	Timeout time.Duration
	// Observe, when set, is told about every API request the client makes.
	Observe func(RequestEvent)
	// Transport, when set, carries every request instead of a transport
	// built from CABundle and InsecureSkipVerify, which are then ignored. It
	// lets a caller reach a broker through a tunnel (the kubectl plugin's
	// port-forward) while URL keeps naming the broker. It is set when the
	// client is built and never seen by the callers of Client.
	Transport http.RoundTripper
}

// RequestEvent describes one API request for metrics.
type RequestEvent struct {
	Operation string
	// Result is the broker's result code ("0", "115", "BAD_REQUEST"), or
	// "error" when no answer was read.
	//
	// The drivers fill it as follows: v4 sends the envelope's code, the
	// reason (e.g. "UserExists") for a reply without a code, or the HTTP
	// status for a framework-level reply ("401", "404"); v5 sends the HTTP
	// status of a success ("200", "201", "204"), the error code of a
	// failure, "reason_code:<n>" for a publish failure, or the status when
	// the body has no code. Every value comes from a small fixed set, so it
	// is safe as a metric label.
	Result   string
	Duration time.Duration
}

// Factory builds a client for a broker; reconcilers get one injected so
// tests can point them anywhere.
type Factory interface {
	New(cfg Config) (Client, error)
}

// FactoryFunc adapts a function to Factory.
type FactoryFunc func(cfg Config) (Client, error)

// New calls f.
func (f FactoryFunc) New(cfg Config) (Client, error) { return f(cfg) }

// Node is a member of the broker's cluster as the node answering the API
// sees it.
type Node struct {
	Name    string
	Running bool
}

// Cluster is implemented by drivers that can list the cluster's members
// (v4 and v5). The list is the view of whichever node answers: its own
// cluster's running members, plus, on v5, the members it has lost contact
// with (stopped). A node that formed a cluster of its own is absent.
type Cluster interface {
	// Nodes lists the answering node's cluster.
	Nodes(ctx context.Context) ([]Node, error)
}

// NodeRemover is implemented by drivers whose API can remove a departed
// node from the cluster (v5). A node whose pod is gone otherwise lingers as
// stopped until the broker's autoclean (24 hours on 5.x).
type NodeRemover interface {
	// ForceLeave removes a node; one that is not a member (any more) is not
	// an error.
	ForceLeave(ctx context.Context, node string) error
}

// AuthzCacheFlusher is implemented by drivers whose API clears every
// client's cached authorization results in one call (v5); others clear
// them client by client.
type AuthzCacheFlusher interface {
	ClearAllAuthzCaches(ctx context.Context) error
}
