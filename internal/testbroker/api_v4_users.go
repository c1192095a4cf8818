package testbroker

import (
	"errors"
	"fmt"
	"sort"
)

// /auth_username and /auth_clientid (emqx_auth_mnesia_api in EMQX 4.4).

func init() {
	for _, kind := range []string{kindUsername, kindClientID} {
		base := "auth_" + kind
		v4handle("POST", base, "Add "+kind+" users", v4UserCreate(kind))
		v4handle("GET", base, "List "+kind+" users", v4UserList(kind))
		v4handle("GET", base+"/:name", "Lookup a "+kind+" user", v4UserGet(kind))
		v4handle("PUT", base+"/:name", "Update a "+kind+" user's password", v4UserUpdate(kind))
		v4handle("DELETE", base+"/:name", "Delete a "+kind+" user", v4UserDelete(kind))
	}
}

// v4AddUser validates and creates one user. The error text is the reason EMQX
// 4 gives, printed bare ("existed") for a single create or inside a tuple
// ("{error,existed}") in a batch reply.
func (b *Broker) v4AddUser(kind string, obj map[string]any) error {
	name, ok := str(obj[kind])
	if !ok || name == "" {
		return errors.New("login")
	}
	pw, ok := str(obj["password"])
	if !ok || pw == "" {
		return errors.New("password")
	}
	if err := b.store.addUser(kind, name, pw, false); err != nil {
		return errors.New("existed")
	}
	return nil
}

func v4UserCreate(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		if !c.list {
			if err := b.v4AddUser(kind, c.params); err != nil {
				return v4Uncoded(err.Error())
			}
			return v4OK()
		}
		if len(c.items) == 0 {
			return v4Internal() // the handler pattern-matches the first element
		}
		result := map[string]string{}
		for _, it := range c.items {
			obj, ok := it.(map[string]any)
			if !ok {
				return v4Internal()
			}
			key := "undefined"
			if v, present := obj[kind]; present {
				key = fmt.Sprint(jsonish(v))
			}
			err := b.v4AddUser(kind, obj)
			outcome := "ok"
			if err != nil {
				outcome = "{error," + err.Error() + "}"
			}
			if _, seen := result[key]; !seen {
				result[key] = outcome // the first occurrence's result wins
			}
		}
		return v4Data(result)
	}
}

func v4UserList(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		fs, _ := parseV4Filters(c.pairs, map[string]string{kind: v4Binary, "_like_" + kind: v4Binary})
		page, limit, ok := v4Paging(c.query, 10000)
		if !ok {
			return v4Internal()
		}
		var rows []userRecord
		for _, u := range b.store.listUsers(kind) {
			if fs.all(func(f v4Clause) bool { return f.matchLogin(u.name) }) {
				rows = append(rows, u)
			}
		}
		start, end, hasnext := pageSlice(len(rows), page, limit)
		pageRows := rows[start:end]
		// EMQX sorts by created_at descending within the page only.
		sort.SliceStable(pageRows, func(i, j int) bool { return pageRows[i].createdAt.After(pageRows[j].createdAt) })
		data := make([]map[string]any, 0, len(pageRows))
		for _, u := range pageRows {
			data = append(data, map[string]any{kind: u.name, "created_at": u.createdAt.UnixMilli()})
		}
		count := len(rows)
		if len(fs) > 0 {
			count = -1
		}
		return v4Paged(data, v4Meta(page, limit, count, hasnext))
	}
}

func v4UserGet(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		u, ok := b.store.getUser(kind, c.vars["name"])
		if !ok {
			return v4Data(map[string]any{})
		}
		return v4Data(map[string]any{kind: u.name, "created_at": u.createdAt.UnixMilli()})
	}
}

func v4UserUpdate(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		pw, ok := str(c.params["password"])
		if !ok || pw == "" {
			return v4Uncoded("password")
		}
		if _, err := b.store.updateUser(kind, c.vars["name"], pw, nil); err != nil {
			return v4Uncoded("noexisted")
		}
		return v4OK()
	}
}

func v4UserDelete(kind string) func(*Broker, *v4call) response {
	return func(b *Broker, c *v4call) response {
		b.store.deleteUser(kind, c.vars["name"])
		return v4OK()
	}
}
