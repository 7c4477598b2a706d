// Package corpus reads the malformed-input corpus of testdata/malformed: hostile inputs, each
// with the answer Parley must give. The daemon's table test replays them over real sockets and
// the fuzz targets start from them.
//
// A corpus file is a list of cases. A case starts with a line "=== NAME", then "key: value"
// lines (want, warning, comment, reason, error, via, known, …) up to a line "---", then its input,
// one line per line up to a blank line followed by the next "===" (or the end of the file). Input lines end with the file's line ending (CRLF,
// or LF when the file's first line is "#eol: lf"), and are expanded:
//
//	\r \n \t \0 \\ \xHH  the byte
//	\c at the end         no line ending after this line
//	{{repeat N TEXT}}     TEXT N times (TEXT is expanded too, without nesting braces)
//	{{NAME}}              a variable the replaying test supplies
//
// Lines starting with "#" outside an input are comments.
package corpus

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Case is one corpus entry.
type Case struct {
	File string // base name of its file, e.g. "sip.txt"
	Name string
	Line int               // where "=== NAME" is
	Keys map[string]string // the case's key: value lines
	raw  []string          // input lines, unexpanded
	eol  string
}

// Get returns a key's value ("" when absent).
func (c *Case) Get(key string) string { return c.Keys[key] }

// String names the case for test output.
func (c *Case) String() string { return fmt.Sprintf("%s:%d %s", c.File, c.Line, c.Name) }

// Load reads one corpus file.
func Load(path string) ([]*Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	eol := "\r\n"
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "#eol: lf" {
		eol = "\n"
	}
	var out []*Case
	var cur *Case
	inInput := false
	for i, l := range lines {
		if name, ok := strings.CutPrefix(l, "=== "); ok {
			cur = &Case{File: filepath.Base(path), Name: strings.TrimSpace(name), Line: i + 1, Keys: map[string]string{}, eol: eol}
			out = append(out, cur)
			inInput = false
			continue
		}
		if cur == nil {
			if l != "" && !strings.HasPrefix(l, "#") {
				return nil, fmt.Errorf("%s:%d: text before the first case", path, i+1)
			}
			continue
		}
		if inInput {
			cur.raw = append(cur.raw, l)
			continue
		}
		switch {
		case l == "---":
			inInput = true
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				return nil, fmt.Errorf("%s:%d: want \"key: value\" or \"---\"", path, i+1)
			}
			k = strings.TrimSpace(k)
			if old, dup := cur.Keys[k]; dup {
				v = old + "\n" + strings.TrimSpace(v)
			}
			cur.Keys[k] = strings.TrimSpace(v)
		}
	}
	for _, c := range out {
		// One blank line ends each case (the file's last newline ends the last one); any
		// other is input.
		if n := len(c.raw); n > 0 && c.raw[n-1] == "" {
			c.raw = c.raw[:n-1]
		}
	}
	return out, nil
}

// LoadDir reads every *.txt corpus file of dir whose name is given.
func LoadDir(dir string, files ...string) ([]*Case, error) {
	var all []*Case
	for _, f := range files {
		cs, err := Load(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
	}
	return all, nil
}

// Input expands the case's input with vars; a variable it does not know is an error.
func (c *Case) Input(vars map[string]string) ([]byte, error) {
	var b bytes.Buffer
	for _, l := range c.raw {
		noEOL := strings.HasSuffix(l, `\c`) && !strings.HasSuffix(l, `\\c`)
		if noEOL {
			l = strings.TrimSuffix(l, `\c`)
		}
		x, err := expand(l, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		b.Write(x)
		if !noEOL {
			b.WriteString(c.eol)
		}
	}
	return b.Bytes(), nil
}

// Raw returns the input with only the escapes expanded and each macro left as written: a seed
// for fuzzing that needs no replaying test.
func (c *Case) Raw() []byte {
	b, err := c.Input(nil)
	if err == nil {
		return b
	}
	return []byte(strings.Join(c.raw, c.eol))
}

func expand(s string, vars map[string]string) ([]byte, error) {
	var out []byte
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ in %q", s)
		}
		out = append(out, unescape(s[:i])...)
		macro := s[i+2 : i+j]
		s = s[i+j+2:]
		if rest, ok := strings.CutPrefix(macro, "repeat "); ok {
			ns, text, _ := strings.Cut(rest, " ")
			n, err := strconv.Atoi(ns)
			if err != nil || n < 0 || n > 10_000_000 {
				return nil, fmt.Errorf("bad repeat count %q", ns)
			}
			out = append(out, bytes.Repeat(unescape(text), n)...)
			continue
		}
		v, ok := vars[macro]
		if !ok {
			if vars == nil {
				out = append(out, "{{"+macro+"}}"...)
				continue
			}
			return nil, fmt.Errorf("unknown variable {{%s}}", macro)
		}
		out = append(out, v...)
	}
	return append(out, unescape(s)...), nil
}

func unescape(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			out = append(out, c)
			continue
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					out = append(out, byte(v))
					i += 2
					continue
				}
			}
			out = append(out, '\\', 'x')
		default:
			out = append(out, '\\', s[i])
		}
	}
	return out
}
