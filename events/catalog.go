package events

// Catalog returns a registry of every message type this version of omnibase-infra knows.
func Catalog() *Registry {
	var all []Message
	for _, c := range Commands() {
		all = append(all, c)
	}
	return NewRegistry(append(all,
		AdapterHealthReported{},
		CircuitBreakerStateChanged{},
		ConnectionPoolStatsReported{},
		InfrastructureHealthDegraded{},
		InfrastructureHealthCritical{},
		CircuitBreakerOpened{},
		FailoverRequired{},
		ConnectionPoolExhausted{},
		RecoveryInitiated{},
		CommandSucceeded{},
		CommandFailed{},
		CommandRejected{},
		ConsulKVChanged{},
		ConsulServiceChanged{},
	)...)
}

// Commands returns a prototype of every command.
func Commands() []Command {
	return []Command{
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
	}
}
