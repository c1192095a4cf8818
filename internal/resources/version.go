package resources

import (
	"strconv"
	"strings"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// Major versions of EMQX this package builds for.
const (
	Major4 = "4"
	Major5 = "5"
)

// version is a parsed EMQX version.
type version struct{ major, minor, patch int }

func parseVersion(s string) (version, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return version{}, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return version{}, false
		}
		n[i] = v
	}
	return version{n[0], n[1], n[2]}, true
}

func (v version) atLeast(major, minor, patch int) bool {
	if v.major != major {
		return v.major > major
	}
	if v.minor != minor {
		return v.minor > minor
	}
	return v.patch >= patch
}

// checkVersion refuses versions this package cannot configure correctly.
// The CRD refuses the same at admission (CEL on spec.managed.version);
// this catches objects stored before those rules existed.
func checkVersion(m *v1alpha1.ManagedBroker) error {
	const field = "spec.managed.version"
	v, ok := parseVersion(m.Version)
	if !ok {
		return specErrorf(field, "%q is not a version like 5.8.6 or 4.4.19", m.Version)
	}
	switch v.major {
	case 4:
		// The bootstrap apps file is the only way to get API credentials
		// that survive an existing data directory; it exists from 4.4.11
		// (docs/internals/managed.md, "API credentials").
		if v.minor != 4 || !v.atLeast(4, 4, 11) {
			return specErrorf(field, "EMQX %s is not supported: 4.x needs 4.4.11 or later 4.4 (management.bootstrap_apps_file)", m.Version)
		}
	case 5:
		// api_key.bootstrap_file first appears in 5.0.14.
		if !v.atLeast(5, 0, 14) {
			return specErrorf(field, "EMQX %s is not supported: 5.x needs 5.0.14 or later (api_key.bootstrap_file)", m.Version)
		}
	default:
		return specErrorf(field, "EMQX %s is not supported: the major version must be 4 or 5", m.Version)
	}
	return nil
}

// licenseLimited reports whether m's version runs a single node without a
// license: EMQX 5.9 and later (docs/internals/managed.md, "Licensing").
func licenseLimited(m *v1alpha1.ManagedBroker) bool {
	v, ok := parseVersion(m.Version)
	return ok && v.atLeast(5, 9, 0)
}
