package emqxapi

import (
	"encoding/json"
	"strconv"
	"testing"
)

// FuzzLenientDecoders feeds arbitrary JSON through the decoders both
// drivers use for counters and messages. They must never fail on a value
// (one odd field must not sink a reply), must read what they claim to read
// exactly, and pagination must end on an empty page whatever the meta says.
func FuzzLenientDecoders(f *testing.F) {
	for _, s := range []string{
		`7`, `"7"`, `-0`, `1.5e3`, `"1e400"`, `1e19`, `null`, `true`, `"x"`, `{}`, `[]`,
		`{"connections.count":"9","node":"emqx@127.0.0.1","x":[1],"y":null,"z":1e300}`,
		`{"message":"bad_topic"}`, `{"message":{"kind":"validation_error"}}`,
		`{"page":1,"limit":-5,"count":"7","hasnext":"yes"}`, `{"page":null,"hasnext":true}`,
		"\"\xff\"", ` 12 `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n Int
		if err := n.UnmarshalJSON(data); err != nil {
			t.Fatalf("Int.UnmarshalJSON(%q) failed: %v", data, err)
		}
		if v, err := strconv.ParseInt(string(data), 10, 64); err == nil && (!n.Valid || n.V != v) {
			t.Fatalf("Int.UnmarshalJSON(%q) = %+v, want %d", data, n, v)
		}
		var c Counters
		var obj map[string]json.RawMessage
		cerr := json.Unmarshal(data, &c)
		if json.Unmarshal(data, &obj) == nil && obj != nil && cerr != nil {
			t.Fatalf("Counters refused a JSON object %q: %v", data, cerr)
		}
		for k, v := range c {
			var want Int
			_ = want.UnmarshalJSON(obj[k])
			if !want.Valid || want.V != v {
				t.Fatalf("Counters[%q] = %d from %s", k, v, obj[k])
			}
		}
		var s string
		if json.Unmarshal(data, &s) == nil {
			if got := MessageText(data); got != s {
				t.Fatalf("MessageText(%q) = %q, want %q", data, got, s)
			}
		} else {
			_ = MessageText(data)
		}
		var m Meta
		if json.Unmarshal(data, &m) == nil {
			if m.More(0, 0, 100) {
				t.Fatalf("an empty page asks for more: %s", data)
			}
			_ = m.More(100, 100, 100)
		}
	})
}
