package xcon

import "encoding/xml"

// PageModeLocal is the local name of the element that marks an endpoint of a page-mode member:
// a SIP MESSAGE client (RFC 3428) in the room without an MSRP session. It travels on the
// <endpoint> as <parley:page-mode>true</parley:page-mode> (namespace NSParley), where RFC 4575's
// endpoint-type admits elements of other namespaces, so documents stay valid.
const PageModeLocal = "page-mode"

// PageModeElement returns the element that marks a page-mode endpoint.
func PageModeElement() *Element {
	return &Element{Name: xml.Name{Space: NSParley, Local: PageModeLocal}, Text: "true"}
}

// PageMode tells whether an endpoint is a page-mode member's.
func (e *Endpoint) PageMode() bool {
	for _, x := range e.Extras.Elements {
		if x.Name.Space == NSParley && x.Name.Local == PageModeLocal {
			return x.Text == "true"
		}
	}
	return false
}
