package sdp

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
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

// FileDate is the parsed a=file-date of RFC 5547 §7: the file's own dates, each an RFC 5322
// date-time as written (quotes removed), "" when absent.
type FileDate struct {
	Creation, Modification, Read string
}

// ParseFileDate reads the value of an a=file-date attribute: date-params creation:, modification:
// and read:, each followed by a quoted RFC 5322 date-time. Unknown params are skipped; a date that
// does not parse is an error.
func ParseFileDate(v string) (FileDate, error) {
	var fd FileDate
	rest := strings.TrimSpace(v)
	for rest != "" {
		key, after, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(after, `"`) {
			return fd, fmt.Errorf("%w: file-date %q", ErrSyntax, rest)
		}
		end := strings.IndexByte(after[1:], '"')
		if end < 0 {
			return fd, fmt.Errorf("%w: unterminated file-date", ErrSyntax)
		}
		date := after[1 : 1+end]
		rest = strings.TrimSpace(after[1+end+1:])
		if _, err := ParseDateTime(date); err != nil {
			return fd, fmt.Errorf("%w: file-date %s %q", ErrSyntax, key, date)
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "creation":
			fd.Creation = date
		case "modification":
			fd.Modification = date
		case "read":
			fd.Read = date
		}
	}
	return fd, nil
}

// ParseDateTime reads an RFC 5322 §3.3 date-time, with or without the day of the week and the
// seconds, and with a zone as an offset or one of the obsolete names (GMT, UT).
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i > 0 { // a trailing comment: "+0000 (UTC)"
		s = strings.TrimSpace(s[:i])
	}
	var err error
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700",
		"Mon, 2 Jan 2006 15:04 -0700", "2 Jan 2006 15:04 -0700", "Mon, 2 Jan 2006 15:04:05 MST", "2 Jan 2006 15:04:05 MST"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}
