package emqx5

import (
	"context"
	"fmt"
	"net/http"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/internal/emqxapi"
)

// authenticatorID is the one built-in database authenticator of the global chain.
const authenticatorID = "password_based:built_in_database"

func usersPath(id ...string) string {
	return emqxapi.Path(append([]string{"authentication", authenticatorID, "users"}, id...)...)
}

type wireUser struct {
	UserID      string `json:"user_id"`
	IsSuperuser bool   `json:"is_superuser"`
}

// userIDType reads the authenticator's user_id_type once; a failure is not
// cached, so a broker configured later is picked up.
func (c *Client) userIDType(ctx context.Context, op string) (broker.IdentityKind, error) {
	c.mu.Lock()
	cached := c.idType
	c.mu.Unlock()
	if cached != "" {
		return cached, nil
	}
	var cfg struct {
		UserIDType string `json:"user_id_type"`
	}
	if _, err := c.call(ctx, op, http.MethodGet, emqxapi.Path("authentication", authenticatorID), nil, nil, &cfg); err != nil {
		if be, ok := broker.AsError(err); ok && be.Class == broker.ClassNotFound {
			return "", &broker.Error{Op: op, Class: broker.ClassMisconfigured, Code: be.Code, HTTPStatus: be.HTTPStatus,
				Message: "the broker has no built-in database authenticator: " + be.Message, ReasonOverride: "AuthenticatorNotFound"}
		}
		return "", err
	}
	kind := broker.IdentityKind(cfg.UserIDType)
	if kind == "" {
		kind = broker.ByUsername // the schema default
	}
	c.mu.Lock()
	c.idType = kind
	c.mu.Unlock()
	return kind, nil
}

// checkKind returns whether kind is the authenticator's kind; a kind that is
// not a user kind at all is an error.
func (c *Client) checkKind(ctx context.Context, op string, kind broker.IdentityKind) (bool, error) {
	if kind != broker.ByUsername && kind != broker.ByClientID {
		return false, unsupported(op, "users are identified by username or clientid, not "+string(kind))
	}
	t, err := c.userIDType(ctx, op)
	if err != nil {
		return false, err
	}
	return t == kind, nil
}

func (c *Client) requireKind(ctx context.Context, op string, kind broker.IdentityKind) error {
	ok, err := c.checkKind(ctx, op, kind)
	if err != nil || ok {
		return err
	}
	t, _ := c.userIDType(ctx, op)
	return unsupported(op, fmt.Sprintf("the broker's built-in database authenticator identifies users by %s, so %s users cannot be stored", t, kind))
}

// CreateUser adds a user; 409 ALREADY_EXISTS is ClassAlreadyExists.
func (c *Client) CreateUser(ctx context.Context, u broker.UserSpec) error {
	const op = "CreateUser"
	if err := c.requireKind(ctx, op, u.Kind); err != nil {
		return err
	}
	if u.ID == "" {
		return invalid(op, "user id must not be empty")
	}
	body := map[string]any{"user_id": u.ID, "password": u.Password, "is_superuser": u.Superuser}
	_, err := c.call(ctx, op, http.MethodPost, usersPath(), nil, body, nil, u.Password)
	return err
}

// GetUser reads one user; 404 is ClassNotFound.
func (c *Client) GetUser(ctx context.Context, kind broker.IdentityKind, id string) (broker.User, error) {
	const op = "GetUser"
	if err := c.requireKind(ctx, op, kind); err != nil {
		return broker.User{}, err
	}
	if id == "" {
		return broker.User{}, invalid(op, "user id must not be empty")
	}
	var w wireUser
	if _, err := c.call(ctx, op, http.MethodGet, usersPath(id), nil, nil, &w); err != nil {
		return broker.User{}, err
	}
	if w.UserID == "" {
		w.UserID = id
	}
	return broker.User{Kind: kind, ID: w.UserID, Superuser: w.IsSuperuser}, nil
}

// ListUsers reads every page. Asking for the kind the authenticator does
// not use gives an empty list: no such user can exist.
func (c *Client) ListUsers(ctx context.Context, kind broker.IdentityKind) ([]broker.User, error) {
	const op = "ListUsers"
	ok, err := c.checkKind(ctx, op, kind)
	if err != nil {
		return nil, err
	}
	users := []broker.User{}
	if !ok {
		return users, nil
	}
	ws, err := list[wireUser](ctx, c, op, usersPath(), nil)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		users = append(users, broker.User{Kind: kind, ID: w.UserID, Superuser: w.IsSuperuser})
	}
	return users, nil
}

// UpdateUser sets password and superuser flag; 404 is ClassNotFound.
func (c *Client) UpdateUser(ctx context.Context, u broker.UserSpec) error {
	const op = "UpdateUser"
	if err := c.requireKind(ctx, op, u.Kind); err != nil {
		return err
	}
	if u.ID == "" {
		return invalid(op, "user id must not be empty")
	}
	body := map[string]any{"password": u.Password, "is_superuser": u.Superuser}
	_, err := c.call(ctx, op, http.MethodPut, usersPath(u.ID), nil, body, nil, u.Password)
	return err
}

// DeleteUser removes a user; a missing one (404), or one of the kind the
// authenticator does not use, is not an error.
func (c *Client) DeleteUser(ctx context.Context, kind broker.IdentityKind, id string) error {
	const op = "DeleteUser"
	ok, err := c.checkKind(ctx, op, kind)
	if err != nil || !ok || id == "" {
		return err
	}
	_, err = c.call(ctx, op, http.MethodDelete, usersPath(id), nil, nil, nil)
	if broker.IsNotFound(err) {
		return nil
	}
	return err
}
