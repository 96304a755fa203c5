package consul

// The pure parts, for the tests of package consul_test.
var (
	SnapshotOf     = snapshotOf
	KVChanges      = kvChanges
	InstancesOf    = instancesOf
	ServiceChanges = serviceChanges
	BuildCheck     = buildCheck
	NextIndex      = nextIndex
	ErrNoLeader    = errNoLeader
)
