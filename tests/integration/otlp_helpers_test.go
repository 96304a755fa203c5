package integration_test

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a real OTLP/HTTP trace receiver: it decodes the ExportTraceServiceRequest
// protobuf the exporters POST to /v1/traces and keeps every span.
type otlpReceiver struct {
	// Endpoint is what OTEL_EXPORTER_OTLP_ENDPOINT names: http://127.0.0.1:PORT.
	Endpoint string
	mu       sync.Mutex
	spans    []receivedSpan
}

// receivedSpan is one span as received, with its service's name.
type receivedSpan struct {
	Service string
	*tracepb.Span
}

func (s receivedSpan) TraceID() string  { return hex.EncodeToString(s.GetTraceId()) }
func (s receivedSpan) SpanID() string   { return hex.EncodeToString(s.GetSpanId()) }
func (s receivedSpan) ParentID() string { return hex.EncodeToString(s.GetParentSpanId()) }

// Attr is the string value of the span's attribute key ("" when absent).
func (s receivedSpan) Attr(key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// HasAttr reports whether the span has the attribute key, whatever its value.
func (s receivedSpan) HasAttr(key string) bool {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return true
		}
	}
	return false
}

// LinksTo reports whether one of the span's links is to a span of trace traceID.
func (s receivedSpan) LinksTo(traceID string) bool {
	for _, l := range s.GetLinks() {
		if hex.EncodeToString(l.GetTraceId()) == traceID {
			return true
		}
	}
	return false
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &otlpReceiver{Endpoint: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.export)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range in.GetResourceSpans() {
		service := stringAttr(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, receivedSpan{Service: service, Span: s})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Spans is every span received so far.
func (r *otlpReceiver) Spans() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedSpan(nil), r.spans...)
}

func stringAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}
