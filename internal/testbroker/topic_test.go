package testbroker

import "testing"

func TestTopicMatch(t *testing.T) {
	for _, tc := range []struct {
		topic, filter string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/+", true},
		{"a/b/c", "a/+", false},
		{"a", "a/#", true},
		{"a/b/c", "a/#", true},
		{"b/c", "a/#", false},
		{"a/#", "a/+", true}, // EMQX word matching: '+' covers a '#' word
		{"a/+", "a/b", false},
		{"$SYS/x", "#", false},
		{"$SYS/x", "+/x", false},
		{"$SYS/x", "$SYS/#", true},
		{"a//b", "a/+/b", true},
		{"", "#", true},
	} {
		if got := topicMatch(tc.topic, tc.filter); got != tc.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", tc.topic, tc.filter, got, tc.want)
		}
	}
}

func TestTopicValidation(t *testing.T) {
	for _, tc := range []struct {
		s           string
		name, valid bool
	}{
		{"a/b", true, true},
		{"a/+", false, true},
		{"a/#", false, true},
		{"a/#/b", false, false},
		{"a/b+", false, false},
		{"", false, false},
		{"$share/g/a/#", false, true},
		{"$share/g", false, false},
		{"$share//a", false, false},
	} {
		if got := validTopicName(tc.s); got != tc.name {
			t.Errorf("validTopicName(%q) = %v", tc.s, got)
		}
		if got := validTopicFilter(tc.s); got != tc.valid {
			t.Errorf("validTopicFilter(%q) = %v", tc.s, got)
		}
	}
}

func TestErlTerm(t *testing.T) {
	got := erlTerm(map[string]any{"topic": "", "action": erlMissing{}, "who": `a"b`, "n": nil})
	want := `#{action => undefined,n => null,topic => <<>>,who => <<"a\"b">>}`
	if got != want {
		t.Errorf("erlTerm = %s, want %s", got, want)
	}
}
