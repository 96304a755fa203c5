package events

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Command is implemented by every command: a request to one adapter to act on one of its targets.
// Commands travel on the adapter's command topic, keyed by adapter id, and every command ends in
// exactly one outcome event: CommandSucceeded, CommandFailed or CommandRejected, whose causation
// id is the command's id.
type Command interface {
	Message
	// Addressee is the adapter that executes the command and the target it acts on.
	Addressee() (adapter, target string)
}

// On names the target a command acts on; every adapter command embeds it.
type On struct {
	Target string `json:"target"`
}

// ProbeTarget asks an adapter to probe one of its targets now and record the outcome.
type ProbeTarget struct {
	Adapter string `json:"adapter"`
	Target  string `json:"target"`
}

func (ProbeTarget) Kind() Kind                            { return Kind{Name: "probe_target", Version: 1} }
func (c ProbeTarget) Key() string                         { return AdapterID(c.Adapter, c.Target) }
func (c ProbeTarget) Addressee() (adapter, target string) { return c.Adapter, c.Target }
func (c ProbeTarget) Validate() error {
	var f fields
	f.oneOf("adapter", c.Adapter, adapterNames...)
	f.text("target", c.Target)
	return f.err()
}

// Statement is one parameterised SQL statement: placeholders $1, $2, … in SQL, their values in
// Args. SQL is never built from values.
type Statement struct {
	SQL string `json:"sql"`
	// Args are JSON values: strings, numbers, booleans, null, or JSON objects and arrays (sent as
	// json/jsonb). An integer-valued number is sent as an integer.
	Args []json.RawMessage `json:"args,omitempty"`
}

func (s Statement) check(f *fields, prefix string) {
	f.text(prefix+"sql", strings.TrimSpace(s.SQL))
	for i, a := range s.Args {
		if !json.Valid(a) {
			*f = append(*f, fmt.Errorf("field %q is not a JSON value", fmt.Sprintf("%sargs[%d]", prefix, i)))
		}
	}
}

// PostgresExecute runs one statement that returns no rows (INSERT, UPDATE, DDL, …). Its result is
// {"rows_affected": n, "command_tag": "..."}.
type PostgresExecute struct {
	On
	Statement
}

func (PostgresExecute) Kind() Kind                            { return Kind{Name: "postgres_execute", Version: 1} }
func (c PostgresExecute) Key() string                         { return AdapterID(AdapterPostgres, c.Target) }
func (c PostgresExecute) Addressee() (adapter, target string) { return AdapterPostgres, c.Target }
func (c PostgresExecute) Validate() error {
	var f fields
	f.text("target", c.Target)
	c.check(&f, "")
	return f.err()
}

// PostgresQuery runs one statement and returns its rows, at most MaxRows of them (default and
// ceiling set by the adapter's configuration); past the cap the command fails rather than
// truncating. Its result is {"columns": [...], "rows": [[...], ...], "row_count": n}.
type PostgresQuery struct {
	On
	Statement
	MaxRows int64 `json:"max_rows,omitempty"`
}

func (PostgresQuery) Kind() Kind                            { return Kind{Name: "postgres_query", Version: 1} }
func (c PostgresQuery) Key() string                         { return AdapterID(AdapterPostgres, c.Target) }
func (c PostgresQuery) Addressee() (adapter, target string) { return AdapterPostgres, c.Target }
func (c PostgresQuery) Validate() error {
	var f fields
	f.text("target", c.Target)
	c.check(&f, "")
	f.nonNegative("max_rows", c.MaxRows)
	return f.err()
}

// PostgresTransaction runs its statements in order in one transaction: all of them or none.
// Its result is {"rows_affected": [n, ...]}.
type PostgresTransaction struct {
	On
	Statements []Statement `json:"statements"`
}

func (PostgresTransaction) Kind() Kind                            { return Kind{Name: "postgres_transaction", Version: 1} }
func (c PostgresTransaction) Key() string                         { return AdapterID(AdapterPostgres, c.Target) }
func (c PostgresTransaction) Addressee() (adapter, target string) { return AdapterPostgres, c.Target }
func (c PostgresTransaction) Validate() error {
	var f fields
	f.text("target", c.Target)
	if len(c.Statements) == 0 {
		f = append(f, fmt.Errorf("missing field %q", "statements"))
	}
	for i, s := range c.Statements {
		s.check(&f, fmt.Sprintf("statements[%d].", i))
	}
	return f.err()
}

// KafkaPublish produces one record. Payload is text, or base64 when Base64 is set. Its result is
// {"topic": "...", "partition": p, "offset": o}.
type KafkaPublish struct {
	On
	Topic string `json:"topic"`
	// RecordKey is the record's key (the partition key); empty for none.
	RecordKey string            `json:"key,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Payload   string            `json:"payload"`
	Base64    bool              `json:"base64,omitempty"`
}

func (KafkaPublish) Kind() Kind                            { return Kind{Name: "kafka_publish", Version: 1} }
func (c KafkaPublish) Key() string                         { return AdapterID(AdapterKafka, c.Target) }
func (c KafkaPublish) Addressee() (adapter, target string) { return AdapterKafka, c.Target }
func (c KafkaPublish) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("topic", c.Topic)
	return f.err()
}

// KafkaEnsureTopic makes a topic exist with the given partitions, replication factor and configs:
// a no-op when it already matches, an error naming the difference when it conflicts. Its result
// is {"topic": "...", "created": bool}.
type KafkaEnsureTopic struct {
	On
	Topic             string            `json:"topic"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs,omitempty"`
}

func (KafkaEnsureTopic) Kind() Kind                            { return Kind{Name: "kafka_ensure_topic", Version: 1} }
func (c KafkaEnsureTopic) Key() string                         { return AdapterID(AdapterKafka, c.Target) }
func (c KafkaEnsureTopic) Addressee() (adapter, target string) { return AdapterKafka, c.Target }
func (c KafkaEnsureTopic) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("topic", c.Topic)
	f.positive("partitions", int64(c.Partitions))
	f.positive("replication_factor", int64(c.ReplicationFactor))
	return f.err()
}

// KafkaDescribeCluster returns the brokers and the controller. Its result is
// {"brokers": [{"id": n, "addr": "..."}], "controller_id": n, "topics": n}.
type KafkaDescribeCluster struct {
	On
}

func (KafkaDescribeCluster) Kind() Kind                            { return Kind{Name: "kafka_describe_cluster", Version: 1} }
func (c KafkaDescribeCluster) Key() string                         { return AdapterID(AdapterKafka, c.Target) }
func (c KafkaDescribeCluster) Addressee() (adapter, target string) { return AdapterKafka, c.Target }
func (c KafkaDescribeCluster) Validate() error {
	var f fields
	f.text("target", c.Target)
	return f.err()
}

// ConsulKVGet reads a key. Its result is {"key": "...", "value": "...", "modify_index": n,
// "found": bool}.
type ConsulKVGet struct {
	On
	KVKey string `json:"key"`
}

func (ConsulKVGet) Kind() Kind                            { return Kind{Name: "consul_kv_get", Version: 1} }
func (c ConsulKVGet) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulKVGet) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulKVGet) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("key", c.KVKey)
	return f.err()
}

// ConsulKVPut writes a key. Its result is {"key": "..."}.
type ConsulKVPut struct {
	On
	KVKey string `json:"key"`
	Value string `json:"value"`
}

func (ConsulKVPut) Kind() Kind                            { return Kind{Name: "consul_kv_put", Version: 1} }
func (c ConsulKVPut) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulKVPut) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulKVPut) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("key", c.KVKey)
	return f.err()
}

// ConsulKVDelete deletes a key (with Recurse, every key under the prefix). Its result is
// {"key": "..."}.
type ConsulKVDelete struct {
	On
	KVKey   string `json:"key"`
	Recurse bool   `json:"recurse,omitempty"`
}

func (ConsulKVDelete) Kind() Kind                            { return Kind{Name: "consul_kv_delete", Version: 1} }
func (c ConsulKVDelete) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulKVDelete) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulKVDelete) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("key", c.KVKey)
	return f.err()
}

// ConsulKVCompareAndSet writes a key only if its ModifyIndex is still the one given (0: only if
// the key does not exist). Its result is {"key": "...", "swapped": bool}; a lost race is a
// successful command with swapped false, not a failure.
type ConsulKVCompareAndSet struct {
	On
	KVKey       string `json:"key"`
	Value       string `json:"value"`
	ModifyIndex uint64 `json:"modify_index"`
}

func (ConsulKVCompareAndSet) Kind() Kind                            { return Kind{Name: "consul_kv_cas", Version: 1} }
func (c ConsulKVCompareAndSet) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulKVCompareAndSet) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulKVCompareAndSet) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("key", c.KVKey)
	return f.err()
}

// Service check types.
const (
	CheckHTTP = "http"
	CheckTCP  = "tcp"
	CheckTTL  = "ttl"
)

// ServiceCheck is the health check a registered service gets. Durations are Go durations ("10s").
type ServiceCheck struct {
	// ID of the check; default "service:<service id>" (Consul's own default).
	ID   string `json:"id,omitempty"`
	Type string `json:"type"`
	// HTTP is the URL for an http check; TCP the HOST:PORT for a tcp check; TTL the time to live
	// of a ttl check, which PassTTL and FailTTL then update.
	HTTP     string `json:"http,omitempty"`
	TCP      string `json:"tcp,omitempty"`
	TTL      string `json:"ttl,omitempty"`
	Interval string `json:"interval,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
	// DeregisterAfter removes the service after its check has been critical this long.
	DeregisterAfter string `json:"deregister_after,omitempty"`
}

func (c ServiceCheck) check(f *fields) {
	f.oneOf("check.type", c.Type, CheckHTTP, CheckTCP, CheckTTL)
	switch c.Type {
	case CheckHTTP:
		f.text("check.http", c.HTTP)
		f.text("check.interval", c.Interval)
	case CheckTCP:
		f.text("check.tcp", c.TCP)
		f.text("check.interval", c.Interval)
	case CheckTTL:
		f.text("check.ttl", c.TTL)
	}
	for _, d := range []struct{ name, value string }{
		{"check.ttl", c.TTL}, {"check.interval", c.Interval}, {"check.timeout", c.Timeout},
		{"check.deregister_after", c.DeregisterAfter},
	} {
		f.duration(d.name, d.value)
	}
}

// ConsulRegisterService registers a service instance with the target's agent. Its result is
// {"service_id": "...", "check_id": "..."}.
type ConsulRegisterService struct {
	On
	ServiceID string            `json:"service_id"`
	Name      string            `json:"name"`
	Address   string            `json:"address,omitempty"`
	Port      int               `json:"port,omitempty"`
	Tags      []string          `json:"tags,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Check     *ServiceCheck     `json:"check,omitempty"`
}

func (ConsulRegisterService) Kind() Kind {
	return Kind{Name: "consul_register_service", Version: 1}
}
func (c ConsulRegisterService) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulRegisterService) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulRegisterService) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("service_id", c.ServiceID)
	f.text("name", c.Name)
	if c.Port < 0 || c.Port > 65535 {
		f = append(f, fmt.Errorf("field %q is %d, want 0 to 65535", "port", c.Port))
	}
	if c.Check != nil {
		c.Check.check(&f)
	}
	return f.err()
}

// ConsulDeregisterService removes a service instance. Its result is {"service_id": "..."}.
type ConsulDeregisterService struct {
	On
	ServiceID string `json:"service_id"`
}

func (ConsulDeregisterService) Kind() Kind {
	return Kind{Name: "consul_deregister_service", Version: 1}
}
func (c ConsulDeregisterService) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulDeregisterService) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulDeregisterService) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("service_id", c.ServiceID)
	return f.err()
}

// ConsulPassTTL marks a TTL check passing. Its result is {"check_id": "...", "status": "passing"}.
type ConsulPassTTL struct {
	On
	CheckID string `json:"check_id"`
	Note    string `json:"note,omitempty"`
}

func (ConsulPassTTL) Kind() Kind                            { return Kind{Name: "consul_pass_ttl", Version: 1} }
func (c ConsulPassTTL) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulPassTTL) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulPassTTL) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("check_id", c.CheckID)
	return f.err()
}

// ConsulFailTTL marks a TTL check critical. Its result is {"check_id": "...", "status": "critical"}.
type ConsulFailTTL struct {
	On
	CheckID string `json:"check_id"`
	Note    string `json:"note,omitempty"`
}

func (ConsulFailTTL) Kind() Kind                            { return Kind{Name: "consul_fail_ttl", Version: 1} }
func (c ConsulFailTTL) Key() string                         { return AdapterID(AdapterConsul, c.Target) }
func (c ConsulFailTTL) Addressee() (adapter, target string) { return AdapterConsul, c.Target }
func (c ConsulFailTTL) Validate() error {
	var f fields
	f.text("target", c.Target)
	f.text("check_id", c.CheckID)
	return f.err()
}
