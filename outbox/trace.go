package outbox

import (
	"context"

	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/telemetry"
)

// startPublish starts the producer span of each message written for topic and writes its
// context into the message's metadata. A message that carries a trace context already (its
// cause's, copied by the caller) is written as part of that trace; the others as part of ctx's.
func startPublish(ctx context.Context, topic string, msgs []*message.Message) []trace.Span {
	spans := make([]trace.Span, len(msgs))
	for i, m := range msgs {
		parent := ctx
		if telemetry.SpanContextOf(m.Metadata).IsValid() {
			parent = telemetry.Extract(ctx, m.Metadata)
		}
		sctx, span := telemetry.Tracer().Start(parent, "send "+topic, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(semconv.MessagingSystemKafka, semconv.MessagingOperationTypeSend,
				semconv.MessagingDestinationName(topic), semconv.MessagingMessageID(m.UUID),
				semconv.MessagingKafkaMessageKey(m.Metadata.Get(events.MetaKey))))
		telemetry.Inject(sctx, m.Metadata)
		spans[i] = span
	}
	return spans
}

// endPublish ends the spans startPublish started, failed with err when not nil.
func endPublish(spans []trace.Span, err error) {
	for _, s := range spans {
		telemetry.End(s, err)
		s.End()
	}
}

// startDelivery starts the span of each record the relay is about to produce, child of the
// trace its row carries, with how long the row waited in the outbox, and writes that span's
// context into the record's headers: the consumers continue the relay's span.
func startDelivery(ctx context.Context, group string, rows []row, records []*kgo.Record, failed []error) []trace.Span {
	spans := make([]trace.Span, len(rows))
	for i, rec := range records {
		if failed[i] != nil || rec == nil {
			continue
		}
		md := message.Metadata{}
		for _, h := range rec.Headers {
			md.Set(h.Key, string(h.Value))
		}
		sctx, span := telemetry.Tracer().Start(telemetry.Extract(ctx, md), "publish "+rec.Topic,
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(semconv.MessagingSystemKafka, semconv.MessagingOperationTypeSend,
				semconv.MessagingDestinationName(rec.Topic), semconv.MessagingMessageID(md.Get(kafka.UUIDHeaderKey)),
				semconv.MessagingClientID(group),
				attribute.Float64("omni.outbox.wait_seconds", rows[i].waited.Seconds())))
		spans[i] = span
		if !span.IsRecording() {
			continue // tracing off: the headers carry the writer's context as they are
		}
		out := message.Metadata{}
		telemetry.Inject(sctx, out)
		for j, h := range rec.Headers {
			if v, ok := out[h.Key]; ok {
				rec.Headers[j].Value = []byte(v)
				delete(out, h.Key)
			}
		}
		for k, v := range out {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	return spans
}

// endDelivery ends the spans startDelivery started, each failed with its record's error.
func endDelivery(spans []trace.Span, records []*kgo.Record, byRecord map[*kgo.Record]error) {
	for i, s := range spans {
		if s == nil {
			continue
		}
		telemetry.End(s, byRecord[records[i]])
		s.End()
	}
}
