package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/pgtx"
	"github.com/omninode/omnibase-infra/sagas"
)

func newSagasCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sagas", Short: "List, show and start the orchestrator's sagas"}
	cmd.AddCommand(newSagasListCmd(g), newSagasShowCmd(g), newSagasStartCmd(g))
	return cmd
}

func newSagasListCmd(g *globals) *cobra.Command {
	var f sagas.Filter
	var status string
	var out output
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List sagas, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Status = sagas.Status(status); f.Status != "" && !f.Status.Known() {
				return usageError("--status %q: want %s", status, statusList())
			}
			if _, err := out.Format(); err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := sagas.List(cmd.Context(), db, f)
			if err != nil {
				return err
			}
			if list == nil {
				list = []sagas.Instance{}
			}
			return out.print(cmd.OutOrStdout(), list, list, func(w io.Writer, wide bool) error { return printSagas(w, wide, list, time.Now()) })
		},
	}
	cmd.Flags().StringVar(&f.Workflow, "workflow", "", "only sagas of this workflow (health_check, failover, initialization)")
	cmd.Flags().StringVar(&status, "status", "", "only sagas in this status: "+statusList())
	cmd.Flags().StringVar(&f.Subject, "subject", "", "only sagas about this subject (an adapter id such as consul/main)")
	addOutput(cmd, &out)
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(sagaStatusNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("workflow", cobra.FixedCompletions([]string{"health_check", "failover", "initialization"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("subject", g.completeTargets(""))
	return cmd
}

func sagaStatusNames() []string {
	var out []string
	for _, s := range sagas.Statuses() {
		out = append(out, string(s))
	}
	return out
}

// statusList names the saga statuses for people: "running, completed, … or escalated".
func statusList() string {
	all := sagas.Statuses()
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = string(s)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func printSagas(w io.Writer, wide bool, list []sagas.Instance, now time.Time) error {
	return writeTable(w, wide, []column[sagas.Instance]{
		{name: "id", value: func(s sagas.Instance) string {
			if wide {
				return s.ID
			}
			return shortID(s.ID)
		}},
		{name: "workflow", value: func(s sagas.Instance) string { return s.Workflow }},
		{name: "subject", value: func(s sagas.Instance) string { return s.Subject }},
		{name: "status", value: func(s sagas.Instance) string { return string(s.Status) }},
		{name: "step", value: func(s sagas.Instance) string { return s.Step }},
		{name: "version", wide: true, value: func(s sagas.Instance) string { return fmt.Sprint(s.Version) }},
		{name: "created_at", value: func(s sagas.Instance) string { return tableTime(s.CreatedAt, now) }},
		{name: "updated_at", value: func(s sagas.Instance) string { return tableTime(s.UpdatedAt, now) }},
		{name: "failure", max: 60, value: func(s sagas.Instance) string { return s.Failure }},
	}, list)
}

// shortID is the start of a saga's id the table shows: omni sagas show takes it.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func newSagasShowCmd(g *globals) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:               "show ID",
		Short:             "Show a saga's timeline: each step with its commands, replies, times and outcome (ID: the saga's id or its start)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeSagaIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := out.Format(); err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			id, err := sagas.Resolve(cmd.Context(), db, args[0])
			if err != nil {
				return err
			}
			story, err := sagas.Show(cmd.Context(), db, id)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), story, story.Timeline, func(w io.Writer, _ bool) error { return printStory(w, story, time.Now()) })
		},
	}
	addOutput(cmd, &out)
	return cmd
}

func printStory(w io.Writer, st sagas.Story, now time.Time) error {
	fmt.Fprintf(w, "saga %s: %s of %s, %s at %s (version %d)\n", st.ID, st.Workflow, st.Subject, st.Status, st.Step, st.Version)
	if st.Failure != "" {
		fmt.Fprintf(w, "failed at %s: %s\n", st.Data.FailedStep, st.Failure)
	}
	if st.Deadline != nil && st.Status == sagas.StatusRunning {
		fmt.Fprintf(w, "waiting until %s\n", tableTime(*st.Deadline, now))
	}
	commands := map[string]sagas.SentCommand{}
	for _, c := range st.Commands {
		commands[c.ID] = c
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nRECORDED_AT\tSTEP\tEVENT\tDETAIL")
	for _, m := range st.Timeline {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", tableTime(m.RecordedAt, now), m.Step, m.Event, detail(m.Note, commands))
	}
	return tw.Flush()
}

// detail says what a timeline entry is about in one line.
func detail(n sagas.Note, commands map[string]sagas.SentCommand) string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	if n.Attempt > 1 {
		add("attempt %d", n.Attempt)
	}
	if n.Intent != "" {
		add("%s %s", n.Intent, n.IntentID)
	}
	if n.Command != "" {
		add("%s → %s (%s)", n.Command, n.AdapterID, n.CommandID)
	}
	if n.Outcome != "" {
		add("%s from %s", n.Outcome, n.AdapterID)
		if c, ok := commands[n.CommandID]; ok && c.Reply != nil && len(c.Reply.Result) > 0 {
			add("result %s", truncate(string(c.Reply.Result), 80))
		}
	}
	if n.Reason != "" {
		add("%s", n.Reason)
	}
	if n.Until != nil {
		add("until %s", n.Until.Local().Format(time.TimeOnly))
	}
	return strings.Join(parts, "; ")
}

func newSagasStartCmd(g *globals) *cobra.Command {
	var subject string
	cmd := &cobra.Command{
		Use:   "start initialization",
		Short: "Ask the orchestrator to run the initialization workflow",
		Long: "Writes an initialization_requested intent for the intents topic through the outbox on the control\n" +
			"database (DATABASE_URL), as the projection writes its intents; the relay delivers it, the contract\n" +
			"routes it to the initialization workflow, which an omni with the sagas role runs (see `omni sagas list`).",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"initialization"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "initialization" {
				return usageError("cannot start %q: only initialization is started by hand; the others start from intents", args[0])
			}
			ctx := cmd.Context()
			db, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			origin := events.NewOrigin()
			now := time.Now()
			in := events.InitializationRequested{Intent: events.Intent{
				ID: watermill.NewUUID(), Subject: subject, Reason: "requested with omni sagas start", CausedBy: origin.CorrelationID,
				RaisedAt: now,
			}}
			msg, err := events.EncodeWithID(in.ID, in, origin, now)
			if err != nil {
				return err
			}
			topic := events.DefaultTopics().Intents
			sealer, _, err := g.seal.open(ctx, db)
			if err != nil {
				return err
			}
			if err := pgtx.Run(ctx, db, func(tx pgx.Tx) error { return outbox.PublishSealed(ctx, tx, sealer, topic, msg) }); err != nil {
				return fmt.Errorf("could not write %s %s for %s: %w", in.Kind(), in.ID, topic, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "requested initialization of %s (intent %s)\n", subject, in.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "infrastructure", "what is initialized: one initialization saga runs per subject")
	return cmd
}

func newContractCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "contract", Short: "Validate node and workflow contracts, or print the orchestrator's"}
	cmd.AddCommand(newContractValidateCmd(), &cobra.Command{
		Use:   "show",
		Short: "Print the built-in contract, to start a contract file of your own from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(sagas.DefaultContractYAML())
			return err
		},
	})
	return cmd
}
