// Package emqx5 drives the EMQX 5.x management API (/api/v5).
//
// Differences from v4 that the driver absorbs:
//
//   - Real HTTP statuses and {"code":"UPPER_SNAKE","message":…} errors;
//     publish failures carry an MQTT reason code instead, reported as
//     Error.Code "reason_code:<n>" (see broker.ReasonCodePrefix).
//   - Users live in the single built-in database authenticator, which has
//     one user_id_type for all its users. The driver reads it once and
//     answers requests for the other kind with ClassUnsupported (ListUsers
//     returns an empty list and DeleteUser succeeds, since no such user can
//     exist).
//   - Each subject's ACL is one ordered list written as a whole, so v5
//     keeps the spec's rule order exactly. qos and retain restrictions are
//     not part of broker.Rule: they are not sent (the broker then allows
//     every QoS and retain flag) and are ignored on read.
//   - A missing built-in authenticator or authorization source is
//     ClassMisconfigured, distinct from a missing user (ClassNotFound).
//   - Deletes and kicks of missing objects answer 404; the driver treats
//     that as done, as the broker interface asks.
//   - A permanent ban is sent and read as until "infinity".
package emqx5

import (
	"sync"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// defaultPageSize stays well inside v5's 1..10000 limit while keeping the
// number of requests for large lists small.
const defaultPageSize = 1000

// Client is a broker.Client for the v5 API. It is safe for concurrent use.
type Client struct {
	t        *emqxapi.Transport
	pageSize int

	mu     sync.Mutex
	idType broker.IdentityKind // the authenticator's user_id_type, once read
}

var _ broker.Client = (*Client)(nil)

// New returns a client for the broker at cfg.URL. It does not contact the
// broker; call Health for that.
func New(cfg broker.Config) (*Client, error) {
	t, err := emqxapi.NewTransport(cfg, "/api/v5")
	if err != nil {
		return nil, err
	}
	return &Client{t: t, pageSize: defaultPageSize}, nil
}

// APIVersion reports v5.
func (c *Client) APIVersion() broker.APIVersion { return broker.APIv5 }
