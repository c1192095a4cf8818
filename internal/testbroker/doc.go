// Package testbroker is the EMQX test double used by every operator test
// and by `make dev`: a real MQTT broker (mochi-mqtt, TCP) whose built-in
// database of users, authorization rules and bans is shared by EMQX's v4
// and v5 management APIs, both served on one HTTP address.
//
// It reproduces what EMQX 4.4.19 and 5.8.9 answer, quirks included, because
// a driver that only works against a happy-path stub fails on a real
// broker. docs/internals/emqx-api.md describes the quirks with their place
// in EMQX's source, and conformance_test.go pins them down. Examples:
//
//   - v4 answers every handler outcome with HTTP 200: {"code":0,...}, coded
//     errors {"code":N,"message"} and uncoded ones such as
//     {"message":"existed"}; framework errors are text/plain (401
//     UNAUTHORIZED, 404 "Not found.", 400 "Bad Request", 500
//     "Internal Error"). Routing uses the raw path, so /acl/%24all is 404.
//   - v5 uses real status codes and {"code":"STRING","message"} errors,
//     415 without a JSON content type, 405 with Allow, and an
//     Accept-dependent 404.
//   - Users are salted sha256 hashes; a CONNECT is accepted if the password
//     matches the clientid entry or the username entry and refused
//     otherwise (allow_anonymous = false). Bans refuse CONNECT (clientid,
//     username, peerhost order) and a clientid ban kicks the live session.
//   - Authorization follows EMQX: clientid rules, then username rules, then
//     the rules for all; first match wins; no match denies. v4 rules are
//     newest first with %c/%u, v5 rules keep array order with ${clientid},
//     ${username} and "eq ". Superusers bypass rules. Results are cached per
//     connection for Options.AuthzCacheTTL; the cache endpoints clear it.
//   - HTTP publishes and subscribes bypass authorization; metrics and stats
//     count real traffic under each API's metric names.
//
// # Deviations
//
// One store serves both APIs, so CONNECT uses the v4 rule (clientid entry
// or username entry). The v5 API only writes the namespace named by
// Options.V5UserIDType, so with v5-only data this is exactly v5's lookup.
// The v5 authenticator and authorization source always exist (creating
// them again answers as EMQX does for a duplicate). import_users accepts
// JSON bodies only. Timestamps use the host's local zone, as EMQX does.
//
// # Fault injection
//
// Go: InjectFault, ClearFaults, SetLatency, StopAPI/StartAPI (same
// address) and Wipe (drop all users, rules and bans, as a broker that lost
// its data). Faults and latency apply to /api/v4 and /api/v5 calls; the
// unauthenticated status endpoints are only hit by a fault whose PathPrefix
// names them.
//
// # Control API
//
// The same operations are served without credentials under /testbroker/ on
// the API address, to loopback clients only (others get 403):
//
//	GET    /testbroker/            addresses and the endpoint list
//	GET    /testbroker/faults      pending faults
//	POST   /testbroker/faults      {"count":2,"httpStatus":503,"v4Code":101,"v5Code":"SERVICE_UNAVAILABLE",
//	                                "message":"...","pathPrefix":"/api/v4/auth_username"} -> 204
//	DELETE /testbroker/faults      drop pending faults -> 204
//	GET    /testbroker/latency     {"latency":"250ms"}
//	POST   /testbroker/latency     {"latency":"250ms"} or {"latency":250} (milliseconds); 0 disables -> 204
//	POST   /testbroker/wipe        drop all users, rules and bans -> 204
//	POST   /testbroker/sweep       remove expired bans now (EMQX does it every 60 s) -> 204
//	POST   /testbroker/api-outage  {"duration":"5s"}: answer 202, close the API listener, reopen it
//	                               on the same address after the duration
//	GET    /testbroker/metrics     Prometheus text: testbroker_api_requests_total{api,method,route}
//	                               (management API requests that matched a route) and
//	                               testbroker_stored_{users,rules,bans}
//
// For example:
//
//	curl -X POST localhost:18083/testbroker/faults -d '{"count":1,"v4Code":101}'
package testbroker
