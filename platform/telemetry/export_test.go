package telemetry_test

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// otelProvider installs tp as the global provider and returns what puts the previous one back.
func otelProvider(tp trace.TracerProvider) func() {
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	return func() { otel.SetTracerProvider(prev) }
}
