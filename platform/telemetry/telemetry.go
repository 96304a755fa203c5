// Package telemetry is the process's tracing: a tracer provider configured by the standard
// OTEL_* environment variables (OTLP over HTTP or gRPC; off when none names an endpoint), the
// W3C trace-context propagator, and the carrier that moves trace context in and out of Watermill
// message metadata — the outbox rows, Kafka headers, the event log and poison records all keep
// a message's metadata, so the trace travels wherever the message does.
//
// Decision: components take their tracer from OpenTelemetry's global provider (Tracer), which
// is a no-op until Start installs one. That is the convention every OpenTelemetry instrumentation
// library follows, and it keeps a tracer out of every component's Config; Start is called once,
// by the composition root (cmd/omni), and its shutdown flushes what is buffered.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName names the tracer of every span this project starts.
const InstrumentationName = "github.com/omninode/omnibase-infra"

// Config says whether and where traces are exported. FromEnv reads it from the OTEL_* variables.
type Config struct {
	// Exporter is "otlp" or "none" (OTEL_TRACES_EXPORTER). Optional: default "otlp" when an
	// endpoint is set, else "none".
	Exporter string
	// Endpoint is OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; the OTLP
	// exporters read it (and OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _INSECURE, _CERTIFICATE …)
	// themselves. Optional: empty means tracing is off.
	Endpoint string
	// Protocol is "http/protobuf" or "grpc" (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
	// OTEL_EXPORTER_OTLP_PROTOCOL). Optional: default "http/protobuf".
	Protocol string
	// ServiceName is the resource's service.name when OTEL_SERVICE_NAME does not set it.
	// Optional: default "omni".
	ServiceName string
}

// FromEnv reads the standard variables through getenv (os.Getenv in a process).
func FromEnv(getenv func(string) string) Config {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				return v
			}
		}
		return ""
	}
	return Config{
		Exporter: first("OTEL_TRACES_EXPORTER"),
		Endpoint: first("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
		Protocol: first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
	}
}

func (c *Config) setDefaults() {
	if c.Exporter == "" {
		c.Exporter = "none"
		if c.Endpoint != "" {
			c.Exporter = "otlp"
		}
	}
	if c.Protocol == "" {
		c.Protocol = "http/protobuf"
	}
	if c.ServiceName == "" {
		c.ServiceName = "omni"
	}
}

// Validate reports every value it cannot use.
func (c Config) Validate() error {
	var errs []error
	switch c.Exporter {
	case "none", "otlp":
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp or none", c.Exporter))
	}
	switch c.Protocol {
	case "http/protobuf", "grpc":
	default:
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", c.Protocol))
	}
	if c.Exporter == "otlp" && c.Endpoint == "" {
		errs = append(errs, errors.New("OTEL_TRACES_EXPORTER=otlp needs OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	}
	return errors.Join(errs...)
}

// Enabled reports whether c exports anything.
func (c Config) Enabled() bool {
	c.setDefaults()
	return c.Exporter == "otlp"
}

// Start installs the W3C trace-context propagator and, when cfg exports, a batching tracer
// provider as OpenTelemetry's global one. The returned shutdown flushes the spans still buffered
// and stops the exporter; call it once, when the process stops (it is a no-op when tracing is
// off).
func Start(ctx context.Context, cfg Config) (shutdown func(context.Context) error, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid tracing config: %w", err)
	}
	otel.SetTextMapPropagator(Propagator())
	if cfg.Exporter == "none" {
		return func(context.Context) error { return nil }, nil
	}
	var exp sdktrace.SpanExporter
	if cfg.Protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("could not create the OTLP trace exporter (%s): %w", cfg.Protocol, err)
	}
	// resource.Default reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; cfg.ServiceName is
	// the service.name only when neither says it.
	res := resource.Default()
	if os.Getenv("OTEL_SERVICE_NAME") == "" && !strings.Contains(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), "service.name=") {
		if res, err = resource.Merge(res, resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName))); err != nil {
			return nil, fmt.Errorf("could not build the trace resource: %w", err)
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Tracer is the tracer every component starts its spans with.
func Tracer() trace.Tracer { return otel.GetTracerProvider().Tracer(InstrumentationName) }

// Propagator is the W3C trace context (traceparent, tracestate) and baggage.
func Propagator() propagation.TextMapPropagator { return propagator }

// propagator is stateless: one value serves every message.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
