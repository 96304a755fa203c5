package integration_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// One trace id from `omni cmd` to the saga's command back at an adapter, read from a real OTLP
// receiver the test runs: the loop runs in the omni image, in a container, and `omni cmd` as a
// process, both exporting to it through the standard OTEL_* variables. The operator forces the
// target's breaker open; the adapter handles the command and records the breaker's move
// (outbox), the relay delivers it, the projection folds it and raises circuit_breaker_opened, the
// saga engine starts a failover, whose open_breaker step sends its own command, which the adapter
// handles — every one of those spans in the trace the operator's command began, each one's parent
// in the trace.
func TestTrace_one_trace_from_omni_cmd_through_the_loop_to_the_sagas_command(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	target := newTarget(t)
	recv := startOTLPReceiver(t)
	otel := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.Endpoint,
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // ms: the spans reach the receiver without waiting 5s
	}
	loopEnv := map[string]string{"DATABASE_URL": url, "KAFKA_BROKERS": kafka.Addr, "OTEL_SERVICE_NAME": "omni-loop"}
	for k, v := range otel {
		loopEnv[k] = v
	}
	omniC := started(t, func(ctx context.Context) (*containers.Omni, error) {
		return containers.StartOmni(ctx, containers.OmniConfig{
			// One probe at the start, then none: nothing but the operator's command moves the target.
			Args: []string{"run", "--roles=adapters,relay,projection,sagas", "--probe-target", "target=" + target.URL,
				"--probe-interval", "1h", "--probe-timeout", "1s"},
			Env: loopEnv,
		})
	})
	t.Cleanup(func() {
		if logs, err := omniC.Logs(context.Background()); err == nil && t.Failed() {
			t.Logf("omni container logs:\n%s", logs)
		}
	})
	waitHealthy(t, db, targetID)

	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=" + kafka.Addr, "OTEL_SERVICE_NAME=omni-cmd"}
	for k, v := range otel {
		env = append(env, k+"="+v)
	}
	stdout, stderr, code := omni(t, env, "cmd", "postgres", "open-breaker", "--target", "target", "--data", `{"reason":"trace test"}`)
	require.Equal(t, 0, code, "omni cmd: %s", stderr)
	commandID := strings.TrimSpace(stdout)

	topics := events.DefaultTopics()
	commands := topics.Commands(events.AdapterPostgres)
	type want struct {
		what    string
		matches func(receivedSpan) bool
	}
	named := func(service, name string) func(receivedSpan) bool {
		return func(s receivedSpan) bool { return s.Service == service && s.GetName() == name }
	}
	wants := []want{
		{"omni cmd's send, the root", func(s receivedSpan) bool {
			return named("omni-cmd", "omni cmd open_breaker")(s) && s.Attr("omni.command.id") == commandID && len(s.GetParentSpanId()) == 0
		}},
		{"the command's outbox write", func(s receivedSpan) bool {
			return named("omni-cmd", "send "+commands)(s) && s.Attr("messaging.message.id") == commandID
		}},
		{"the relay's delivery of the command, with its wait in the outbox", func(s receivedSpan) bool {
			return named("omni-loop", "publish "+commands)(s) && s.Attr("messaging.message.id") == commandID &&
				s.HasAttr("omni.outbox.wait_seconds")
		}},
		{"the adapter's consumer of the command", func(s receivedSpan) bool {
			return named("omni-loop", "process "+commands)(s) && s.Attr("messaging.message.id") == commandID
		}},
		{"the adapter's handling of the command", func(s receivedSpan) bool {
			return named("omni-loop", "postgres open_breaker")(s) && s.Attr("omni.command.id") == commandID
		}},
		{"the outcome and the breaker's move written to the outbox", named("omni-loop", "send "+topics.Events)},
		{"the relay's delivery of the events", named("omni-loop", "publish "+topics.Events)},
		{"the projection folding the breaker's move", named("omni-loop", "reduce circuit_breaker_state_changed")},
		{"the intent written to the outbox", named("omni-loop", "send "+topics.Intents)},
		{"the relay's delivery of the intent", named("omni-loop", "publish "+topics.Intents)},
		{"the saga intake's consumer of the intent", named("omni-loop", "process "+topics.Intents)},
		{"the failover saga's step", func(s receivedSpan) bool {
			return named("omni-loop", "saga saga-intake")(s) && s.Attr("omni.saga.workflow") == "failover"
		}},
		{"the saga's command written to the outbox", func(s receivedSpan) bool {
			return named("omni-loop", "send "+commands)(s) && s.Attr("messaging.message.id") != commandID
		}},
		{"the adapter's handling of the saga's command", func(s receivedSpan) bool {
			return s.Service == "omni-loop" && strings.HasPrefix(s.GetName(), "postgres ") && s.Attr("omni.command.id") != "" &&
				s.Attr("omni.command.id") != commandID
		}},
	}

	var trace []receivedSpan
	eventually(t, 90*time.Second, "one trace from omni cmd to the saga's command at the adapter", func() (bool, string, error) {
		all := recv.Spans()
		traceID := ""
		for _, s := range all {
			if wants[0].matches(s) {
				traceID = s.TraceID()
			}
		}
		if traceID == "" {
			return false, fmt.Sprintf("no root span among %d", len(all)), nil
		}
		trace = trace[:0]
		for _, s := range all {
			if s.TraceID() == traceID {
				trace = append(trace, s)
			}
		}
		var missing []string
		for _, w := range wants {
			if !slices.ContainsFunc(trace, w.matches) {
				missing = append(missing, w.what)
			}
		}
		return len(missing) == 0, fmt.Sprintf("trace %s has %d spans; missing: %v", traceID, len(trace), missing), nil
	})

	// Every span but the root has its parent in the trace: the context went through every hop,
	// none started a trace of its own. (A parent ends, and is exported, after its children: the
	// spans are read again until the ones in flight have arrived.)
	traceID := trace[0].TraceID()
	var names []string
	eventually(t, 30*time.Second, "every span's parent in the trace", func() (bool, string, error) {
		trace = trace[:0]
		ids := map[string]bool{}
		for _, s := range recv.Spans() {
			if s.TraceID() == traceID {
				trace = append(trace, s)
				ids[s.SpanID()] = true
			}
		}
		var orphans []string
		names = names[:0]
		for _, s := range trace {
			names = append(names, s.Service+": "+s.GetName())
			if len(s.GetParentSpanId()) > 0 && !ids[s.ParentID()] {
				orphans = append(orphans, s.Service+": "+s.GetName())
			}
		}
		return len(orphans) == 0, fmt.Sprintf("spans whose parent is not in the trace: %v", orphans), nil
	})
	t.Logf("the trace's %d spans: %v", len(trace), names)

	// The projection's batch is a trace of its own (one batch, many parents), linked to the
	// events it applied, among them this trace's.
	require.True(t, slices.ContainsFunc(recv.Spans(), func(s receivedSpan) bool {
		return s.GetName() == "process "+topics.Events && s.Attr("messaging.consumer.group.name") == "infrastate-projection" &&
			s.LinksTo(traceID)
	}), "the projection's batch span links to the trace")

	// The trace context travelled with the message into the event log, beside its MAC (which
	// verified at every consumer: nothing was poisoned).
	var traceparent string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT metadata->>'traceparent' FROM event_log WHERE event_id = $1`, commandID).Scan(&traceparent))
	require.Contains(t, traceparent, traceID, "the command's event-log row carries its trace")
	var unauthenticated int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM poison_messages WHERE reason ILIKE '%unauthenticated%'`).Scan(&unauthenticated))
	require.Zero(t, unauthenticated, "no message failed its MAC on the way")

	// And into the poison records: a command the adapter rejects is kept with its trace context.
	stdout, stderr, code = omni(t, env, "cmd", "postgres", "probe", "--target", "nowhere", "--any-target")
	require.Equal(t, 0, code, "omni cmd: %s", stderr)
	rejected := strings.TrimSpace(stdout)
	eventually(t, 60*time.Second, "the rejected command's poison record with its trace", func() (bool, string, error) {
		var root string
		for _, s := range recv.Spans() {
			if s.GetName() == "omni cmd probe_target" && s.Attr("omni.command.id") == rejected {
				root = s.TraceID()
			}
		}
		var tp string
		err := db.QueryRow(context.Background(), `SELECT coalesce(max(metadata->>'traceparent'), '') FROM poison_messages WHERE message_id = $1`,
			rejected).Scan(&tp)
		return root != "" && strings.Contains(tp, root), fmt.Sprintf("root span's trace %q, poison record's traceparent %q", root, tp), err
	})
}
