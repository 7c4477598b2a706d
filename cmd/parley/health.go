package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parleychat/parley/configs"
)

// healthCommand asks a running focus whether it serves: GET /healthz on its HTTP listener.
// Container images have no curl; their HEALTHCHECK runs this.
func healthCommand() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check a running focus: exit 0 when GET /healthz answers 200, 1 otherwise",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("http") {
				u, err := localHTTP()
				if err != nil {
					return err
				}
				url = u
			}
			target := strings.TrimSuffix(url, "/")
			if !strings.HasSuffix(target, "/healthz") {
				target += "/healthz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return err
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("health: %s answered %s: %s", target, res.Status, strings.TrimSpace(string(body)))
			}
			fmt.Fprintln(cmd.OutOrStdout(), strings.TrimSpace(string(body)))
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "http", "", "base URL of the focus's HTTP listener (default: the http.listen of the configuration "+
		"parley serve would read, PARLEY_CONFIG and PARLEY_HTTP included, a wildcard host meaning loopback)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// localHTTP is the URL of the HTTP listener `parley serve` would bind, read as serve reads it
// (defaults, the file of PARLEY_CONFIG, PARLEY_HTTP), with a wildcard host replaced by loopback.
func localHTTP() (string, error) {
	cfg, err := configs.Load(os.Getenv("PARLEY_CONFIG"))
	if err != nil {
		return "", err
	}
	listen := cfg.HTTP.Listen
	if v, ok := os.LookupEnv("PARLEY_HTTP"); ok {
		listen = v
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("http.listen: %q is not host:port", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
