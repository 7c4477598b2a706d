package main

import (
	"crypto/tls"
	"fmt"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/msrp"
	sipserver "github.com/parleychat/parley/sip"
	"github.com/parleychat/parley/xcon"
)

// sipPeering translates the SIP over TLS, conference factory and REFER keys. The TLS
// certificate is sip.tls_cert_file/tls_key_file, or the self-signed one kept in the data
// directory (shared with MSRP over TLS). Ad-hoc rooms are made from the first blueprint, else
// from the first configured room's channels.
func sipPeering(cfg *configs.Config, specs []focus.RoomSpec) (sipserver.PeeringConfig, error) {
	p := sipserver.PeeringConfig{TLSListen: cfg.SIP.TLSListen, Factory: cfg.SIP.Factory,
		ReferAnyone: cfg.SIP.ReferAllowed != "moderators"}
	for _, d := range cfg.SIP.AdhocAllowed {
		if d == "any" {
			p.AdhocAllowed = nil
			break
		}
		p.AdhocAllowed = append(p.AdhocAllowed, d)
	}
	if len(cfg.Blueprints) > 0 {
		b := cfg.Blueprints[0]
		p.AdhocRoom = focus.RoomSpec{DisplayText: b.DisplayText,
			Policy: xcon.RoomPolicy{History: configs.DefaultHistory}}
		for _, ch := range b.Channels {
			p.AdhocRoom.Channels = append(p.AdhocRoom.Channels, xcon.Channel{Label: ch.Label, Language: ch.Language, DisplayText: ch.Name})
		}
	} else if len(specs) > 0 {
		p.AdhocRoom = focus.RoomSpec{Channels: specs[0].Channels, Policy: xcon.RoomPolicy{History: configs.DefaultHistory}}
	}
	if cfg.SIP.TLSListen == "" {
		return p, nil
	}
	var cert tls.Certificate
	var err error
	if cfg.SIP.TLSCertFile != "" {
		if cert, err = tls.LoadX509KeyPair(cfg.SIP.TLSCertFile, cfg.SIP.TLSKeyFile); err != nil {
			return p, fmt.Errorf("sip.tls_cert_file: %w", err)
		}
	} else if cert, err = msrp.LoadOrCreateCertificate(cfg.DataDir); err != nil {
		return p, fmt.Errorf("sip TLS certificate in %s: %w", cfg.DataDir, err)
	}
	p.TLSCertificate = &cert
	return p, nil
}
