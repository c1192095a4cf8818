package testbroker

import (
	"encoding/json"
	"sort"
	"strings"
)

// erlMissing stands for a key EMQX looked up and did not find (undefined).
type erlMissing struct{}

// erlTerm prints a decoded JSON value as EMQX 4 prints an Erlang term in an
// uncoded error message (compact ~p style): strings become binaries
// <<"...">>, a missing value is undefined, objects are maps with atom keys in
// sorted order.
func erlTerm(v any) string {
	var sb strings.Builder
	writeErl(&sb, v)
	return sb.String()
}

func writeErl(sb *strings.Builder, v any) {
	switch t := v.(type) {
	case erlMissing:
		sb.WriteString("undefined")
	case nil:
		sb.WriteString("null")
	case bool:
		if t {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
	case json.Number:
		sb.WriteString(t.String())
	case string:
		if t == "" {
			sb.WriteString("<<>>")
			return
		}
		sb.WriteString(`<<"`)
		sb.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(t))
		sb.WriteString(`">>`)
	case []any:
		sb.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeErl(sb, e)
		}
		sb.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sb.WriteString("#{")
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(k)
			sb.WriteString(" => ")
			writeErl(sb, t[k])
		}
		sb.WriteByte('}')
	default:
		sb.WriteString("undefined")
	}
}
