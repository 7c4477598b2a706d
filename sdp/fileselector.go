package sdp

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// FileSelector is the parsed a=file-selector of RFC 5547 §6: what file an m-line transfers.
type FileSelector struct {
	Name string // decoded (percent-encoding removed); never trust it as a path
	Type string // media type with its parameters, e.g. image/png
	Size int64  // -1 when absent
	Hash string // "sha-1:AB:CD:…", as written
}

// ParseFileSelector reads the value of an a=file-selector attribute.
func ParseFileSelector(v string) (FileSelector, error) {
	fs := FileSelector{Size: -1}
	rest := strings.TrimSpace(v)
	for rest != "" {
		var sel string
		switch {
		case strings.HasPrefix(rest, `name:"`):
			end := strings.IndexByte(rest[6:], '"')
			if end < 0 {
				return fs, fmt.Errorf("%w: unterminated file-selector name", ErrSyntax)
			}
			name, err := url.PathUnescape(rest[6 : 6+end])
			if err != nil {
				return fs, fmt.Errorf("%w: file-selector name: %v", ErrSyntax, err)
			}
			fs.Name = name
			rest = strings.TrimSpace(rest[6+end+1:])
			continue
		default:
			sel, rest, _ = strings.Cut(rest, " ")
			rest = strings.TrimSpace(rest)
		}
		key, val, ok := strings.Cut(sel, ":")
		if !ok {
			return fs, fmt.Errorf("%w: file-selector %q", ErrSyntax, sel)
		}
		switch key {
		case "type":
			fs.Type = val
		case "size":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return fs, fmt.Errorf("%w: file-selector size %q", ErrSyntax, val)
			}
			fs.Size = n
		case "hash":
			fs.Hash = val
		}
	}
	return fs, nil
}
