package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/beevik/etree"
	"github.com/spf13/cobra"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// roomCommand is `parley room …`: room management over CCMP (RFC 6503) against a running
// daemon.
// roomCLI holds the flags every `parley room` command shares.
type roomCLI struct {
	server, user, password, login string
	asJSON                        bool
}

func roomCommand() *cobra.Command {
	rc := &roomCLI{}
	cmd := &cobra.Command{
		Use:   "room",
		Short: "Manage rooms of a running focus over CCMP (create, list, show, update, delete, close, users, kick, ban, unban, nick, role, history-on-join, history, export, audit, options)",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&rc.server, "server", "http://127.0.0.1:8080", "base URL of the focus's HTTP listener")
	pf.StringVar(&rc.user, "user", defaultUserID(), "XCON-USERID to act as (confUserID)")
	pf.StringVar(&rc.password, "password", "", "conference password of the room, if it has one")
	pf.StringVar(&rc.login, "login", "", "username for a server that asks for credentials (secret in $PARLEY_CCMP_SECRET)")
	pf.BoolVar(&rc.asJSON, "json", false, "print JSON instead of text")

	cmd.AddCommand(rc.createCommand(), rc.listCommand(), rc.showCommand(), rc.updateCommand(), rc.deleteCommand(),
		rc.closeCommand(), rc.usersCommand(), rc.kickCommand(), rc.banCommand(true), rc.banCommand(false),
		rc.nickCommand(), rc.roleCommand(), rc.historyOnJoinCommand(), rc.historyCommand(), rc.exportCommand(),
		rc.auditCommand(), rc.optionsCommand())
	return cmd
}

// client is the CCMP client of the flags given.
func (rc *roomCLI) client() *ccmp.Client {
	return &ccmp.Client{URL: strings.TrimSuffix(rc.server, "/") + "/ccmp", UserID: rc.user, Password: rc.password,
		Username: rc.login, Secret: os.Getenv("PARLEY_CCMP_SECRET")}
}

// out prints v as JSON with --json, else as human prints it.
func (rc *roomCLI) out(cmd *cobra.Command, v any, human func(w io.Writer)) error {
	w := cmd.OutOrStdout()
	if rc.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(w)
	return nil
}

// createCommand is `parley room create`.
func (rc *roomCLI) createCommand() *cobra.Command {
	var spec ccmp.RoomSpec
	var fromInfo *xcon.Conference // --from-file gave an RFC 6501 document
	create := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Create a room (from the chat blueprint unless --blueprint says otherwise); no NAME lets the server choose",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var conf *xcon.Conference
			var err error
			if fromInfo != nil {
				conf, err = rc.client().CreateRoomFromInfo(cmd.Context(), fromInfo)
			} else {
				s := spec
				if len(args) == 1 {
					s.Name = args[0]
				}
				s.Password = rc.password
				conf, err = rc.client().CreateRoom(cmd.Context(), s)
			}
			if err != nil {
				return err
			}
			return rc.out(cmd, toRoomJSON(conf), func(w io.Writer) {
				fmt.Fprintf(w, "created %s (version %d)\n", conf.Entity, conf.Version)
				printRoom(w, conf)
			})
		},
	}
	create.Flags().StringVar(&spec.Blueprint, "blueprint", "", "blueprint to start from: chat or chat-multilingual")
	create.Flags().StringVar(&spec.DisplayText, "title", "", "room title (display-text)")
	create.Flags().StringVar(&spec.Subject, "subject", "", "room subject")
	create.Flags().BoolVar(&spec.Logging, "logging", false, "log the room's messages (joiners are told)")
	create.Flags().IntVar(&spec.History, "history", 0, "messages replayed to joiners of a logged room (default 20)")
	create.Flags().BoolVar(&spec.Moderated, "moderated", false, "joiners without a role are visitors until a moderator gives them voice (parley room role)")

	var fromFile string
	create.Flags().StringVar(&fromFile, "from-file", "", "take the room from a YAML file shaped as a rooms[] entry of parley.yaml (name, display_text, subject, logging, history, moderated, channels, keep_for, keep_messages, max_users, owner), or from an XCON conference-info document (RFC 6501), sent as the confRequest's confInfo")
	create.PreRunE = func(cmd *cobra.Command, args []string) error {
		if fromFile == "" {
			return nil
		}
		for _, f := range []string{"title", "subject", "logging", "history", "moderated", "blueprint"} {
			if cmd.Flags().Changed(f) {
				return fmt.Errorf("--%s does not go with --from-file (the file says it)", f)
			}
		}
		data, err := os.ReadFile(fromFile)
		if err != nil {
			return err
		}
		name := ""
		if len(args) == 1 {
			name = args[0]
		}
		if isXML(data) {
			fromInfo, err = conferenceFromFile(data, fromFile, name)
			return err
		}
		r, err := configs.ParseRoom(data, fromFile, name)
		if err != nil {
			return err
		}
		if r.Name == "" {
			return fmt.Errorf("%s: no name (give NAME or name:)", fromFile)
		}
		spec.Name, spec.DisplayText, spec.Subject = r.Name, r.DisplayText, r.Subject
		spec.Logging, spec.Moderated = r.Logging, r.Moderated
		spec.History, spec.HistorySet = r.HistoryOrDefault(), true
		spec.KeepFor, spec.KeepMessages, spec.Owner, spec.MaxUsers = r.KeepFor, r.KeepMessages, r.Owner, r.MaxUsers
		if spec.Owner != "" && !strings.Contains(spec.Owner, ":") {
			return fmt.Errorf("%s: owner %q: give a SIP URI (sip:NAME@DOMAIN)", fromFile, r.Owner)
		}
		for _, ch := range r.Channels {
			spec.Channels = append(spec.Channels, xcon.Channel{Label: ch.Label, Language: ch.Language, DisplayText: ch.Name})
		}
		return nil
	}
	return create
}

// updateCommand is `parley room update`.
func (rc *roomCLI) updateCommand() *cobra.Command {
	var up struct {
		title, subject, logging, moderated string
		history, maxUsers, keepMessages    int
		maxMessageSize                     int64
		keepFor                            time.Duration
	}
	update := &cobra.Command{
		Use: "update ROOM [--title T] [--subject S] [--logging on|off] [--history N] [--moderated on|off] [--max-users N]\n" +
			"  [--max-message-size BYTES] [--keep-for DURATION] [--keep-messages N]",
		Short: "Change a room's title, subject, logging, history depth, moderation, user limit, message size limit or log retention; only the flags given change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u ccmp.RoomUpdate
			fl := cmd.Flags()
			if fl.Changed("title") {
				u.DisplayText = &up.title
			}
			if fl.Changed("subject") {
				u.Subject = &up.subject
			}
			for _, b := range []struct {
				flag string
				val  string
				to   **bool
			}{{"logging", up.logging, &u.Logging}, {"moderated", up.moderated, &u.Moderated}} {
				if !fl.Changed(b.flag) {
					continue
				}
				v, err := onOff(b.val)
				if err != nil {
					return fmt.Errorf("--%s: %w", b.flag, err)
				}
				*b.to = &v
			}
			if fl.Changed("history") {
				if up.history < 0 || up.history > 10000 {
					return fmt.Errorf("--history must be from 0 to 10000")
				}
				u.History = &up.history
			}
			if fl.Changed("max-users") {
				if up.maxUsers < 0 {
					return fmt.Errorf("--max-users must not be negative (0: no limit)")
				}
				u.MaxUsers = &up.maxUsers
			}
			if fl.Changed("max-message-size") {
				if up.maxMessageSize < 0 {
					return fmt.Errorf("--max-message-size must not be negative (0: the focus's msrp.max_message_size)")
				}
				u.MaxMessageSize = &up.maxMessageSize
			}
			if fl.Changed("keep-for") {
				if up.keepFor < 0 {
					return fmt.Errorf("--keep-for must not be negative (0: keep every message)")
				}
				u.KeepFor = &up.keepFor
			}
			if fl.Changed("keep-messages") {
				if up.keepMessages < 0 {
					return fmt.Errorf("--keep-messages must not be negative (0: keep every message)")
				}
				u.KeepMessages = &up.keepMessages
			}
			if u.Empty() {
				return fmt.Errorf("nothing to change: give --title, --subject, --logging, --history, --moderated, --max-users, " +
					"--max-message-size, --keep-for or --keep-messages")
			}
			c := rc.client()
			if _, err := c.UpdateRoom(cmd.Context(), args[0], u.Delta()); err != nil {
				return err
			}
			conf, err := c.Room(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return rc.out(cmd, toRoomJSON(conf), func(w io.Writer) {
				fmt.Fprintf(w, "updated %s (version %d)\n", conf.Entity, conf.Version)
				printRoom(w, conf)
			})
		},
	}
	update.Flags().StringVar(&up.title, "title", "", "room title (display-text); empty removes it")
	update.Flags().StringVar(&up.title, "display-text", "", "the same as --title")
	update.Flags().StringVar(&up.subject, "subject", "", "room subject; empty removes it")
	update.Flags().StringVar(&up.logging, "logging", "", "on or off: log the room's messages (joiners are told)")
	update.Flags().IntVar(&up.history, "history", 0, "messages replayed to joiners of a logged room")
	update.Flags().StringVar(&up.moderated, "moderated", "", "on or off: joiners without a role are visitors until given voice")
	update.Flags().IntVar(&up.maxUsers, "max-users", 0, "most users in the room at once (maximum-user-count; 0: no limit)")
	update.Flags().Int64Var(&up.maxMessageSize, "max-message-size", 0, "largest message a member may send here, in bytes (413 above it; capped by msrp.max_message_size; 0: that limit)")
	update.Flags().DurationVar(&up.keepFor, "keep-for", 0, "logged messages older than this are purged (e.g. 720h; 0: kept)")
	update.Flags().IntVar(&up.keepMessages, "keep-messages", 0, "only the newest N logged messages are kept (0: all)")
	return update
}

// banCommand is `parley room ban` (deny) and `parley room unban`.
func (rc *roomCLI) banCommand(deny bool) *cobra.Command {
	use, short, done := "ban ROOM USER", "Deny a user the room (its deny-users-list): his joins get 403; USER: xcon-userid:… or a SIP address", "banned"
	if !deny {
		use, short, done = "unban ROOM USER", "Take a user off the room's deny list", "unbanned"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := rc.client()
			id := userID(args[1])
			if !deny {
				// Remove the entry as the room lists it: by XCON-USERID or by SIP URI.
				conf, err := c.Room(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				var listed []string
				for _, t := range conf.DenyUsers {
					if strings.EqualFold(t.URI, id) || strings.EqualFold(t.URI, args[1]) || strings.EqualFold(userID(t.URI), id) {
						listed = append(listed, t.URI)
					}
				}
				if len(listed) == 0 {
					return fmt.Errorf("%s is not on the deny list of %s", args[1], args[0])
				}
				for _, uri := range listed {
					if _, err := c.SetDenied(cmd.Context(), args[0], uri, false); err != nil {
						return err
					}
				}
			} else if _, err := c.SetDenied(cmd.Context(), args[0], id, true); err != nil {
				return err
			}
			return rc.out(cmd, map[string]string{done: id, "room": ccmp.RoomURI(args[0])},
				func(w io.Writer) { fmt.Fprintf(w, "%s %s in %s\n", done, id, args[0]) })
		},
	}
}

// exportCommand is `parley room export`.
func (rc *roomCLI) exportCommand() *cobra.Command {
	var exportOut string
	export := &cobra.Command{
		Use:   "export ROOM [--out FILE]",
		Short: "Write a room's conference object (XML and its fields) and its whole log as one JSON document",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := rc.client()
			doc, err := exportRoom(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if exportOut != "" && exportOut != "-" {
				f, err := os.Create(exportOut)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			if err := enc.Encode(doc); err != nil {
				return err
			}
			if exportOut != "" && exportOut != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %s: %d messages to %s\n", doc.Room.URI, len(doc.Log), exportOut)
			}
			return nil
		},
	}
	export.Flags().StringVar(&exportOut, "out", "", "write to FILE instead of standard output")
	return export
}

// listCommand is `parley room list`.
func (rc *roomCLI) listCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the open rooms you may see; a sidebar says whose (\"sidebar of PARENT\", JSON sidebar_of)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rooms, err := rc.client().Rooms(cmd.Context())
			if err != nil {
				return err
			}
			return rc.out(cmd, rooms, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				for _, r := range rooms {
					kind := ""
					if r.SidebarOf != "" {
						kind = "sidebar of " + r.SidebarOf
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.URI, r.DisplayText, kind)
				}
				tw.Flush()
			})
		},
	}
	return list
}

// showCommand is `parley room show`.
func (rc *roomCLI) showCommand() *cobra.Command {
	show := &cobra.Command{
		Use:   "show ROOM",
		Short: "Show a room's conference object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conf, err := rc.client().Room(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return rc.out(cmd, toRoomJSON(conf), func(w io.Writer) { printRoom(w, conf) })
		},
	}
	return show
}

// deleteCommand is `parley room delete`.
func (rc *roomCLI) deleteCommand() *cobra.Command {
	del := &cobra.Command{
		Use:   "delete ROOM",
		Short: "Delete a room: everyone in it is told and disconnected",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rc.client().DeleteRoom(cmd.Context(), args[0]); err != nil {
				return err
			}
			return rc.out(cmd, map[string]string{"deleted": ccmp.RoomURI(args[0])}, func(w io.Writer) { fmt.Fprintln(w, "deleted", args[0]) })
		},
	}
	return del
}

// closeCommand is `parley room close`.
func (rc *roomCLI) closeCommand() *cobra.Command {
	var successor string
	closeCmd := &cobra.Command{
		Use:   "close ROOM --successor sip:NEW@DOMAIN",
		Short: "Close a room with an alternate venue: everyone is told and disconnected, later calls are redirected",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if successor == "" {
				return fmt.Errorf("--successor is required (the SIP URI of the room that replaces this one)")
			}
			v, err := rc.client().CloseRoom(cmd.Context(), args[0], successor)
			if err != nil {
				return err
			}
			return rc.out(cmd, map[string]any{"closed": ccmp.RoomURI(args[0]), "successor": successor, "version": v},
				func(w io.Writer) { fmt.Fprintf(w, "closed %s; calls go to %s\n", args[0], successor) })
		},
	}
	closeCmd.Flags().StringVar(&successor, "successor", "", "SIP URI of the room that replaces this one")
	return closeCmd
}

// usersCommand is `parley room users`.
func (rc *roomCLI) usersCommand() *cobra.Command {
	users := &cobra.Command{
		Use:   "users ROOM",
		Short: "List a room's users with their nicknames and chat sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := rc.client().Users(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			js := make([]userJSON, 0, len(list))
			for _, u := range list {
				js = append(js, toUserJSON(u))
			}
			return rc.out(cmd, js, func(w io.Writer) { printUsers(w, list) })
		},
	}
	return users
}

// kickCommand is `parley room kick`.
func (rc *roomCLI) kickCommand() *cobra.Command {
	kick := &cobra.Command{
		Use:   "kick ROOM USER",
		Short: "Remove a user from a room (USER: xcon-userid:… or a SIP address)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := userID(args[1])
			if err := rc.client().Kick(cmd.Context(), args[0], id); err != nil {
				return err
			}
			return rc.out(cmd, map[string]string{"kicked": id}, func(w io.Writer) { fmt.Fprintln(w, "removed", id, "from", args[0]) })
		},
	}
	return kick
}

// nickCommand is `parley room nick`.
func (rc *roomCLI) nickCommand() *cobra.Command {
	var exact bool
	nick := &cobra.Command{
		Use:   "nick ROOM NICKNAME [USER]",
		Short: "Set a nickname in a room (for --user, or for USER); prints the nickname allocated",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := rc.user
			if len(args) == 3 {
				id = userID(args[2])
			}
			set := rc.client().Nick
			if exact {
				set = rc.client().NickExact
			}
			got, err := set(cmd.Context(), args[0], id, args[1])
			if err != nil {
				return err
			}
			return rc.out(cmd, map[string]string{"user": id, "nickname": got}, func(w io.Writer) { fmt.Fprintf(w, "%s is %q in %s\n", id, got, args[0]) })
		},
	}

	nick.Flags().BoolVar(&exact, "exact", false, "this nickname or none: a taken one fails instead of another being allocated")
	return nick
}

// historyOnJoinCommand is `parley room history-on-join`.
func (rc *roomCLI) historyOnJoinCommand() *cobra.Command {
	var maxAge time.Duration
	onJoin := &cobra.Command{
		Use:   "history-on-join ROOM COUNT [USER]",
		Short: "Choose how many logged messages (0: none) you, or USER (xcon-userid:…, a SIP address or a nickname), are replayed on joining a room; the room's history depth bounds it",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				return fmt.Errorf("COUNT must be a whole number from 0, not %q", args[1])
			}
			if maxAge < 0 {
				return fmt.Errorf("--max-age must not be negative")
			}
			c := rc.client()
			id := rc.user
			if len(args) == 3 {
				if id, err = resolveUser(cmd.Context(), c, args[0], args[2]); err != nil {
					return err
				}
			}
			got, err := c.SetHistoryOnJoin(cmd.Context(), args[0], id, xcon.HistoryOnJoin{Count: n, MaxAge: maxAge})
			if err != nil {
				return err
			}
			v := map[string]any{"user": id, "room": ccmp.RoomURI(args[0]), "asked": n, "count": got.Count}
			if got.MaxAge > 0 {
				v["max_age"] = got.MaxAge.String()
			}
			return rc.out(cmd, v, func(w io.Writer) {
				fmt.Fprintf(w, "%s gets %d messages on joining %s", id, got.Count, args[0])
				if got.MaxAge > 0 {
					fmt.Fprintf(w, ", none older than %s", got.MaxAge)
				}
				if got.Count < n {
					fmt.Fprintf(w, " (asked %d: the room replays at most %d)", n, got.Count)
				}
				fmt.Fprintln(w)
			})
		},
	}
	onJoin.Flags().DurationVar(&maxAge, "max-age", 0, "and none logged longer ago than this (e.g. 24h; default: any age)")
	return onJoin
}

// roleCommand is `parley room role`.
func (rc *roomCLI) roleCommand() *cobra.Command {
	role := &cobra.Command{
		Use:   "role ROOM USER ROLE",
		Short: "Give a user a role (" + strings.Join(roleNames, ", ") + "); USER: xcon-userid:…, a SIP address or a nickname",
		Long: "Give a user a role in a room over CCMP (userRequest update of his <roles>, or create when the room does\n" +
			"not list him). In a moderated room participant gives voice and observer takes it. Moderators give\n" +
			"participant and observer to users below moderator; administrators give any role.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := strings.ToLower(strings.TrimSpace(args[2]))
			if !slices.Contains(roleNames, r) {
				return fmt.Errorf("role %q: want one of %s", args[2], strings.Join(roleNames, ", "))
			}
			c := rc.client()
			id, err := resolveUser(cmd.Context(), c, args[0], args[1])
			if err != nil {
				return err
			}
			u, err := c.SetRole(cmd.Context(), args[0], id, r)
			if err != nil {
				return err
			}
			return rc.out(cmd, map[string]any{"user": u.Entity, "roles": u.Roles},
				func(w io.Writer) { fmt.Fprintf(w, "%s is %s in %s\n", u.Entity, strings.Join(u.Roles, ","), args[0]) })
		},
	}
	return role
}

// historyCommand is `parley room history`.
func (rc *roomCLI) historyCommand() *cobra.Command {
	var hq struct {
		channel, from, to, since, after string
		limit                           int
	}
	history := &cobra.Command{
		Use:   "history ROOM",
		Short: "Show logged messages of a room (--from/--to/--since RFC 3339 times or durations such as 2h)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := ccmp.HistoryQuery{Channel: hq.channel, Limit: hq.limit}
			var err error
			if q.From, err = parseWhen(hq.from); err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			if q.To, err = parseWhen(hq.to); err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if q.Since, err = parseWhen(hq.since); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			q.After = hq.after
			entries, next, err := rc.client().HistoryPage(cmd.Context(), args[0], q)
			if err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more follow: --after %s\n", next)
			}
			return rc.out(cmd, entries, func(w io.Writer) {
				for _, e := range entries {
					who := e.Sender
					if e.Nickname != "" {
						who = e.Nickname
					}
					fmt.Fprintf(w, "%s [%s] %s: %s\n", e.Time.Local().Format(time.DateTime), e.Channel, who, messageText(e))
				}
			})
		},
	}
	history.Flags().StringVar(&hq.channel, "channel", "", "channel label (default: all)")
	history.Flags().StringVar(&hq.from, "from", "", "oldest time")
	history.Flags().StringVar(&hq.to, "to", "", "newest time")
	history.Flags().StringVar(&hq.since, "since", "", "read forwards: the messages logged from this time on, oldest first")
	history.Flags().StringVar(&hq.after, "after", "", "read forwards after this cursor (printed when more follow)")
	history.Flags().IntVar(&hq.limit, "limit", 50, "at most this many messages (the newest of a range, the oldest with --since)")
	return history
}

// auditCommand is `parley room audit`.
func (rc *roomCLI) auditCommand() *cobra.Command {
	var auditLimit int
	audit := &cobra.Command{
		Use:   "audit ROOM",
		Short: "Show the audit of CCMP changes to a room (who, from where, what, result), newest last; for moderators and administrators",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := rc.client().Audit(cmd.Context(), args[0], auditLimit)
			if err != nil {
				return err
			}
			return rc.out(cmd, entries, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tPRINCIPAL\tREMOTE\tREQUEST\tOPERATION\tTARGET\tCODE")
				for _, e := range entries {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.Time.Local().Format(time.DateTime), e.Principal, e.Remote,
						e.Request, e.Operation, e.Target, e.Code)
				}
				tw.Flush()
			})
		},
	}
	audit.Flags().IntVar(&auditLimit, "limit", 50, "at most this many rows, the newest")
	return audit
}

// optionsCommand is `parley room options`.
func (rc *roomCLI) optionsCommand() *cobra.Command {
	options := &cobra.Command{
		Use:   "options",
		Short: "Show what the server's CCMP implements",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := rc.client().Options(cmd.Context())
			if err != nil {
				return err
			}
			return rc.out(cmd, o, func(w io.Writer) {
				for _, m := range o.Standard {
					fmt.Fprintf(w, "%s\t%s\n", m.Name, opsText(m.Operations))
				}
				for _, m := range o.Extended {
					fmt.Fprintf(w, "extension %s\t%s\t%s\n", m.Name, opsText(m.Operations), m.Description)
				}
			})
		},
	}
	return options
}

func defaultUserID() string {
	name := os.Getenv("USER")
	if name == "" {
		name = "admin"
	}
	return "xcon-userid:" + strings.ToLower(name) + "@localhost"
}

// userID accepts an XCON-USERID or a SIP address (mapped as the focus maps callers).
func userID(s string) string {
	if strings.HasPrefix(strings.ToLower(s), "xcon-userid:") {
		return s
	}
	return xcon.UserIDFromAOR(s)
}

// roleNames are the roles `parley room role` gives (RFC 6501 §4.6.5.2).
var roleNames = []string{"administrator", "moderator", "participant", "observer"}

// resolveUser is userID, and also takes a nickname (a word without ':' or '@'): the user of
// the room who holds it, on his row or on one of his chat sessions.
func resolveUser(ctx context.Context, c *ccmp.Client, room, s string) (string, error) {
	if strings.ContainsAny(s, ":@") {
		return userID(s), nil
	}
	users, err := c.Users(ctx, room)
	if err != nil {
		return "", err
	}
	for _, u := range users {
		if strings.EqualFold(u.Nickname, s) || slices.ContainsFunc(u.Endpoints, func(e *xcon.Endpoint) bool {
			return strings.EqualFold(e.Nickname, s)
		}) {
			return u.Entity, nil
		}
	}
	return "", fmt.Errorf("no user with the nickname %q in %s (give an xcon-userid: or a SIP address)", s, room)
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Parse(time.RFC3339, s)
}

func opsText(ops []string) string {
	if len(ops) == 0 {
		return "all operations"
	}
	return strings.Join(ops, ", ")
}

// messageText returns the text of a logged message: the body inside CPIM when there is one.
func messageText(e ccmp.HistoryEntry) string {
	b := string(e.Body)
	if strings.HasPrefix(strings.ToLower(e.ContentType), "message/cpim") {
		// CPIM: headers, blank line, MIME headers, blank line, content (RFC 3862 §2).
		for range 2 {
			if i := strings.Index(b, "\r\n\r\n"); i >= 0 {
				b = b[i+4:]
			} else if i := strings.Index(b, "\n\n"); i >= 0 {
				b = b[i+2:]
			}
		}
	}
	return strings.TrimSpace(b)
}

type roomJSON struct {
	URI          string          `json:"uri"`
	Version      uint64          `json:"version"`
	DisplayText  string          `json:"display_text,omitempty"`
	Subject      string          `json:"subject,omitempty"`
	SIP          []string        `json:"sip_uris"`
	Channels     []channelJSON   `json:"channels"`
	JoinHandling string          `json:"join_handling,omitempty"`
	Policy       xcon.RoomPolicy `json:"policy"`
	Denied       []string        `json:"denied,omitempty"`
	Users        []userJSON      `json:"users"`
}

type channelJSON struct {
	Label    string `json:"label"`
	Type     string `json:"type"`
	Language string `json:"language,omitempty"`
	Name     string `json:"name,omitempty"`
}

type userJSON struct {
	ID       string   `json:"id"`
	Nickname string   `json:"nickname,omitempty"`
	Name     string   `json:"name,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	ChatIDs  []string `json:"chat_ids,omitempty"`
}

func toRoomJSON(c *xcon.Conference) roomJSON {
	r := roomJSON{URI: c.Entity, Version: c.Version, DisplayText: c.Description.DisplayText, Subject: c.Description.Subject,
		JoinHandling: c.JoinHandling, SIP: []string{}, Channels: []channelJSON{}, Users: []userJSON{}}
	r.Policy, _ = c.RoomPolicy()
	for _, u := range c.Description.ConfURIs {
		r.SIP = append(r.SIP, u.URI)
	}
	for _, m := range c.Description.Media {
		r.Channels = append(r.Channels, channelJSON{Label: m.Label, Type: m.Type, Language: m.Language, Name: m.DisplayText})
	}
	for _, t := range c.DenyUsers {
		r.Denied = append(r.Denied, t.URI)
	}
	for _, u := range c.Users {
		r.Users = append(r.Users, toUserJSON(u))
	}
	return r
}

func toUserJSON(u *xcon.User) userJSON {
	j := userJSON{ID: u.Entity, Nickname: u.Nickname, Name: u.DisplayText, Roles: u.Roles}
	for _, e := range u.Endpoints {
		j.ChatIDs = append(j.ChatIDs, e.Entity)
	}
	return j
}

func printRoom(w io.Writer, c *xcon.Conference) {
	r := toRoomJSON(c)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "room\t%s\n", r.URI)
	fmt.Fprintf(tw, "version\t%d\n", r.Version)
	if r.DisplayText != "" {
		fmt.Fprintf(tw, "title\t%s\n", r.DisplayText)
	}
	if r.Subject != "" {
		fmt.Fprintf(tw, "subject\t%s\n", r.Subject)
	}
	fmt.Fprintf(tw, "dial\t%s\n", strings.Join(r.SIP, " "))
	for _, ch := range r.Channels {
		fmt.Fprintf(tw, "channel\t%s (%s%s)\n", ch.Label, ch.Type, map[bool]string{true: ", " + ch.Language}[ch.Language != ""])
	}
	fmt.Fprintf(tw, "join\t%s\n", r.JoinHandling)
	fmt.Fprintf(tw, "logging\t%v (history %d)\n", r.Policy.Logging, r.Policy.History)
	if r.Policy.Moderated {
		fmt.Fprintf(tw, "mode\tmoderated (visitors speak once a moderator gives them voice)\n")
	} else {
		fmt.Fprintf(tw, "mode\topen (everyone admitted speaks)\n")
	}
	if r.Policy.MaxMessageSize > 0 {
		fmt.Fprintf(tw, "max size\t%d bytes per message\n", r.Policy.MaxMessageSize)
	}
	if r.Policy.KeepFor > 0 || r.Policy.KeepMessages > 0 {
		var keep []string
		if r.Policy.KeepFor > 0 {
			keep = append(keep, "for "+r.Policy.KeepFor.String())
		}
		if r.Policy.KeepMessages > 0 {
			keep = append(keep, fmt.Sprintf("the newest %d", r.Policy.KeepMessages))
		}
		fmt.Fprintf(tw, "log kept\t%s\n", strings.Join(keep, ", "))
	}
	if r.Policy.Successor != "" {
		fmt.Fprintf(tw, "moved to\t%s\n", r.Policy.Successor)
	}
	if len(r.Denied) > 0 {
		fmt.Fprintf(tw, "denied\t%s\n", strings.Join(r.Denied, " "))
	}
	fmt.Fprintf(tw, "users\t%d\n", len(r.Users))
	tw.Flush()
	printUsers(w, c.Users)
}

func printUsers(w io.Writer, users []*xcon.User) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, u := range users {
		j := toUserJSON(u)
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", j.ID, j.Nickname, strings.Join(j.Roles, ","), strings.Join(j.ChatIDs, " "))
	}
	tw.Flush()
}

func onOff(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q: want on or off", s)
}

// roomExport is what `parley room export` writes: the room's object, as the fields `show
// --json` prints and as the confInfo XML of the confResponse, and its whole log, oldest first.
type roomExport struct {
	Exported time.Time           `json:"exported"`
	Room     roomJSON            `json:"room"`
	ConfInfo string              `json:"conf_info"`
	Log      []ccmp.HistoryEntry `json:"log"`
}

// exportRoom reads a room's object and pages its log forwards from the start until no more
// follow.
func exportRoom(ctx context.Context, c *ccmp.Client, room string) (*roomExport, error) {
	conf, err := c.Room(ctx, room)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(conf.Element("confInfo"))
	doc.Indent(2)
	xml, err := doc.WriteToString()
	if err != nil {
		return nil, err
	}
	e := &roomExport{Exported: time.Now().UTC(), Room: toRoomJSON(conf), ConfInfo: xml, Log: []ccmp.HistoryEntry{}}
	q := ccmp.HistoryQuery{Since: time.Unix(0, 0), Limit: exportPage}
	for {
		page, next, err := c.HistoryPage(ctx, room, q)
		if err != nil {
			return nil, err
		}
		e.Log = append(e.Log, page...)
		if next == "" || len(page) == 0 {
			return e, nil
		}
		q = ccmp.HistoryQuery{After: next, Limit: exportPage}
	}
}

// exportPage is how many logged messages `parley room export` asks for at a time.
var exportPage = 500

// isXML tells a file whose first non-blank character (after a byte order mark) is "<": an XML
// document, where a YAML room entry is a mapping.
func isXML(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '<'
}

// conferenceFromFile reads an RFC 6501 conference-info document for a confRequest create. Its
// entity names the room (xcon:NAME@DOMAIN, or xcon:NAME); name, when given, must agree with it,
// or names a document without one (no entity, or xcon:AUTO_GENERATE_1, which lets the server
// choose when name is empty too).
func conferenceFromFile(data []byte, source, name string) (*xcon.Conference, error) {
	conf, err := xcon.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not an XCON conference-info document (RFC 6501): %w", source, err)
	}
	inDoc := conf.Name()
	if conf.Entity == "" || strings.HasPrefix(strings.ToUpper(inDoc), "AUTO_GENERATE") {
		inDoc = ""
	}
	switch {
	case inDoc == "" && name == "":
		conf.Entity = "xcon:AUTO_GENERATE_1"
	case inDoc == "":
		conf.Entity = "xcon:" + name
	case name != "" && !strings.EqualFold(name, inDoc):
		return nil, fmt.Errorf("%s: entity %q differs from the room named on the command line (%q)", source, conf.Entity, name)
	}
	if n := conf.Name(); !strings.HasPrefix(strings.ToUpper(n), "AUTO_GENERATE") && !focus.ValidRoomName(n) {
		return nil, fmt.Errorf("%s: entity %q: %q is not a valid room name", source, conf.Entity, n)
	}
	return conf, nil
}
