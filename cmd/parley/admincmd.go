package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// adminCommand is a command that POSTs to an admin endpoint of the focus running on this host.
func adminCommand(use, short, path string, args cobra.PositionalArgs, form func([]string) (url.Values, error)) *cobra.Command {
	var base string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, argv []string) error {
			if !cmd.Flags().Changed("http") {
				u, err := localHTTP()
				if err != nil {
					return err
				}
				base = u
			}
			values := url.Values{}
			if form != nil {
				var err error
				if values, err = form(argv); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			target := strings.TrimSuffix(base, "/") + path
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(values.Encode()))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("%s: %w", cmd.Name(), err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
			text := strings.TrimSpace(string(body))
			if res.StatusCode/100 != 2 {
				return fmt.Errorf("%s: %s", cmd.Name(), text)
			}
			fmt.Fprintln(cmd.OutOrStdout(), text)
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "http", "", "base URL of the focus's HTTP listener, on this host (default: the http.listen of the configuration "+
		"parley serve would read, PARLEY_CONFIG and PARLEY_HTTP included, a wildcard host meaning loopback)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the answer")
	return cmd
}

func reloadCommand() *cobra.Command {
	return adminCommand("reload", "Make the running focus read parley.yaml again (as SIGHUP does); a bad file is refused with its error",
		"/admin/reload", cobra.NoArgs, nil)
}

func drainCommand() *cobra.Command {
	return adminCommand("drain", "Drain the running focus (as SIGUSR2 does): refuse new calls with 503, tell the rooms, "+
		"shut down once everybody left or after drain_timeout", "/admin/drain", cobra.NoArgs, nil)
}

func backupCommand() *cobra.Command {
	return adminCommand("backup FILE", "Write an online copy of the running focus's SQLite database to FILE (a new file, on the focus's host); "+
		"restore by putting it as parley.db into a data directory", "/admin/backup", cobra.ExactArgs(1),
		func(args []string) (url.Values, error) {
			path, err := filepath.Abs(args[0])
			if err != nil {
				return nil, err
			}
			return url.Values{"file": {path}}, nil
		})
}
