package main

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/parleychat/parley/cmd/parley/webclient"
	"github.com/parleychat/parley/configs"
)

// webSocketListeners says which HTTP listeners serve SIP and MSRP over WebSocket (http.websocket):
// "on" both, "off" none, "auto" (the default) the HTTPS listener and the plain one only when it is on
// loopback, since ws: carries chat in the clear.
func webSocketListeners(cfg *configs.Config, httpAddr, httpsAddr net.Addr) (ws, wss bool) {
	switch cfg.HTTP.WebSocket {
	case "off":
		return false, false
	case "on":
		return true, httpsAddr != nil
	}
	plain := false
	if a, ok := httpAddr.(*net.TCPAddr); ok && a.IP.IsLoopback() {
		plain = true
	}
	return plain, httpsAddr != nil
}

// webSocketRoutes adds GET /sip (RFC 7118) and GET /msrp (RFC 7977) to the HTTP mux, each only on the
// listeners http.websocket turns on, behind the origin check.
func (d *daemon) webSocketRoutes(mux *http.ServeMux) {
	if !d.wsOn && !d.wssOn {
		return
	}
	var sipWS, sipWSS http.Handler
	if d.wsOn {
		sipWS = d.sip.WebSocketHandler(false, portOf(d.httpAddr))
	}
	if d.wssOn {
		sipWSS = d.sip.WebSocketHandler(true, portOf(d.httpsAddr))
	}
	msrpWS := d.endpoint.WebSocketHandler()
	on := func(r *http.Request) bool { return r.TLS == nil && d.wsOn || r.TLS != nil && d.wssOn }
	mux.Handle("GET /sip", d.checkOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !on(r):
			http.NotFound(w, r)
		case r.TLS != nil:
			sipWSS.ServeHTTP(w, r)
		default:
			sipWS.ServeHTTP(w, r)
		}
	})))
	mux.Handle("GET /msrp", d.checkOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !on(r) {
			http.NotFound(w, r)
			return
		}
		msrpWS.ServeHTTP(w, r)
	})))
	if !d.cfg.HTTP.WebClient {
		return
	}
	// The browser client at /, on the same listeners: a page where its WebSockets would not be
	// served would only fail to join. Every path not routed elsewhere is one of its files or 404.
	page := webclient.Handler(webclient.Config{Domain: d.cfg.Domain, Room: defaultRoom(d.cfg)})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !on(r) {
			http.NotFound(w, r)
			return
		}
		page.ServeHTTP(w, r)
	}))
}

// defaultRoom is the room the page's join form proposes: lobby when there is one, else the first
// room of the configuration.
func defaultRoom(cfg *configs.Config) string {
	for _, r := range cfg.Rooms {
		if r.Name == "lobby" {
			return r.Name
		}
	}
	if len(cfg.Rooms) > 0 {
		return cfg.Rooms[0].Name
	}
	return "lobby"
}

// checkOrigin refuses (403) a browser's upgrade from a page of another site: its Origin must be the
// request's own host or one of http.ws_origins ("*" takes any). Clients that send no Origin (not a
// browser) are let in: the origin check protects browsers' users, not the server.
func (d *daemon) checkOrigin(h http.Handler) http.Handler {
	allowed := d.cfg.HTTP.WSOrigins
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || originAllowed(origin, r.Host, allowed) {
			h.ServeHTTP(w, r)
			return
		}
		d.log.Info("websocket upgrade from a foreign origin refused", "origin", origin, "path", r.URL.Path, "remote", r.RemoteAddr)
		http.Error(w, "origin not allowed (http.ws_origins)", http.StatusForbidden)
	})
}

func originAllowed(origin, host string, allowed []string) bool {
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}
