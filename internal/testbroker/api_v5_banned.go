package testbroker

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"regexp"
	"time"
)

// /banned (emqx_mgmt_api_banned in EMQX 5.8).

func init() {
	v5handle("GET", "banned", false, (*Broker).v5BanList)
	v5handle("POST", "banned", true, (*Broker).v5BanCreate)
	v5handle("DELETE", "banned", false, (*Broker).v5BanClear)
	v5handle("DELETE", "banned/:as/:who", false, (*Broker).v5BanDelete)
}

// rfc3339 is EMQX 5's second-precision timestamp with a numeric offset.
const rfc3339 = "2006-01-02T15:04:05-07:00"

func v5BanKind(as string) bool {
	switch as {
	case banClientID, banUsername, banPeerhost, banClientIDRe, banUsernameRe, banPeerhostNet:
		return true
	}
	return false
}

func fmtBanTime(sec int64) string {
	return time.Unix(sec, 0).Local().Format(rfc3339)
}

// v5BanUntil renders until: "infinity" for a ban without an end, and a v4
// client's unchecked non-integer value as it was stored.
func v5BanUntil(bn ban) any {
	if bn.untilText != nil {
		if s, ok := bn.untilText.(string); ok {
			return s
		}
		return "infinity"
	}
	if bn.until == infinity {
		return "infinity"
	}
	return fmtBanTime(bn.until)
}

func v5BanJSON(bn ban) map[string]any {
	at := any(fmtBanTime(bn.at))
	if s, ok := bn.atText.(string); ok {
		at = s
	}
	return map[string]any{"as": bn.as, "who": bn.who, "by": bn.by, "reason": bn.reason,
		"at": at, "until": v5BanUntil(bn)}
}

// v5ParseBanTime accepts epoch seconds or an RFC 3339 string.
func v5ParseBanTime(v any) (int64, bool) {
	if n, ok := intOf(v); ok {
		return n, true
	}
	s, ok := str(v)
	if !ok {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

func (b *Broker) v5BanCreate(c *v5call) response {
	obj, resp, ok := c.object()
	if !ok {
		return resp
	}
	as, _ := str(obj["as"])
	if !v5BanKind(as) {
		return v5SchemaErr("as", "unable_to_convert_to_enum_symbol")
	}
	who, ok := str(obj["who"])
	if !ok {
		return v5SchemaErr("who", "required_field")
	}
	now := b.now().Unix()
	bn := ban{as: as, who: who, by: "mgmt_api", at: now, until: infinity}
	for key, dst := range map[string]*string{"by": &bn.by, "reason": &bn.reason} {
		if v, has := obj[key]; has {
			if *dst, ok = str(v); !ok {
				return v5SchemaErr(key, "expected a string")
			}
		}
	}
	if v, has := obj["at"]; has {
		if bn.at, ok = v5ParseBanTime(v); !ok {
			return v5SchemaErr("at", "bad timestamp")
		}
	}
	if v, has := obj["until"]; has && v != "infinity" {
		if bn.until, ok = v5ParseBanTime(v); !ok {
			return v5SchemaErr("until", "bad timestamp")
		}
	}
	switch as {
	case banPeerhost:
		a, err := netip.ParseAddr(who)
		if err != nil {
			return v5BadRequest("bad peerhost")
		}
		bn.who = a.String()
	case banPeerhostNet:
		p, err := netip.ParsePrefix(who)
		if err != nil {
			return v5BadRequest("bad peerhost_net")
		}
		bn.net = p.Masked()
	case banClientIDRe, banUsernameRe:
		re, err := regexp.Compile(who)
		if err != nil {
			return v5BadRequest("bad regex")
		}
		bn.re = re
	}
	if bn.until <= now {
		return v5BadRequest("Cannot create expired banned, " + fmtBanTime(bn.at) + " to " + fmtBanTime(bn.until))
	}
	if old, created := b.store.createBanIfInactive(bn, now); !created {
		msg, _ := json.Marshal(v5BanJSON(old))
		return v5Err(http.StatusBadRequest, "ALREADY_EXISTS", string(msg))
	}
	if as == banClientID {
		b.kick(who)
	}
	return v5JSON(http.StatusOK, v5BanJSON(bn))
}

// v5BanFilter is the single filter a list query may use.
type v5BanFilter struct {
	as    string
	exact string
	re    *regexp.Regexp
}

// keep applies the filter. A like_clientid or like_username filter also
// matches the regex bans of that kind, against their pattern text
// (emqx_mgmt_api_banned:get_fuzzy_validator/2).
func (f v5BanFilter) keep(bn ban) bool {
	if f.re != nil {
		return (bn.as == f.as || bn.as == f.as+"_re") && f.re.MatchString(bn.who)
	}
	return bn.as == f.as && bn.who == f.exact
}

func (b *Broker) v5BanList(c *v5call) response {
	page, limit, resp, ok := v5Paging(c.query)
	if !ok {
		return resp
	}
	var filters []v5BanFilter
	for _, as := range []string{banClientID, banUsername, banPeerhost} {
		if v, has := firstQuery(c.query, as); has {
			filters = append(filters, v5BanFilter{as: as, exact: v})
		}
	}
	fuzzy := false
	for _, key := range []string{"like_clientid", "like_username", "like_peerhost", "like_peerhost_net"} {
		v, has := v5Fuzzy(c.query, key)
		if !has {
			continue
		}
		re, err := regexp.Compile(v)
		if err != nil {
			return v5BadRequest("bad regex")
		}
		fuzzy = true
		filters = append(filters, v5BanFilter{as: key[len("like_"):], re: re})
	}
	if len(filters) > 1 {
		return v5BadRequest("too_many_filters")
	}
	var rows []map[string]any
	for _, bn := range b.store.listBans() {
		if len(filters) == 1 && !filters[0].keep(bn) {
			continue
		}
		rows = append(rows, v5BanJSON(bn))
	}
	start, end, hasnext := pageSlice(len(rows), page, limit)
	data := rows[start:end]
	if data == nil {
		data = []map[string]any{}
	}
	meta := map[string]any{"page": page, "limit": limit}
	switch {
	case fuzzy:
		meta["hasnext"] = hasnext
	case len(filters) == 1:
		meta["hasnext"], meta["count"] = false, len(rows)
	default:
		meta["count"] = len(rows)
	}
	return v5JSON(http.StatusOK, map[string]any{"data": data, "meta": meta})
}

func (b *Broker) v5BanDelete(c *v5call) response {
	as, who := c.vars["as"], c.vars["who"]
	if !v5BanKind(as) {
		return v5SchemaErr("as", "unable_to_convert_to_enum_symbol")
	}
	key := who
	if as == banPeerhost {
		if a, err := netip.ParseAddr(who); err == nil {
			key = a.String()
		}
	}
	if !b.store.deleteBan(as, key) {
		return v5Err(http.StatusNotFound, "NOT_FOUND", as+": "+who+" not found")
	}
	return v5NoContent()
}

func (b *Broker) v5BanClear(*v5call) response {
	b.store.clearBans()
	return v5NoContent()
}
