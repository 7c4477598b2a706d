// Package webclient is the browser chat client Parley serves at / on its HTTP listeners: plain
// HTML, CSS and JavaScript embedded in the binary, speaking SIP over WebSocket (RFC 7118, GET /sip)
// and MSRP over WebSocket (RFC 7977, GET /msrp) to the same listener.
package webclient

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Config is what the page learns from the focus at GET /config.json before it joins.
type Config struct {
	Domain string `json:"domain"` // rooms are sip:NAME@Domain
	Room   string `json:"room"`   // the room the join form proposes
}

// Handler serves the page and its files, and /config.json.
func Handler(cfg Config) http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	files := http.FileServerFS(sub)
	conf, _ := json.Marshal(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; connect-src 'self' ws: wss: blob:; frame-ancestors 'none'")
		if r.URL.Path == "/config.json" {
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(conf)
			return
		}
		files.ServeHTTP(w, r)
	})
}
