package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/command"
)

// cmdStatus is omni cmd status's document.
type cmdStatus struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Key     string          `json:"key"`
	SentAt  time.Time       `json:"sent_at"`
	Outcome string          `json:"outcome"`
	Payload json.RawMessage `json:"payload"`
	Events  []causedLine    `json:"events"`
}

func newCmdStatusCmd(g *globals) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show what became of a command sent with omni cmd: its events and outcome (pending until it has one)",
		Long: `Show a command sent with omni cmd (its id, or the start of it), from the event log on the control
database: what it was, the events it caused, and its outcome — succeeded, failed, rejected, or
pending while it has none. Exit 0 when it succeeded or is pending, 1 when it failed or was
rejected or no command has the id.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := out.Format(); err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			s, err := command.Lookup(cmd.Context(), db, events.DefaultTopics(), args[0])
			if err != nil {
				return err
			}
			payload, _ := json.Marshal(s.Command)
			doc := cmdStatus{ID: s.ID, Type: s.Kind.String(), Key: s.Key, SentAt: s.SentAt, Outcome: s.Outcome(), Payload: payload,
				Events: causedLines(s.Caused)}
			if err := out.print(cmd.OutOrStdout(), doc, nil, func(w io.Writer, wide bool) error {
				fmt.Fprintf(w, "command %s: %s for %s, sent %s: %s\n\n", s.ID, s.Kind.Name, s.Key, tableTime(s.SentAt, time.Now()), s.Outcome())
				return printCausedList(w, output{format: map[bool]string{true: formatWide, false: formatTable}[wide]}, s.Caused)
			}); err != nil {
				return err
			}
			if len(s.Caused) == 0 {
				return nil
			}
			return outcomeError(s.ID, s.Caused[len(s.Caused)-1])
		},
	}
	addOutput(cmd, &out)
	return cmd
}
