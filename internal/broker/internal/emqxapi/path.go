package emqxapi

import (
	"net/url"
	"strings"
)

// Path joins segments into an escaped path that starts with "/". Each
// segment is escaped on its own, so "/" inside an identifier or topic
// becomes %2F and stays one segment; "#" and "%" are escaped; "$" and ":"
// are left alone, which keeps route words like "$all" literal as v4 needs.
// "." and ".." are escaped too, so no proxy or router collapses them.
func Path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		switch s {
		case ".":
			b.WriteString("%2E")
		case "..":
			b.WriteString("%2E%2E")
		default:
			b.WriteString(url.PathEscape(s))
		}
	}
	return b.String()
}
