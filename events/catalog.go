package events

// Upcasters read the older versions of message types that omnibase-infra once wrote.
func Upcasters() []Upcaster {
	return []Upcaster{
		{Old: AdapterHealthReportedV1{}, Up: func(m Message) Message { return m.(AdapterHealthReportedV1).up() }},
	}
}

// Catalog returns a registry of every message type this version of omnibase-infra knows, and the
// upcasters of their older versions.
func Catalog() *Registry {
	var all []Message
	for _, c := range Commands() {
		all = append(all, c)
	}
	return NewRegistry(append(all,
		AdapterHealthReported{},
		CircuitBreakerStateChanged{},
		TargetOwnershipChanged{},
		AuditCheckpointed{},
		SecurityEventRecorded{},
		ConnectionPoolStatsReported{},
		InfrastructureHealthDegraded{},
		InfrastructureHealthCritical{},
		CircuitBreakerOpened{},
		FailoverRequired{},
		ConnectionPoolExhausted{},
		RecoveryInitiated{},
		InitializationRequested{},
		InfrastructureHealthReported{},
		FailoverFailed{},
		InitializationReported{},
		CommandSucceeded{},
		CommandFailed{},
		CommandRejected{},
		ConsulKVChanged{},
		ConsulServiceChanged{},
	)...).WithUpcasters(Upcasters()...)
}

// Commands returns a prototype of every command.
func Commands() []Command {
	return []Command{
		ProbeTarget{},
		OpenBreaker{},
		CloseBreaker{},
		RecoverTarget{},
		InitializeTarget{},
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
