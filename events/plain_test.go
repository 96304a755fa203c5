package events

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// plainKinds are the catalog's kinds the plain decoder has a plan for, in a fixed order.
func plainKinds() []Kind {
	c := Catalog()
	var out []Kind
	for k, p := range c.plans {
		if p != nil {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b Kind) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// The events adapters send all the time take the fast path, as json.Marshal writes them.
func TestPlainDecoder_takes_what_json_Marshal_writes_of_the_frequent_events(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	for _, m := range []Message{
		AdapterHealthReported{AdapterID: "postgres/orders", Adapter: AdapterPostgres, Target: "orders", Healthy: true,
			LatencyMicros: 812, ProbedAt: at, Details: map[string]string{"replica_lag_ms": "3", "version": "15.4 — ünïcode"}},
		AdapterHealthReported{AdapterID: "kafka/bus", Adapter: AdapterKafka, Target: "bus", Error: "dial tcp: refused",
			LatencyMicros: 0, ProbedAt: at.In(time.FixedZone("x", 3600))},
		CircuitBreakerStateChanged{AdapterID: "consul/agent", From: BreakerClosed, To: BreakerOpen, ConsecutiveFailures: 5, ChangedAt: at},
		ConnectionPoolStatsReported{AdapterID: "postgres/orders", Acquired: 10, Idle: 0, Total: 10, Max: 10, WaitCount: 1 << 40, ReportedAt: at},
	} {
		t.Run(m.Kind().String(), func(t *testing.T) {
			payload, err := json.Marshal(m)
			require.NoError(t, err)
			plan := Catalog().plans[m.Kind()]
			require.NotNil(t, plan, "no plan for %s", m.Kind())
			got := reflect.New(reflect.TypeOf(m))
			require.True(t, plan.decode(payload, got.Elem()), "declined %s", payload)
			want := reflect.New(reflect.TypeOf(m))
			require.NoError(t, DecodeStrict(payload, want.Interface()))
			require.Equal(t, want.Elem().Interface(), got.Elem().Interface())
		})
	}
}

// Whatever the plain decoder is not sure to read as encoding/json would, it leaves to it.
func TestPlainDecoder_declines(t *testing.T) {
	plan := Catalog().plans[AdapterHealthReported{}.Kind()]
	const ok = `"adapter_id":"postgres/orders","adapter":"postgres","target":"orders","healthy":true,"latency_us":10,"probed_at":"2026-11-01T12:00:00Z"`
	var v AdapterHealthReported
	require.True(t, plan.decode([]byte("{"+ok+"}"), reflect.ValueOf(&v).Elem()))
	for name, payload := range map[string]string{
		"an escape":              `{"target":"or\u0064ers",` + ok + `}`,
		"a name in another case": `{"Target":"orders",` + ok + `}`,
		"an unknown field":       `{"extra":1,` + ok + `}`,
		"a repeated field":       `{` + ok + `,"healthy":false}`,
		"a null":                 `{"error":null,` + ok + `}`,
		"a float":                `{` + strings.Replace(ok, `"latency_us":10`, `"latency_us":10.0`, 1) + `}`,
		"an exponent":            `{` + strings.Replace(ok, `"latency_us":10`, `"latency_us":1e1`, 1) + `}`,
		"a leading zero":         `{` + strings.Replace(ok, `"latency_us":10`, `"latency_us":010`, 1) + `}`,
		"an overflow":            `{` + strings.Replace(ok, `"latency_us":10`, `"latency_us":9223372036854775808`, 1) + `}`,
		"a quoted number":        `{` + strings.Replace(ok, `"latency_us":10`, `"latency_us":"10"`, 1) + `}`,
		"a bad literal":          `{` + strings.Replace(ok, `"healthy":true`, `"healthy":truex`, 1) + `}`,
		"a bad time":             `{` + strings.Replace(ok, `2026-11-01T12:00:00Z`, `2026-11-01 12:00:00`, 1) + `}`,
		"invalid UTF-8":          `{"error":"` + "\xff" + `",` + ok + `}`,
		"a control character":    `{"error":"a` + "\t" + `b",` + ok + `}`,
		"a trailing comma":       `{` + ok + `,}`,
		"trailing data":          `{` + ok + `} {}`,
		"not an object":          `[` + ok + `]`,
		"a map of numbers":       `{"details":{"a":1},` + ok + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			var v AdapterHealthReported
			require.False(t, plan.decode([]byte(payload), reflect.ValueOf(&v).Elem()), "took %s", payload)
		})
	}
}

// Where the plain decoder takes a payload, encoding/json's strict decoding takes it too and
// gives the same value: over every planned kind and whatever bytes the fuzzer makes.
func FuzzPlainDecoder_agrees_with_encoding_json(f *testing.F) {
	kinds := plainKinds()
	f.Add(uint8(0), []byte(`{}`))
	f.Add(uint8(0), []byte(` { "adapter_id" : "a/b" , "details" : { "k" : "v" , "k" : "w" } } `))
	f.Add(uint8(0), []byte(`{"latency_us":-0,"healthy":false,"probed_at":"2026-11-01T12:00:00.5+01:00"}`))
	f.Add(uint8(0), []byte(`{"wait_count":-9223372036854775808,"acquired":18446744073709551615}`))
	for i, k := range kinds {
		m := reflect.New(Catalog().types[k]).Elem().Interface()
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		k := kinds[int(which)%len(kinds)]
		typ := Catalog().types[k]
		got := reflect.New(typ)
		if !Catalog().plans[k].decode(payload, got.Elem()) {
			return
		}
		want := reflect.New(typ)
		if err := DecodeStrict(payload, want.Interface()); err != nil {
			t.Fatalf("%s: the plain decoder took %q, encoding/json refuses it: %v", k, payload, err)
		}
		if !reflect.DeepEqual(got.Elem().Interface(), want.Elem().Interface()) {
			t.Fatalf("%s: %q decodes to\n%#v\nencoding/json gives\n%#v", k, payload, got.Elem().Interface(), want.Elem().Interface())
		}
	})
}

// bytesEnvelope has the shape of Watermill's forwarder envelope, which the relay decodes.
type bytesEnvelope struct {
	DestinationTopic string            `json:"destination_topic"`
	UUID             string            `json:"uuid"`
	Payload          []byte            `json:"payload"`
	Metadata         map[string]string `json:"metadata"`
}

func TestDecodeJSON_takes_bytes_as_encoding_json_does(t *testing.T) {
	in := bytesEnvelope{DestinationTopic: "infra.events", UUID: "u1", Payload: []byte(`{"x":"\u00e9\n"}`),
		Metadata: map[string]string{"type": "a", "key": "b"}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var got bytesEnvelope
	require.NoError(t, DecodeJSON(b, &got))
	require.Equal(t, in, got)
	for name, payload := range map[string]string{
		"bad_base64":    `{"payload":"not base64!"}`,
		"unknown_field": `{"payload":"","other":1}`,
		"null_payload":  `{"payload":null}`,
	} {
		var fast, strict bytesEnvelope
		errFast, errStrict := DecodeJSON([]byte(payload), &fast), DecodeStrict([]byte(payload), &strict)
		require.Equal(t, errStrict == nil, errFast == nil, name)
		require.Equal(t, strict, fast, name)
	}
}

func FuzzDecodeJSON_agrees_with_encoding_json_on_bytes(f *testing.F) {
	b, _ := json.Marshal(bytesEnvelope{DestinationTopic: "t", UUID: "u", Payload: []byte("hello"), Metadata: map[string]string{"k": "v"}})
	f.Add(b)
	f.Add([]byte(`{"payload":"aGVsbG8"}`))
	f.Add([]byte(`{"payload":"aGVs\nbG8="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, strict bytesEnvelope
		errFast, errStrict := DecodeJSON(data, &fast), DecodeStrict(data, &strict)
		if (errFast == nil) != (errStrict == nil) {
			t.Fatalf("%q: DecodeJSON says %v, encoding/json %v", data, errFast, errStrict)
		}
		if errFast == nil && !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%q: DecodeJSON gives %#v, encoding/json %#v", data, fast, strict)
		}
	})
}
