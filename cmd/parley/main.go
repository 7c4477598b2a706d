// Command parley is the Parley chat-room focus: `parley serve` runs the daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes: 1 means the configuration or start-up failed (do not restart blindly).
const (
	exitOK            = 0
	exitFailedStartup = 1
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := &cobra.Command{
		Use:           "parley",
		Short:         "Parley is a SIP conference focus for MSRP chat rooms",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), roomCommand(), versionCommand())
	root.AddCommand(chatCommand(), benchCommand(), healthCommand())
	root.AddCommand(reloadCommand(), drainCommand(), backupCommand())
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		if errors.Is(err, context.Canceled) {
			return exitOK
		}
		return exitFailedStartup
	}
	return exitOK
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			version := "(devel)"
			if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
				version = info.Main.Version
			}
			fmt.Fprintln(cmd.OutOrStdout(), "parley", version)
		},
	}
}
