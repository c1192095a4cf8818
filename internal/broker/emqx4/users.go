package emqx4

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// userRoute returns the collection and the JSON field naming the login for
// a user kind; v4 keeps username and clientid users in separate namespaces.
func userRoute(op string, kind broker.IdentityKind) (collection, field string, err error) {
	switch kind {
	case broker.ByUsername:
		return "auth_username", "username", nil
	case broker.ByClientID:
		return "auth_clientid", "clientid", nil
	}
	return "", "", unsupported(op, "users are identified by username or clientid, not "+string(kind))
}

// wireUser is a user as v4 lists it. 4.3.0–4.3.5 also return the stored
// password hash; it is deliberately not decoded.
type wireUser struct {
	Username string `json:"username"`
	ClientID string `json:"clientid"`
}

func (w wireUser) toUser(kind broker.IdentityKind) broker.User {
	id := w.Username
	if kind == broker.ByClientID {
		id = w.ClientID
	}
	return broker.User{Kind: kind, ID: id}
}

// CreateUser adds a user; an existing one gives ClassAlreadyExists
// (the broker's uncoded "existed").
func (c *Client) CreateUser(ctx context.Context, u broker.UserSpec) error {
	const op = "CreateUser"
	coll, field, err := userRoute(op, u.Kind)
	if err != nil {
		return err
	}
	if u.Superuser {
		return unsupported(op, "the v4 API has no superusers")
	}
	if u.ID == "" {
		return invalid(op, "user id must not be empty")
	}
	body := map[string]string{field: u.ID, "password": u.Password}
	_, err = c.call(ctx, op, http.MethodPost, emqxapi.Path(coll), nil, body, u.Password)
	return err
}

// GetUser reads one user. v4 answers a miss with success and an empty
// object, which becomes ClassNotFound.
func (c *Client) GetUser(ctx context.Context, kind broker.IdentityKind, id string) (broker.User, error) {
	const op = "GetUser"
	coll, _, err := userRoute(op, kind)
	if err != nil {
		return broker.User{}, err
	}
	if id == "" {
		return broker.User{}, invalid(op, "user id must not be empty")
	}
	env, err := c.call(ctx, op, http.MethodGet, emqxapi.Path(coll, id), nil, nil)
	if err != nil {
		return broker.User{}, err
	}
	u, ok := decodeUser(env.Data, kind)
	if !ok {
		return broker.User{}, &broker.Error{Op: op, Class: broker.ClassNotFound, HTTPStatus: http.StatusOK, Message: "user not found"}
	}
	return u, nil
}

// decodeUser reads GET /auth_*/{id} data; false means "no such user",
// which v4 sends as {} (and some versions as [] or null).
func decodeUser(data json.RawMessage, kind broker.IdentityKind) (broker.User, bool) {
	var w wireUser
	if json.Unmarshal(data, &w) != nil {
		return broker.User{}, false
	}
	u := w.toUser(kind)
	return u, u.ID != ""
}

// ListUsers reads every page of one kind.
func (c *Client) ListUsers(ctx context.Context, kind broker.IdentityKind) ([]broker.User, error) {
	const op = "ListUsers"
	coll, _, err := userRoute(op, kind)
	if err != nil {
		return nil, err
	}
	ws, err := listAll(ctx, c, op, emqxapi.Path(coll), nil, decodeList[wireUser])
	if err != nil {
		return nil, err
	}
	users := []broker.User{}
	for _, w := range ws {
		if u := w.toUser(kind); u.ID != "" {
			users = append(users, u)
		}
	}
	return users, nil
}

// UpdateUser sets the password; a missing user gives ClassNotFound (the
// broker's uncoded "noexisted").
func (c *Client) UpdateUser(ctx context.Context, u broker.UserSpec) error {
	const op = "UpdateUser"
	coll, _, err := userRoute(op, u.Kind)
	if err != nil {
		return err
	}
	if u.Superuser {
		return unsupported(op, "the v4 API has no superusers")
	}
	if u.ID == "" {
		return invalid(op, "user id must not be empty")
	}
	_, err = c.call(ctx, op, http.MethodPut, emqxapi.Path(coll, u.ID), nil, map[string]string{"password": u.Password}, u.Password)
	return err
}

// DeleteUser removes a user; v4 already treats a missing one as success.
func (c *Client) DeleteUser(ctx context.Context, kind broker.IdentityKind, id string) error {
	const op = "DeleteUser"
	coll, _, err := userRoute(op, kind)
	if err != nil {
		return err
	}
	if id == "" {
		return nil // an empty login cannot be stored, so there is nothing to delete
	}
	_, err = c.call(ctx, op, http.MethodDelete, emqxapi.Path(coll, id), nil, nil)
	return err
}
