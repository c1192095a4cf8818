package testbroker

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// /banned (emqx_mgmt_api_banned in EMQX 4.4).

func init() {
	v4handle("POST", "banned", "Create a banned entry", (*Broker).v4BanCreate)
	v4handle("GET", "banned", "List banned entries", (*Broker).v4BanList)
	v4handle("DELETE", "banned/:as/:who", "Delete a banned entry", (*Broker).v4BanDelete)
}

const (
	v4BanMissing = "missing mandatory params: ['who', 'as']"
	v4BanBadAs   = "value of 'as' must be one of: ['clientid', 'username', 'peerhost']"
)

func v4BanKind(as string) bool {
	return as == banClientID || as == banUsername || as == banPeerhost
}

// v4BanTime reads an at/until value. EMQX 4 does not type-check them: a
// non-integer is stored as given (and then never expires).
func v4BanTime(v any) (int64, any) {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		if f, err := n.Float64(); err == nil {
			return int64(f), nil
		}
	}
	return 0, jsonish(v)
}

func (b *Broker) v4BanCreate(c *v4call) response {
	p := c.params
	whoV, hasWho := p["who"]
	asV, hasAs := p["as"]
	if !hasWho || !hasAs {
		return v4Err(107, v4BanMissing)
	}
	as, ok := str(asV)
	if !ok || !v4BanKind(as) {
		return v4Err(108, v4BanBadAs)
	}
	who, ok := str(whoV)
	if !ok {
		return v4Internal()
	}
	reasonV, ok := p["reason"]
	if !ok {
		return v4Internal() // the handler reads reason unconditionally
	}
	if as == banPeerhost {
		a, err := netip.ParseAddr(who)
		if err != nil {
			return v4Internal()
		}
		who = a.String()
	}
	now := b.now().Unix()
	bn := ban{as: as, who: who, by: "user", at: now, until: now + 300}
	if s, ok := str(reasonV); ok {
		bn.reason = s
	} else {
		bn.reason = fmt.Sprint(jsonish(reasonV))
	}
	if v, ok := p["by"]; ok {
		if s, isStr := str(v); isStr {
			bn.by = s
		} else {
			bn.by = fmt.Sprint(jsonish(v))
		}
	}
	if v, ok := p["at"]; ok {
		bn.at, bn.atText = v4BanTime(v)
	}
	if v, ok := p["until"]; ok {
		bn.until, bn.untilText = v4BanTime(v)
	}
	b.store.putBan(bn)
	if as == banClientID && bn.active(now) {
		b.kick(who)
	}
	echo := make(map[string]any, len(p))
	for k, v := range p {
		echo[k] = jsonish(v)
	}
	return v4Data(echo)
}

func v4BanJSON(bn ban) map[string]any {
	m := map[string]any{"who": bn.who, "as": bn.as, "reason": bn.reason, "by": bn.by, "at": bn.at, "until": bn.until}
	if bn.atText != nil {
		m["at"] = bn.atText
	}
	switch {
	case bn.untilText != nil:
		m["until"] = bn.untilText
	case bn.until == infinity:
		m["until"] = "infinity"
	}
	return m
}

func (b *Broker) v4BanList(c *v4call) response {
	page, limit, ok := v4Paging(c.query, 10000)
	if !ok {
		return v4Internal()
	}
	all := b.store.listBans()
	start, end, _ := pageSlice(len(all), page, limit)
	data := make([]map[string]any, 0, end-start)
	for _, bn := range all[start:end] {
		data = append(data, v4BanJSON(bn))
	}
	return v4Paged(data, map[string]any{"page": page, "limit": limit, "count": len(all)})
}

func (b *Broker) v4BanDelete(c *v4call) response {
	as, who := c.vars["as"], c.vars["who"]
	if !v4BanKind(as) {
		return v4Err(108, v4BanBadAs)
	}
	if as == banPeerhost {
		a, err := netip.ParseAddr(who)
		if err != nil {
			return v4Internal()
		}
		who = a.String()
	}
	b.store.deleteBan(as, who)
	return v4OK()
}
