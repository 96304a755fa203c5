package events

import (
	"encoding/json"
	"fmt"
)

// Result is the result of a command that succeeded, recorded as JSON in CommandSucceeded.Result.
// Every command documents its result type here; the adapters return these types and the
// orchestrator reads them back with DecodeResult, so both sides share one definition.
type Result interface{ result() }

// DecodeResult reads a CommandSucceeded's result as T, strictly: a result of another shape is an
// error naming T.
func DecodeResult[T Result](raw json.RawMessage) (T, error) {
	var v T
	if err := DecodeStrict(raw, &v); err != nil {
		return v, fmt.Errorf("could not read %T from result %s: %w", v, raw, err)
	}
	return v, nil
}

// ProbeResult is the result of ProbeTarget: what the probe found. A probe that finds the target
// down is a success of the command with Healthy false.
type ProbeResult struct {
	Healthy bool   `json:"healthy"`
	Error   string `json:"error"`
}

// BreakerResult is the result of OpenBreaker and CloseBreaker: the breaker's state after the
// command and before it.
type BreakerResult struct {
	State BreakerState `json:"state"`
	Was   BreakerState `json:"was"`
}

// RecoverResult is the result of a RecoverTarget that found its target healthy. Actions say what
// the adapter did, in words; empty when it has no recovery of its own.
type RecoverResult struct {
	Recovered bool     `json:"recovered"`
	Actions   []string `json:"actions"`
}

// PostgresInitialized is the PostgreSQL adapter's result of InitializeTarget.
type PostgresInitialized struct {
	// ServerVersion is the server's version, e.g. "15.8 (Debian 15.8-0+deb12u1)".
	ServerVersion string `json:"server_version"`
	// InRecovery is true on a standby (written "true" or "false").
	InRecovery bool `json:"in_recovery,string"`
}

// KafkaInitialized is the Kafka adapter's result of InitializeTarget (numbers written as strings).
type KafkaInitialized struct {
	Brokers      int   `json:"brokers,string"`
	ControllerID int32 `json:"controller_id,string"`
}

// ConsulInitialized is the Consul adapter's result of InitializeTarget.
type ConsulInitialized struct {
	Datacenter string `json:"datacenter"`
	// Leader is the leader's server address (HOST:PORT of its RPC port).
	Leader string `json:"leader"`
}

// PostgresExecResult is the result of PostgresExecute.
type PostgresExecResult struct {
	RowsAffected int64 `json:"rows_affected"`
	// CommandTag is the server's tag, e.g. "INSERT 0 1", "CREATE TABLE".
	CommandTag string `json:"command_tag"`
}

// PostgresQueryResult is the result of PostgresQuery.
type PostgresQueryResult struct {
	Columns []string `json:"columns"`
	// Rows are JSON arrays, a value per column (the README says how each type is written).
	Rows     []json.RawMessage `json:"rows"`
	RowCount int               `json:"row_count"`
}

// PostgresTransactionResult is the result of PostgresTransaction: the rows each statement affected.
type PostgresTransactionResult struct {
	RowsAffected []int64 `json:"rows_affected"`
}

// KafkaPublishResult is the result of KafkaPublish: where the record went.
type KafkaPublishResult struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// KafkaEnsureTopicResult is the result of KafkaEnsureTopic: whether the topic had to be created.
type KafkaEnsureTopicResult struct {
	Topic   string `json:"topic"`
	Created bool   `json:"created"`
}

// KafkaClusterResult is the result of KafkaDescribeCluster.
type KafkaClusterResult struct {
	Brokers      []KafkaBroker `json:"brokers"`
	ControllerID int32         `json:"controller_id"`
	// Topics is how many topics the cluster has, internal ones included.
	Topics int `json:"topics"`
}

// KafkaBroker is one broker of a cluster.
type KafkaBroker struct {
	ID   int32  `json:"id"`
	Addr string `json:"addr"`
}

// ConsulKVGetResult is the result of ConsulKVGet. A missing key is a success with Found false.
type ConsulKVGetResult struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	ModifyIndex uint64 `json:"modify_index"`
	Found       bool   `json:"found"`
}

// ConsulKVKeyResult is the result of ConsulKVPut and ConsulKVDelete.
type ConsulKVKeyResult struct {
	Key string `json:"key"`
}

// ConsulKVCompareAndSetResult is the result of ConsulKVCompareAndSet: Swapped is false when the
// key's ModifyIndex was no longer the one given (a lost race is not a failure).
type ConsulKVCompareAndSetResult struct {
	Key     string `json:"key"`
	Swapped bool   `json:"swapped"`
}

// ConsulRegisterServiceResult is the result of ConsulRegisterService. CheckID is empty when the
// service has no check.
type ConsulRegisterServiceResult struct {
	ServiceID string `json:"service_id"`
	CheckID   string `json:"check_id,omitempty"`
}

// ConsulDeregisterServiceResult is the result of ConsulDeregisterService.
type ConsulDeregisterServiceResult struct {
	ServiceID string `json:"service_id"`
}

// ConsulTTLResult is the result of ConsulPassTTL and ConsulFailTTL: Status is Consul's new status
// of the check, "passing" or "critical".
type ConsulTTLResult struct {
	CheckID string `json:"check_id"`
	Status  string `json:"status"`
}

func (ProbeResult) result()                   {}
func (BreakerResult) result()                 {}
func (RecoverResult) result()                 {}
func (PostgresInitialized) result()           {}
func (KafkaInitialized) result()              {}
func (ConsulInitialized) result()             {}
func (PostgresExecResult) result()            {}
func (PostgresQueryResult) result()           {}
func (PostgresTransactionResult) result()     {}
func (KafkaPublishResult) result()            {}
func (KafkaEnsureTopicResult) result()        {}
func (KafkaClusterResult) result()            {}
func (ConsulKVGetResult) result()             {}
func (ConsulKVKeyResult) result()             {}
func (ConsulKVCompareAndSetResult) result()   {}
func (ConsulRegisterServiceResult) result()   {}
func (ConsulDeregisterServiceResult) result() {}
func (ConsulTTLResult) result()               {}
