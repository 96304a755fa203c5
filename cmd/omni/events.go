package main

import (
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/outbox"
)

func newEventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Read the event log: every event, intent and command the loop published"}
	cmd.AddCommand(newEventsTailCmd(g))
	return cmd
}

// loggedLine is one event of the log as -o json/yaml/jsonl print it.
type loggedLine struct {
	Seq           int64           `json:"seq"`
	ID            string          `json:"id"`
	Topic         string          `json:"topic"`
	Type          string          `json:"type"`
	Key           string          `json:"key"`
	CorrelationID string          `json:"correlation_id"`
	CausationID   string          `json:"causation_id,omitempty"`
	OccurredAt    time.Time       `json:"occurred_at"`
	LoggedAt      time.Time       `json:"logged_at"`
	Payload       json.RawMessage `json:"payload"`
}

func toLoggedLine(e outbox.LoggedEvent) loggedLine {
	m := e.Message
	kind := m.Metadata.Get(events.MetaType)
	if v := m.Metadata.Get(events.MetaVersion); v != "" {
		kind += "/v" + v
	}
	occurred, _ := time.Parse(time.RFC3339Nano, m.Metadata.Get(events.MetaOccurredAt))
	payload := json.RawMessage(m.Payload)
	if !json.Valid(payload) {
		payload, _ = json.Marshal(string(m.Payload)) // sealed or not JSON: as a string
	}
	return loggedLine{Seq: e.Seq, ID: m.UUID, Topic: e.Topic, Type: kind, Key: m.Metadata.Get(events.MetaKey),
		CorrelationID: m.Metadata.Get(events.MetaCorrelationID), CausationID: m.Metadata.Get(events.MetaCausationID),
		OccurredAt: occurred, LoggedAt: e.LoggedAt, Payload: payload}
}

func newEventsTailCmd(g *globals) *cobra.Command {
	var (
		f      outbox.LogFilter
		follow bool
		limit  int
		poll   time.Duration
		out    = output{jsonFormat: formatJSONL}
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the newest events of the event log and, with --follow, every event as it is logged",
		Long: `Print the newest --limit events of the event log on the control database, oldest first, and with
--follow every event as it is logged, until Ctrl-C. Filters: --type (the message type, e.g.
adapter_health_reported), --target (a key: an adapter id such as postgres/orders, an adapter, or
a target's name), --correlation-id, --topic. With --follow, -o json prints one JSON object per
line, as -o jsonl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := out.Format()
			if err != nil {
				return err
			}
			if limit < 1 {
				return usageError("--limit %d: want 1 or more", limit)
			}
			if follow && (format == formatJSON || format == formatYAML) {
				out.format = formatJSONL // a stream has no end to close a document at
			}
			ctx := cmd.Context()
			db, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			w := cmd.OutOrStdout()
			after := int64(-1)
			header := true
			for {
				logged, err := outbox.TailLog(ctx, db, f, after, limit)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				lines := make([]loggedLine, len(logged))
				for i, e := range logged {
					lines[i] = toLoggedLine(e)
					after = e.Seq
				}
				if after < 0 {
					after = 0
				}
				if len(lines) > 0 || !follow {
					if err := printLogged(w, out, lines, header); err != nil {
						return err
					}
					header = false
				}
				if !follow {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(poll):
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "keep printing events as they are logged, until Ctrl-C")
	fl.IntVar(&limit, "limit", 20, "how many of the newest events to print first (and most per poll)")
	fl.DurationVar(&poll, "poll-interval", 500*time.Millisecond, "how often --follow reads the log")
	fl.StringVar(&f.Kind, "type", "", "only events of this type, e.g. adapter_health_reported")
	fl.StringVar(&f.Key, "target", "", "only events of this key: an adapter id (postgres/orders), an adapter or a target name")
	fl.StringVar(&f.CorrelationID, "correlation-id", "", "only events of this correlation id")
	fl.StringVar(&f.Topic, "topic", "", "only events of this topic, e.g. infra.events")
	addOutput(cmd, &out)
	_ = cmd.RegisterFlagCompletionFunc("target", g.completeTargets(""))
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(messageTypes(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func printLogged(w io.Writer, o output, lines []loggedLine, header bool) error {
	return o.print(w, lines, lines, func(w io.Writer, wide bool) error {
		now := time.Now()
		cols := []column[loggedLine]{
			{name: "logged_at", value: func(l loggedLine) string { return tableTime(l.LoggedAt, now) }},
			{name: "seq", wide: true, value: func(l loggedLine) string { return strconv.FormatInt(l.Seq, 10) }},
			{name: "topic", value: func(l loggedLine) string { return l.Topic }},
			{name: "type", value: func(l loggedLine) string { return l.Type }},
			{name: "key", value: func(l loggedLine) string { return l.Key }},
			{name: "correlation_id", wide: true, value: func(l loggedLine) string { return l.CorrelationID }},
			{name: "payload", max: 80, value: func(l loggedLine) string { return string(l.Payload) }},
		}
		return writeTableRows(w, wide, cols, lines, header)
	})
}

// messageTypes are the names of every message type of the catalog.
func messageTypes() []string {
	var out []string
	for _, k := range events.Catalog().Kinds() {
		out = append(out, k.Name)
	}
	return out
}
