package ccmp

import "github.com/parleychat/parley/xcon"

// matchFilter evaluates an xpathFilter (RFC 6503 §5.3.1) against one conference object.
func matchFilter(filter string, c *xcon.Conference) (bool, error) {
	return false, fail(CodeNotImplemented, "xpathFilter is not supported by this server")
}
