package testbroker

import (
	"net/http"
	"strings"
)

// Built-in database authenticator (emqx_authn_api in EMQX 5.8).

const authnID = "password_based:built_in_database"

func init() {
	v5handle("GET", "authentication", false, (*Broker).v5AuthnList)
	v5handle("POST", "authentication", true, (*Broker).v5AuthnCreate)
	v5handle("GET", "authentication/:id", false, (*Broker).v5AuthnGet)
	v5handle("GET", "authentication/:id/users", false, (*Broker).v5UserList)
	v5handle("POST", "authentication/:id/users", true, (*Broker).v5UserCreate)
	v5handle("GET", "authentication/:id/users/:user_id", false, (*Broker).v5UserGet)
	v5handle("PUT", "authentication/:id/users/:user_id", true, (*Broker).v5UserUpdate)
	v5handle("DELETE", "authentication/:id/users/:user_id", false, (*Broker).v5UserDelete)
	v5routes = append(v5routes, v5route{method: "POST", pattern: splitPattern("authentication/:id/import_users"),
		body: true, multipart: true, handle: (*Broker).v5UserImport})
}

func (b *Broker) v5AuthnConfig() map[string]any {
	return map[string]any{
		"id": authnID, "mechanism": "password_based", "backend": "built_in_database", "enable": true,
		"user_id_type":            b.opts.V5UserIDType,
		"password_hash_algorithm": map[string]any{"name": "sha256", "salt_position": "prefix"},
	}
}

func (b *Broker) v5AuthnList(*v5call) response {
	return v5JSON(http.StatusOK, []any{b.v5AuthnConfig()})
}

// v5AuthnCreate answers as EMQX does when the authenticator already exists;
// the double always runs with it configured.
func (b *Broker) v5AuthnCreate(c *v5call) response {
	obj, resp, ok := c.object()
	if !ok {
		return resp
	}
	mech, _ := str(obj["mechanism"])
	backend, _ := str(obj["backend"])
	if mech == "password_based" && backend == "built_in_database" {
		return v5Err(http.StatusConflict, "ALREADY_EXISTS", "Authenticator '"+authnID+"' already exist")
	}
	return v5BadRequest("testbroker supports only the password_based:built_in_database authenticator")
}

func (b *Broker) v5AuthnGet(c *v5call) response {
	if c.vars["id"] != authnID {
		return v5Err(http.StatusNotFound, "NOT_FOUND", "Authenticator not found")
	}
	return v5JSON(http.StatusOK, b.v5AuthnConfig())
}

// withAuthn runs h only for the built-in authenticator; another id is a
// chain lookup failure, which EMQX reports as a 400 user error.
func (b *Broker) withAuthn(c *v5call, h func() response) response {
	if id := c.vars["id"]; id != authnID {
		return v5BadRequest(`User error: {not_found,{authenticator,<<"` + id + `">>}}`)
	}
	return h()
}

func v5UserJSON(u userRecord) map[string]any {
	return map[string]any{"user_id": u.name, "is_superuser": u.superuser}
}

func (b *Broker) v5UserList(c *v5call) response {
	return b.withAuthn(c, func() response {
		page, limit, resp, ok := v5Paging(c.query)
		if !ok {
			return resp
		}
		like, hasLike := firstQuery(c.query, "like_user_id")
		super, hasSuper, ok := queryBool(c.query, "is_superuser")
		if !ok {
			return v5SchemaErr("is_superuser", "bad boolean")
		}
		var rows []map[string]any
		for _, u := range b.store.listUsers(b.opts.V5UserIDType) {
			if hasLike && !strings.Contains(u.name, like) || hasSuper && u.superuser != super {
				continue
			}
			rows = append(rows, v5UserJSON(u))
		}
		return v5Page(rows, page, limit, !hasLike)
	})
}

func (b *Broker) v5UserCreate(c *v5call) response {
	return b.withAuthn(c, func() response {
		obj, resp, ok := c.strictObject("user_id", "password", "is_superuser")
		if !ok {
			return resp
		}
		id, ok := str(obj["user_id"])
		if !ok {
			return v5SchemaErr("user_id", "required_field")
		}
		pw, ok := str(obj["password"])
		if !ok {
			return v5SchemaErr("password", "required_field")
		}
		super := false
		if v, has := obj["is_superuser"]; has {
			if super, ok = v.(bool); !ok {
				return v5SchemaErr("is_superuser", "bad boolean")
			}
		}
		if id == "" {
			return v5BadRequest("User error: invalid_user_id")
		}
		if err := b.store.addUser(b.opts.V5UserIDType, id, pw, super); err != nil {
			return v5Err(http.StatusConflict, "ALREADY_EXISTS", "User already exists")
		}
		return v5JSON(http.StatusCreated, map[string]any{"user_id": id, "is_superuser": super})
	})
}

func (b *Broker) v5UserGet(c *v5call) response {
	return b.withAuthn(c, func() response {
		u, ok := b.store.getUser(b.opts.V5UserIDType, c.vars["user_id"])
		if !ok {
			return v5Err(http.StatusNotFound, "NOT_FOUND", "User not found")
		}
		return v5JSON(http.StatusOK, v5UserJSON(u))
	})
}

func (b *Broker) v5UserUpdate(c *v5call) response {
	return b.withAuthn(c, func() response {
		obj, resp, ok := c.strictObject("password", "is_superuser")
		if !ok {
			return resp
		}
		pw, ok := str(obj["password"])
		if !ok {
			return v5SchemaErr("password", "required_field")
		}
		var super *bool
		if v, has := obj["is_superuser"]; has {
			s, isBool := v.(bool)
			if !isBool {
				return v5SchemaErr("is_superuser", "bad boolean")
			}
			super = &s
		}
		u, err := b.store.updateUser(b.opts.V5UserIDType, c.vars["user_id"], pw, super)
		if err != nil {
			return v5Err(http.StatusNotFound, "NOT_FOUND", "User not found")
		}
		return v5JSON(http.StatusOK, v5UserJSON(u))
	})
}

func (b *Broker) v5UserDelete(c *v5call) response {
	return b.withAuthn(c, func() response {
		if !b.store.deleteUser(b.opts.V5UserIDType, c.vars["user_id"]) {
			return v5Err(http.StatusNotFound, "NOT_FOUND", "User not found")
		}
		return v5NoContent()
	})
}

// importItem is one validated import_users entry.
type importItem struct {
	id, password, salt, hash string
	super                    bool
}

// v5UserImport implements import_users for JSON bodies, with override
// semantics: a plain import always re-hashes, so existing users count as
// "override", never "skipped".
func (b *Broker) v5UserImport(c *v5call) response {
	return b.withAuthn(c, func() response {
		typ, _ := firstQuery(c.query, "type")
		if typ != "plain" && typ != "hash" {
			return v5SchemaErr("type", "must be plain or hash")
		}
		if c.ctype != "application/json" {
			return v5BadRequest("testbroker: file upload is not supported, send a JSON array")
		}
		arr, resp, ok := c.array()
		if !ok {
			return resp
		}
		items := make([]importItem, 0, len(arr))
		for _, raw := range arr {
			obj, isObj := raw.(map[string]any)
			if !isObj {
				return v5BadRequest("invalid_format")
			}
			var it importItem
			var okID bool
			if it.id, okID = str(obj["user_id"]); !okID || it.id == "" {
				return v5BadRequest("invalid_format: user_id")
			}
			if v, has := obj["is_superuser"]; has {
				if it.super, ok = v.(bool); !ok {
					return v5BadRequest("invalid_format: is_superuser")
				}
			}
			if typ == "plain" {
				if it.password, ok = str(obj["password"]); !ok {
					return v5BadRequest("invalid_format: password")
				}
			} else {
				it.hash, ok = str(obj["password_hash"])
				salt, okSalt := str(obj["salt"])
				if !ok || !okSalt || it.hash == "" {
					return v5BadRequest("invalid_format: password_hash")
				}
				it.salt = salt
			}
			items = append(items, it)
		}
		tally := map[string]int{"total": len(items), "success": 0, "override": 0, "skipped": 0, "failed": 0}
		for _, it := range items {
			switch b.store.importUser(b.opts.V5UserIDType, it.id, it.password, it.salt, it.hash, it.super) {
			case importCreated:
				tally["success"]++
			case importOverride:
				tally["override"]++
			case importSkipped:
				tally["skipped"]++
			}
		}
		return v5JSON(http.StatusOK, tally)
	})
}
