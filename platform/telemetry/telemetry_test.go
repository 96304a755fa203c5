package telemetry_test

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/omninode/omnibase-infra/platform/telemetry"
)

func TestInject_and_Extract_carry_the_span_context_in_message_metadata(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "send")
	defer span.End()

	md := message.Metadata{"type": "probe_target"}
	telemetry.Inject(ctx, md)
	require.Regexp(t, `^00-`+span.SpanContext().TraceID().String()+`-`+span.SpanContext().SpanID().String()+`-01$`, md.Get(telemetry.MetaTraceParent))
	require.Equal(t, "probe_target", md.Get("type"), "the envelope is left as it was")

	require.Equal(t, span.SpanContext().TraceID().String(), telemetry.TraceIDOf(md))
	got := telemetry.SpanContextOf(md)
	require.True(t, got.IsRemote())
	require.Equal(t, span.SpanContext().TraceID(), got.TraceID())
	require.Equal(t, span.SpanContext().SpanID(), got.SpanID())

	copied := message.Metadata{}
	telemetry.CopyContext(copied, md)
	require.Equal(t, md.Get(telemetry.MetaTraceParent), copied.Get(telemetry.MetaTraceParent))
}

func TestInject_without_a_span_writes_nothing(t *testing.T) {
	md := message.Metadata{}
	telemetry.Inject(context.Background(), md)
	require.Empty(t, md)
	require.False(t, telemetry.SpanContextOf(md).IsValid())
	require.Empty(t, telemetry.TraceIDOf(md))
}

func TestStartBatch_links_each_message_and_StartInBatch_continues_its_trace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var msgs []*message.Message
	var senders []trace.SpanContext
	for range 3 {
		ctx, s := tp.Tracer("test").Start(context.Background(), "send")
		m := message.NewMessage("id", nil)
		telemetry.Inject(ctx, m.Metadata)
		msgs, senders = append(msgs, m), append(senders, s.SpanContext())
		s.End()
	}
	msgs = append(msgs, message.NewMessage("untraced", nil))

	// StartBatch uses the global provider; a recording one stands in for the process's.
	prev := otelProvider(tp)
	defer prev()
	ctx, batch := telemetry.StartBatch(context.Background(), "group", "events", msgs)
	_, one := telemetry.StartInBatch(ctx, msgs[0].Metadata, "reduce")
	one.End()
	batch.End()

	spans := rec.Ended()
	require.Len(t, spans, 5)
	b, r := spans[4], spans[3]
	require.Equal(t, "process events", b.Name())
	require.Len(t, b.Links(), 3, "one link per traced message")
	for i, l := range b.Links() {
		require.Equal(t, senders[i].TraceID(), l.SpanContext.TraceID())
	}
	require.NotEqual(t, senders[0].TraceID(), b.SpanContext().TraceID(), "a batch is a trace of its own")
	require.Equal(t, senders[0].TraceID(), r.SpanContext().TraceID(), "the message's part is in the message's trace")
	require.Equal(t, senders[0].SpanID(), r.Parent().SpanID())
	require.Equal(t, b.SpanContext().SpanID(), r.Links()[0].SpanContext.SpanID(), "and linked to its batch")
}

func TestConfig_from_the_environment(t *testing.T) {
	for name, tc := range map[string]struct {
		env     map[string]string
		enabled bool
		err     string
	}{
		"nothing_set_is_off":           {env: map[string]string{}},
		"an_endpoint_turns_it_on":      {env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, enabled: true},
		"the_traces_endpoint_too":      {env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, enabled: true},
		"none_wins_over_the_endpoint":  {env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}},
		"an_unknown_exporter_is_named": {env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: `OTEL_TRACES_EXPORTER "zipkin": want otlp or none`},
		"otlp_without_an_endpoint":     {env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, err: "needs OTEL_EXPORTER_OTLP_ENDPOINT"},
		"an_unknown_protocol_is_named": {env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: `OTEL_EXPORTER_OTLP_PROTOCOL "http/json"`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := telemetry.FromEnv(func(k string) string { return tc.env[k] })
			if tc.err == "" {
				require.Equal(t, tc.enabled, cfg.Enabled())
			}
			if tc.enabled {
				return // Start would install an exporter for the rest of the tests
			}
			_, err := telemetry.Start(context.Background(), cfg)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
		})
	}
}
