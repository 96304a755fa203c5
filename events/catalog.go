package events

// Catalog returns a registry of every message type this version of omnibase-infra knows.
func Catalog() *Registry {
	return NewRegistry(
		AdapterHealthReported{},
		CircuitBreakerStateChanged{},
		ConnectionPoolStatsReported{},
		InfrastructureHealthDegraded{},
		InfrastructureHealthCritical{},
		CircuitBreakerOpened{},
		FailoverRequired{},
		ConnectionPoolExhausted{},
		RecoveryInitiated{},
		ProbeTarget{},
		PostgresExecute{},
		PostgresQuery{},
		PostgresTransaction{},
		KafkaPublish{},
		KafkaEnsureTopic{},
		KafkaDescribeCluster{},
		ConsulKVGet{},
		ConsulKVPut{},
		ConsulKVDelete{},
		ConsulKVCompareAndSet{},
		ConsulRegisterService{},
		ConsulDeregisterService{},
		ConsulPassTTL{},
		ConsulFailTTL{},
		CommandSucceeded{},
		CommandFailed{},
		CommandRejected{},
		ConsulKVChanged{},
		ConsulServiceChanged{},
	)
}
