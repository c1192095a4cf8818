package emqxapi

import (
	"context"
	"fmt"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

// maxPages stops a broker that keeps saying "more" from looping forever.
const maxPages = 100000

// Meta is the pagination block of a list reply; every field is optional
// because EMQX versions and list families differ in what they send.
type Meta struct {
	Page    *int64 `json:"page"`
	Limit   *int64 `json:"limit"`
	Count   *int64 `json:"count"`
	HasNext *bool  `json:"hasnext"`
}

// More decides whether another page has to be read after a page of n items,
// having read total items so far with the requested limit. hasnext wins when
// present; otherwise a known count (not -1, which filtered v4 lists send) is
// compared; otherwise a short page ends the list. The broker's own limit is
// preferred over the requested one because a broker may cap it.
func (m Meta) More(n, total, requested int) bool {
	if n == 0 {
		return false
	}
	if m.HasNext != nil {
		return *m.HasNext
	}
	if m.Count != nil && *m.Count >= 0 {
		return int64(total) < *m.Count
	}
	limit := int64(requested)
	if m.Limit != nil && *m.Limit > 0 {
		limit = *m.Limit
	}
	return int64(n) >= limit
}

// Paginate calls fetch for page 1, 2, … until Meta.More says stop. fetch
// returns how many items the page held and its meta; its error is returned
// as is.
func Paginate(ctx context.Context, op string, limit int, fetch func(page, limit int) (int, Meta, error)) error {
	total := 0
	for page := 1; page <= maxPages; page++ {
		if err := ctx.Err(); err != nil {
			return &broker.Error{Op: op, Class: broker.ClassTransient, Message: "listing interrupted", Err: err}
		}
		n, meta, err := fetch(page, limit)
		if err != nil {
			return err
		}
		total += n
		if !meta.More(n, total, limit) {
			return nil
		}
	}
	return &broker.Error{Op: op, Class: broker.ClassTransient, Message: fmt.Sprintf("listing did not end after %d pages", maxPages)}
}
