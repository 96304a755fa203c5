package telemetry

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Metadata keys of the W3C trace context in a message's metadata. They are not envelope
// metadata: the MAC does not cover them (events.MACKeys), because each hop may rewrite them.
const (
	MetaTraceParent = "traceparent"
	MetaTraceState  = "tracestate"
)

// metadataCarrier lets the propagator read and write Watermill metadata.
type metadataCarrier message.Metadata

func (c metadataCarrier) Get(key string) string { return message.Metadata(c).Get(key) }
func (c metadataCarrier) Set(key, value string) { message.Metadata(c).Set(key, value) }
func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes ctx's span context into md (nothing when ctx carries none).
func Inject(ctx context.Context, md message.Metadata) {
	if md == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	Propagator().Inject(ctx, metadataCarrier(md))
}

// Extract returns ctx carrying the remote span context md holds, if any.
func Extract(ctx context.Context, md message.Metadata) context.Context {
	if md == nil {
		return ctx
	}
	return Propagator().Extract(ctx, metadataCarrier(md))
}

// SpanContextOf is the span context md carries (invalid when none).
func SpanContextOf(md message.Metadata) trace.SpanContext {
	return trace.SpanContextFromContext(Extract(context.Background(), md))
}

// CopyContext gives to the trace context that from carries: for a message whose cause is from
// but that is published on another context (the projection's intents, raised in a batch).
func CopyContext(to, from message.Metadata) {
	for _, k := range []string{MetaTraceParent, MetaTraceState} {
		if v := from.Get(k); v != "" {
			to.Set(k, v)
		}
	}
}

// ConsumerMiddleware is the router middleware of one consumer group: each message is processed
// in a consumer span ("process <topic>") that continues the trace its metadata carries, and the
// handler's context (msg.Context()) carries that span, so what the handler publishes is in the
// same trace.
func ConsumerMiddleware(group, topic string) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			ctx := Extract(msg.Context(), msg.Metadata)
			ctx, span := Tracer().Start(ctx, "process "+topic, trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(semconv.MessagingSystemKafka, semconv.MessagingOperationTypeProcess,
					semconv.MessagingDestinationName(topic), semconv.MessagingConsumerGroupName(group),
					semconv.MessagingMessageID(msg.UUID), attribute.String("omni.message.type", msg.Metadata.Get("type"))))
			defer span.End()
			orig := msg.Context()
			msg.SetContext(ctx)
			defer msg.SetContext(orig)
			out, err := h(msg)
			End(span, err)
			return out, err
		}
	}
}

// StartBatch starts the span of a batch that group consumed from topic: a new trace, linked to
// each message's own context, as the messaging conventions ask of batch processing (one batch
// has many parents).
func StartBatch(ctx context.Context, group, topic string, msgs []*message.Message) (context.Context, trace.Span) {
	links := make([]trace.Link, 0, len(msgs))
	for _, m := range msgs {
		if sc := SpanContextOf(m.Metadata); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{semconv.MessagingMessageID(m.UUID)}})
		}
	}
	return Tracer().Start(ctx, "process "+topic, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
		trace.WithNewRoot(), trace.WithAttributes(semconv.MessagingSystemKafka, semconv.MessagingOperationTypeProcess,
			semconv.MessagingDestinationName(topic), semconv.MessagingConsumerGroupName(group),
			semconv.MessagingBatchMessageCount(len(msgs))))
}

// End marks span failed with err (when not nil) and ends nothing: callers defer span.End.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}

// StartInBatch starts the span of one message's part in a batch (ctx carries the batch's span):
// a child of the message's own trace, linked to the batch, so the message's trace shows what the
// batch did with it.
func StartInBatch(ctx context.Context, md message.Metadata, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	if batch := trace.SpanContextFromContext(ctx); batch.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: batch}))
	}
	return Tracer().Start(Extract(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), md), name, opts...)
}

// TraceIDOf is the trace id (32 hex digits) of the trace context md carries, or "" when it
// carries none: what a link to the trace of a stored message (event_log, poison_messages) needs.
func TraceIDOf(md message.Metadata) string {
	if sc := SpanContextOf(md); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
