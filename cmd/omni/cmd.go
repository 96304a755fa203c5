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
		wait, asJSON               bool
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
it. --data is the command's JSON payload (the README documents each command's fields and result);
--target fills its "target". Without --wait it prints the command's id. With --wait it reads the
events topic on KAFKA_BROKERS (--kafka-brokers) from where it stood before the command was sent,
prints every event the command caused, its outcome last, and exits non-zero unless the command
succeeded.

Commands:
` + help.String(),
		Example: `  omni cmd consul kv-put --target agent --data '{"key":"app/mode","value":"blue"}' --wait
  omni cmd postgres query --data '{"target":"control","sql":"SELECT $1::int + 1","args":[41]}' --wait`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			adapter, name := args[0], args[1]
			byName, ok := names[adapter]
			if !ok {
				return fmt.Errorf("unknown adapter %q (known: postgres, kafka, consul)", adapter)
			}
			kind, ok := byName[name]
			if !ok {
				return fmt.Errorf("the %s adapter has no command %q (see omni cmd --help)", adapter, name)
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
			return sendCommand(cmd.Context(), cmd.OutOrStdout(), g, brokers, topics, cmdMsg, wait, asJSON, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "{}", "the command's JSON payload; @FILE reads it from a file, - from standard input")
	f.StringVar(&target, "target", "", "the target the command acts on (sets \"target\" in --data)")
	f.BoolVar(&wait, "wait", false, "wait for the command's outcome and print every event it caused")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long --wait waits for the outcome")
	f.BoolVar(&asJSON, "json", false, "print events as JSON lines")
	f.StringVar(&topicsPrefix, "commands-topic-prefix", "", "prefix of the adapters' command topics (default \"infra.commands.\")")
	return cmd
}

// cmdSettings names every setting omni cmd lacks: the control database always (the command goes
// through its outbox), the brokers only to --wait (the outcome is read from Kafka).
func cmdSettings(g *globals, brokers []string, wait bool) error {
	var errs []error
	if err := g.requireDatabase(); err != nil {
		errs = append(errs, err)
	}
	if wait && len(brokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS (--kafka-brokers) is not set (--wait reads the outcome from Kafka)"))
	}
	return errors.Join(errs...)
}

func readData(data string, stdin io.Reader) ([]byte, error) {
	switch {
	case data == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("--data -: could not read standard input: %w", err)
		}
		return b, nil
	case strings.HasPrefix(data, "@"):
		b, err := os.ReadFile(data[1:])
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w", data, err)
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
		return nil, fmt.Errorf("--data is not a JSON object: %w", err)
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
			return nil, fmt.Errorf("--data is not a valid %s command: %w", kind.Name, d.Err)
		}
		return nil, fmt.Errorf("--data: %w", err)
	}
	return m.(events.Command), nil
}

func sendCommand(ctx context.Context, out io.Writer, g *globals, brokers []string, topics events.Topics, cmd events.Command,
	wait, asJSON bool, timeout time.Duration) error {
	db, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
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
			return err
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
		fmt.Fprintln(out, id)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	caused, err := w.Await(ctx, id)
	for _, c := range caused {
		printCaused(out, c, asJSON)
	}
	if err != nil {
		return fmt.Errorf("command %s: %w (is an omni with the adapters and relay roles running?)", id, err)
	}
	switch o := caused[len(caused)-1].Event.(type) {
	case events.CommandFailed:
		return fmt.Errorf("command %s failed after %d attempts: %s", id, o.Attempts, o.Error)
	case events.CommandRejected:
		return fmt.Errorf("command %s rejected: %s", id, o.Reason)
	}
	return nil
}

func printCaused(out io.Writer, c command.Caused, asJSON bool) {
	payload, _ := json.Marshal(c.Event)
	if asJSON {
		line, _ := json.Marshal(struct {
			ID         string          `json:"id"`
			Type       string          `json:"type"`
			Key        string          `json:"key"`
			OccurredAt time.Time       `json:"occurred_at"`
			Payload    json.RawMessage `json:"payload"`
		}{c.Envelope.ID, c.Envelope.Kind.String(), c.Envelope.Key, c.Envelope.OccurredAt, payload})
		fmt.Fprintln(out, string(line))
		return
	}
	fmt.Fprintf(out, "%s  %-30s %-20s %s\n", c.Envelope.OccurredAt.Local().Format("15:04:05.000"),
		c.Envelope.Kind.Name, c.Envelope.Key, payload)
}
