// Command bareuas is the baseline of the SIP load run: a bare sipgo user agent server that
// answers every INVITE with one fixed SDP answer (one MSRP m-line), takes the ACK and answers
// the BYE, with nothing behind it. Compare `parley serve` with it under the same sipp scenario
// (cmd/parley/testdata/sipp/load-invite.xml); it is not part of the product binary.
// cmd/parley/testdata/sipp/load-compare.sh runs both.
//
//	go run ./sip/internal/bareuas -listen 127.0.0.1:5090
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

const answer = "v=0\r\no=bare 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=message 2855 TCP/MSRP *\r\na=accept-types:message/cpim\r\na=accept-wrapped-types:text/plain *\r\n" +
	"a=path:msrp://127.0.0.1:2855/bareuassession0;tcp\r\na=setup:passive\r\n"

func main() {
	listen := flag.String("listen", "127.0.0.1:5090", "UDP and TCP listen address")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sip.SetDefaultLogger(log)
	if err := run(*listen, log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(listen string, log *slog.Logger) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("bareuas"), sipgo.WithUserAgentHostname(host))
	if err != nil {
		return err
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		return err
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(host))
	if err != nil {
		return err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "bare", Host: host}}
	fmt.Sscan(port, &contact.Address.Port)
	dialogs := sipgo.NewDialogServerCache(client, contact)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		dlg, err := dialogs.ReadInvite(req, tx)
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
			return
		}
		if err := dlg.RespondSDP([]byte(answer)); err != nil {
			dlg.Close() // no ACK, or cancelled: forget the dialog
		}
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = dialogs.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		dlg, err := dialogs.MatchDialogRequest(req)
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		_ = dlg.ReadBye(req, tx)
		dlg.Close()
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe(ctx, "udp", listen) }()
	go func() { errc <- srv.ListenAndServe(ctx, "tcp", listen) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}
