// Package soak is the chaos soak: the manager and the test broker run as
// processes (test/harness) with a fault-injecting proxy (test/faultproxy)
// between them, and a seeded random sequence of actions creates, changes
// and deletes MQTTUsers (generated and Secret passwords, rotations),
// MQTTACLs and MQTTBans on a v4 and a v5 MQTTBroker, while it breaks the
// broker's API (5xx, 429, truncated and garbage bodies, stalls, resets,
// outages), wipes the broker and SIGKILLs the manager.
//
// Once the faults stop, the soak audits, within a stated bound, that the
// broker holds exactly what the objects say: every user and only those,
// each accepting its current password over MQTT and refusing its earlier
// ones; every subject's rules and none for deleted subjects; every ban and
// nothing else; every object Ready at its generation. It also checks that
// no password ever appeared in the manager's log, an Event or a metric,
// that the manager never panicked, and that its goroutines came back to
// their level before the chaos.
//
// The seed and the step count are printed; the same seed gives the same
// sequence of actions and faults, so a failure reproduces with
//
//	go test ./test/soak -run TestSoak -soak.seed=<seed> -soak.steps=<steps>
//
// `make test` runs a short soak; `make soak` a long one (SOAK_STEPS,
// SOAK_SEED).
package soak
