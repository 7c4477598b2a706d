// Package ccmp is the home of the Centralized Conferencing Manipulation Protocol (RFC 6503):
// the message types and their XML, the HTTP handler of POST /ccmp, and the client used by
// `parley room`. Until those land, rooms are provisioned through configs/parley.yaml.
package ccmp
