package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/command"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

// commandNames maps `omni cmd ADAPTER NAME` to the command kinds of the catalog: the kind's name
// without its adapter prefix, dashes for underscores ("consul_kv_cas" is "consul kv-cas"), and
// "probe" for probe_target.
func commandNames() map[string]map[string]events.Kind {
	out := map[string]map[string]events.Kind{}
	for _, adapter := range []string{events.AdapterPostgres, events.AdapterKafka, events.AdapterConsul} {
		// The commands every adapter takes about a target itself.
		out[adapter] = map[string]events.Kind{"probe": events.ProbeTarget{}.Kind(),
			"open-breaker": events.OpenBreaker{}.Kind(), "close-breaker": events.CloseBreaker{}.Kind(),
			"recover": events.RecoverTarget{}.Kind(), "initialize": events.InitializeTarget{}.Kind()}
	}
	for _, c := range events.Commands() {
		k := c.Kind()
		adapter, rest, ok := strings.Cut(k.Name, "_")
		if byName, known := out[adapter]; ok && known {
			byName[strings.ReplaceAll(rest, "_", "-")] = k
		}
	}
	return out
}

func newCmdCmd(g *globals) *cobra.Command {
	var (
		data, target, topicsPrefix string
		wait, anyTarget            bool
		out                        = output{jsonFormat: formatJSONL}
		timeout                    time.Duration
	)
	names := commandNames()
	var help strings.Builder
	for _, adapter := range []string{events.AdapterPostgres, events.AdapterKafka, events.AdapterConsul} {
		var list []string
		for n := range names[adapter] {
			list = append(list, n)
		}
		slices.Sort(list)
		fmt.Fprintf(&help, "  %-9s %s\n", adapter, strings.Join(list, ", "))
	}
	cmd := &cobra.Command{
		Use:   "cmd ADAPTER COMMAND --data JSON",
		Short: "Send a command to an adapter and, with --wait, print the events it caused",
		Long: `Send a command to an adapter, as the sagas do: it is written through the outbox on the
control database (DATABASE_URL, --database-url), so it is in the event log, and the relay delivers
it. --data is the command's JSON payload (omni explain ADAPTER COMMAND prints its fields and an
example); --target fills its "target", and a target the projection does not know for the adapter
is refused here (exit 2) rather than sent to be rejected. Without --wait it prints the command's
id, and omni cmd status ID shows later what became of it. With --wait it reads the events topic
on KAFKA_BROKERS (--kafka-brokers) from where it stood before the command was sent, prints every
event the command caused, its outcome last, and exits 1 unless the command succeeded.

Commands:
` + help.String(),
		Example: `  omni cmd consul kv-put --target agent --data '{"key":"app/mode","value":"blue"}' --wait
  omni cmd postgres query --data '{"target":"control","sql":"SELECT $1::int + 1","args":[41]}' --wait`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeCommand(names),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := lookupCommand(names, args[0], args[1])
			if err != nil {
				return err
			}
			adapter := args[0]
			if _, err := out.Format(); err != nil {
				return err
			}
			brokers := g.brokers()
			if err := cmdSettings(g, brokers, wait); err != nil {
				return err
			}
			payload, err := readData(data, cmd.InOrStdin())
			if err != nil {
				return err
			}
			cmdMsg, err := buildCommand(kind, adapter, target, payload)
			if err != nil {
				return err
			}
			topics := events.DefaultTopics()
			if topicsPrefix != "" {
				topics.CommandsPrefix = topicsPrefix
			}
			return sendCommand(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), g, brokers, topics, cmdMsg, !anyTarget, wait, out, timeout)
		},
	}
	cmd.AddCommand(newCmdStatusCmd(g))
	f := cmd.Flags()
	f.StringVar(&data, "data", "{}", "the command's JSON payload; @FILE reads it from a file, - from standard input")
	f.StringVar(&target, "target", "", "the target the command acts on (sets \"target\" in --data)")
	f.BoolVar(&wait, "wait", false, "wait for the command's outcome and print every event it caused")
	f.BoolVar(&anyTarget, "any-target", false, "send even to a target the projection does not know (one just configured, not yet probed); the adapter rejects it if it has none")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long --wait waits for the outcome")
	addOutput(cmd, &out)
	_ = cmd.RegisterFlagCompletionFunc("target", g.completeTargets(""))
	f.StringVar(&topicsPrefix, "commands-topic-prefix", "", "prefix of the adapters' command topics (default \"infra.commands.\")")
	return cmd
}

// cmdSettings names every setting omni cmd lacks: the control database always (the command goes
// through its outbox), the brokers only to --wait (the outcome is read from Kafka).
func cmdSettings(g *globals, brokers []string, wait bool) error {
	var errs []error
	if g.databaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (--database-url) is not set"))
	}
	if wait && len(brokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS (--kafka-brokers) is not set (--wait reads the outcome from Kafka)"))
	}
	return withCode(exitUsage, errors.Join(errs...))
}

func readData(data string, stdin io.Reader) ([]byte, error) {
	switch {
	case data == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, usageError("--data -: could not read standard input: %w", err)
		}
		return b, nil
	case strings.HasPrefix(data, "@"):
		b, err := os.ReadFile(data[1:])
		if err != nil {
			return nil, usageError("--data %s: %w", data, err)
		}
		return b, nil
	}
	return []byte(data), nil
}

// buildCommand decodes payload as kind strictly, the way the adapter will, so a bad command is
// refused here with the same words rather than travelling to the adapter to be rejected.
func buildCommand(kind events.Kind, adapter, target string, payload []byte) (events.Command, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, usageError("--data is not a JSON object: %s", jsonProblem(err))
	}
	if fields == nil {
		fields = map[string]json.RawMessage{}
	}
	if target != "" {
		fields["target"], _ = json.Marshal(target)
	}
	switch kind {
	case events.ProbeTarget{}.Kind(), events.OpenBreaker{}.Kind(), events.CloseBreaker{}.Kind(),
		events.RecoverTarget{}.Kind(), events.InitializeTarget{}.Kind():
		fields["adapter"], _ = json.Marshal(adapter)
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	msg := message.NewMessage(watermill.NewUUID(), body)
	msg.Metadata.Set(events.MetaType, kind.Name)
	msg.Metadata.Set(events.MetaVersion, strconv.Itoa(kind.Version))
	msg.Metadata.Set(events.MetaCorrelationID, watermill.NewUUID())
	msg.Metadata.Set(events.MetaOccurredAt, time.Now().UTC().Format(time.RFC3339Nano))
	_, m, err := events.Catalog().Decode(msg)
	if err != nil {
		var d *events.DecodeError
		if errors.As(err, &d) && d.Err != nil {
			return nil, usageError("--data is not a valid %s command: %s", kind.Name, jsonProblem(d.Err))
		}
		return nil, usageError("--data: %w", err)
	}
	return m.(events.Command), nil
}

func sendCommand(ctx context.Context, stdout, stderr io.Writer, g *globals, brokers []string, topics events.Topics, cmd events.Command,
	checkTargets, wait bool, out output, timeout time.Duration) error {
	db, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if checkTargets {
		if err := checkTarget(ctx, db, cmd); err != nil {
			return err
		}
	}
	sealer, registry, err := g.seal.open(ctx, db)
	if err != nil {
		return err
	}
	var w *command.Watcher
	if wait {
		sec, err := g.security()
		if err != nil {
			return err
		}
		// Marked before the command commits, so none of what it causes can come before the mark.
		if w, err = command.Watch(brokers, sec, topics.Events, registry); err != nil {
			return unreachable(fmt.Errorf("KAFKA_BROKERS %s: %w", strings.Join(brokers, ","), err))
		}
		defer w.Close()
	}
	hasher, err := auditHasherFromEnv()
	if err != nil {
		return err
	}
	id, err := command.SendAs(ctx, db, topics, cmd, events.NewOrigin(), command.Sender{Actor: operator("omni cmd"), Hasher: hasher, Sealer: sealer})
	if err != nil {
		return err
	}
	if !wait {
		fmt.Fprintln(stdout, id)
		fmt.Fprintf(stderr, "sent %s; what became of it: omni cmd status %s\n", cmd.Kind().Name, id)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	caused, err := w.Await(ctx, id)
	if perr := printCausedList(stdout, out, caused); perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("command %s: %w (is an omni with the adapters and relay roles running? omni cmd status %s shows it later)", id, err, id)
	}
	return outcomeError(id, caused[len(caused)-1])
}

// outcomeError is nil when c, a command's last event, says it succeeded, and else the error
// (exit code 1) that says how it failed.
func outcomeError(id string, c command.Caused) error {
	switch o := c.Event.(type) {
	case events.CommandFailed:
		return fmt.Errorf("command %s failed after %s: %s", id, plural(o.Attempts, "attempt"), o.Error)
	case events.CommandRejected:
		return fmt.Errorf("command %s rejected: %s", id, o.Reason)
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// lookupCommand is the kind of `omni cmd ADAPTER NAME`; a name it does not know is a usage error.
func lookupCommand(names map[string]map[string]events.Kind, adapter, name string) (events.Kind, error) {
	byName, ok := names[adapter]
	if !ok {
		return events.Kind{}, usageError("unknown adapter %q (known: postgres, kafka, consul)", adapter)
	}
	kind, ok := byName[name]
	if !ok {
		return events.Kind{}, usageError("the %s adapter has no command %q (see omni cmd --help)", adapter, name)
	}
	return kind, nil
}

// checkTarget refuses a command for a target the projection does not know for its adapter, when
// the projection knows any of that adapter's: a typo is refused here (exit 2), naming the targets
// there are, instead of travelling to the adapter to be rejected and poisoned.
func checkTarget(ctx context.Context, db infrastate.Querier, cmd events.Command) error {
	adapter, target := commandTarget(cmd)
	if adapter == "" || target == "" {
		return nil
	}
	states, err := infrastate.List(ctx, db)
	if err != nil {
		return nil // no projection yet (a schema not migrated): the adapter decides
	}
	var known []string
	for _, s := range states {
		if s.Adapter == adapter {
			if s.Target == target {
				return nil
			}
			known = append(known, s.Target)
		}
	}
	if len(known) == 0 {
		return nil
	}
	return usageError("the %s adapter has no target %q (targets the projection knows: %s)", adapter, target, strings.Join(known, ", "))
}

// commandTarget is the adapter and target a command is for.
func commandTarget(cmd events.Command) (adapter, target string) { return cmd.Addressee() }

// causedLine is one event a command caused, as -o json/yaml/jsonl print it.
type causedLine struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Key        string          `json:"key"`
	OccurredAt time.Time       `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
}

func causedLines(caused []command.Caused) []causedLine {
	out := make([]causedLine, 0, len(caused))
	for _, c := range caused {
		payload, _ := json.Marshal(c.Event)
		out = append(out, causedLine{c.Envelope.ID, c.Envelope.Kind.String(), c.Envelope.Key, c.Envelope.OccurredAt, payload})
	}
	return out
}

func printCausedList(w io.Writer, o output, caused []command.Caused) error {
	lines := causedLines(caused)
	return o.print(w, lines, lines, func(w io.Writer, wide bool) error {
		now := time.Now()
		return writeTable(w, wide, []column[causedLine]{
			{name: "occurred_at", value: func(l causedLine) string { return tableTime(l.OccurredAt, now) }},
			{name: "type", value: func(l causedLine) string { return l.Type }},
			{name: "key", value: func(l causedLine) string { return l.Key }},
			{name: "id", wide: true, value: func(l causedLine) string { return l.ID }},
			{name: "payload", max: 100, value: func(l causedLine) string { return string(l.Payload) }},
		}, lines)
	})
}
