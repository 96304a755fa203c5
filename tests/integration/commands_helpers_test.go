package integration_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
	"github.com/omninode/omnibase-infra/internal/app"
	"github.com/omninode/omnibase-infra/internal/command"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/platform/seal"
)

// adapterConfig runs the adapters and the relay only: commands in, outcome events out on Kafka.
// Probes are slow so that they stay out of the way of what a test sends.
func adapterConfig(databaseURL string, brokers []string) app.Config {
	return app.Config{DatabaseURL: databaseURL, KafkaBrokers: brokers, Roles: []app.Role{app.RoleAdapters, app.RoleRelay},
		Adapters: effect.Config{ProbeInterval: time.Minute, ProbeTimeout: time.Second, CommandTimeout: 5 * time.Second}}
}

// commander sends commands the way `omni cmd` does — through the outbox of the control database
// db, which the app under test relays (its roles must include the relay) — and waits for what
// each caused.
type commander struct {
	t       *testing.T
	db      *pgxpool.Pool
	brokers []string
	pub     message.Publisher
	// sealer holds db's keys, as omni cmd does.
	sealer *seal.Sealer
}

func newCommander(t *testing.T, db *pgxpool.Pool, brokers []string) *commander {
	t.Helper()
	pub, err := bus.NewPublisher(brokers, bus.Security{}, watermill.NopLogger{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pub.Close() })
	return &commander{t: t, db: db, brokers: brokers, pub: pub, sealer: sealerOf(t, db)}
}

// publish puts a raw message straight on topic, around the outbox on purpose: it stands for a
// producer holding the keys but sending what the project itself would never encode (or a copy
// of what it sent, as a redelivery would bring). It seals what can be sealed and signs it all,
// so the adapter refuses the message for what it is, not for its MAC.
func (c *commander) publish(topic string, msg *message.Message) {
	c.t.Helper()
	if msg.Metadata.Get(events.MetaMAC) == "" {
		if err := c.sealer.Seal(context.Background(), topic, msg); err != nil {
			require.NoError(c.t, c.sealer.Sign(context.Background(), topic, msg)) // not JSON: signed only
		}
	}
	require.NoError(c.t, c.pub.Publish(topic, msg))
}

// run sends cmd and returns everything it caused, its outcome last.
func (c *commander) run(cmd events.Command) []command.Caused {
	c.t.Helper()
	w := c.watch()
	return c.await(w, c.send(cmd))
}

// send writes cmd through the outbox, as `omni cmd` does, and returns its id.
func (c *commander) send(cmd events.Command) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := command.Send(ctx, c.db, c.sealer, events.DefaultTopics(), cmd, events.NewOrigin(), "integration suite")
	require.NoError(c.t, err)
	return id
}

// watch marks the end of the events topic; await then reads what a command sent after it caused.
func (c *commander) watch() *command.Watcher {
	c.t.Helper()
	w, err := command.Watch(c.brokers, bus.Security{}, events.DefaultTopics().Events, events.Catalog().WithOpener(c.sealer))
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = w.Close() })
	return w
}

func (c *commander) await(w *command.Watcher, id string) []command.Caused {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	caused, err := w.Await(ctx, id)
	require.NoError(c.t, err, "events caused by command %s so far: %v", id, caused)
	return caused
}

// outcome is the last of what a command caused: CommandSucceeded, CommandFailed or CommandRejected.
func outcome(t *testing.T, caused []command.Caused) events.Message {
	t.Helper()
	require.NotEmpty(t, caused)
	return caused[len(caused)-1].Event
}

// succeeded requires the command to have succeeded and decodes its result into out.
func succeeded(t *testing.T, caused []command.Caused, out any) events.CommandSucceeded {
	t.Helper()
	ok, is := outcome(t, caused).(events.CommandSucceeded)
	require.True(t, is, "want command_succeeded, got %#v", outcome(t, caused))
	if out != nil {
		require.NoError(t, json.Unmarshal(ok.Result, out), string(ok.Result))
	}
	return ok
}

// failed requires the command to have failed.
func failed(t *testing.T, caused []command.Caused) events.CommandFailed {
	t.Helper()
	f, is := outcome(t, caused).(events.CommandFailed)
	require.True(t, is, "want command_failed, got %#v", outcome(t, caused))
	return f
}
