package testbroker

import "strings"

// topicMatch reports whether the topic (a name, or a filter when checking a
// subscription) is matched by filter. It follows EMQX's word-wise matcher, not
// the MQTT delivery rules: a filter word '+' also matches a literal '+' or '#'
// word in the checked topic, which is how EMQX lets an "a/+" rule cover a
// subscription to "a/#". Topics starting with '$' are never matched by a
// filter that starts with a wildcard.
func topicMatch(topic, filter string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	return wordsMatch(strings.Split(topic, "/"), strings.Split(filter, "/"))
}

func wordsMatch(name, filter []string) bool {
	for {
		switch {
		case len(filter) == 1 && filter[0] == "#":
			return true
		case len(name) == 0 && len(filter) == 0:
			return true
		case len(name) == 0 || len(filter) == 0:
			return false
		case filter[0] == "+" || filter[0] == name[0]:
			name, filter = name[1:], filter[1:]
		default:
			return false
		}
	}
}

// validTopicName reports whether s can be published to: non-empty, free of
// wildcards and not a shared-subscription filter. EMQX accepts $SYS names
// from the management API, so unlike mochi's validator this one does too.
func validTopicName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "+#") && !strings.ContainsRune(s, 0) &&
		!strings.HasPrefix(s, "$share/")
}

// validTopicFilter reports whether s is a well-formed subscription filter,
// including the $share/<group>/<filter> form.
func validTopicFilter(s string) bool {
	if s == "" || strings.ContainsRune(s, 0) {
		return false
	}
	if rest, ok := strings.CutPrefix(s, "$share/"); ok {
		group, f, found := strings.Cut(rest, "/")
		if !found || group == "" || strings.ContainsAny(group, "+#") {
			return false
		}
		s = f
		if s == "" {
			return false
		}
	}
	words := strings.Split(s, "/")
	for i, w := range words {
		if strings.Contains(w, "#") && (w != "#" || i != len(words)-1) {
			return false
		}
		if strings.Contains(w, "+") && w != "+" {
			return false
		}
	}
	return true
}

// stripShare returns the filter without a $share/<group>/ prefix, plus the
// group name. EMQX authorizes shared subscriptions against the bare filter.
func stripShare(filter string) (string, string) {
	rest, ok := strings.CutPrefix(filter, "$share/")
	if !ok {
		return filter, ""
	}
	group, f, found := strings.Cut(rest, "/")
	if !found {
		return filter, ""
	}
	return f, group
}
