package bus

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/IBM/sarama"
)

// Membership is how the consumers of one process take part in their consumer groups.
type Membership struct {
	// InstanceID, when set, makes each consumer of the process a static member of its group
	// (KIP-345) under this id: a process restarted with the same id takes its partitions back at
	// once, instead of waiting until the broker gives up on the member it was (SessionTimeout).
	// One id per process, stable across its restarts (a StatefulSet pod's name, a host's name).
	// WARNING: two live processes with one id fence each other out of their groups; and a static
	// member that stops does not leave its groups, so its partitions wait for its return or for
	// SessionTimeout. Optional; default none (dynamic members, which leave on a graceful stop).
	InstanceID string
	// SessionTimeout is how long the broker waits for a member's heartbeat before it gives that
	// member's partitions to the others. Default 10s.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member heartbeats; it is also how soon a running member
	// hears of a rebalance (a new member, one leaving) and rejoins. Default 1s; under a third of
	// SessionTimeout.
	HeartbeatInterval time.Duration
}

// DefaultSessionTimeout is Membership.SessionTimeout's default.
const DefaultSessionTimeout = 10 * time.Second

// RebalanceTimeout is how long a rebalance waits for the group's members to rejoin: how long a
// member has to finish what it consumed (a projection batch) when partitions move, and the
// longest a new member waits for one that died without leaving.
const RebalanceTimeout = 10 * time.Second

// instanceIDChars is what Kafka accepts in a group instance id.
var instanceIDChars = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func (m *Membership) setDefaults() {
	if m.SessionTimeout == 0 {
		m.SessionTimeout = DefaultSessionTimeout
	}
	if m.HeartbeatInterval == 0 {
		m.HeartbeatInterval = time.Second
	}
}

// DefaultMembership shows Membership's defaults.
func DefaultMembership() Membership {
	var m Membership
	m.setDefaults()
	return m
}

// Validate reports every problem of the membership, its defaults applied.
func (m Membership) Validate() error {
	m.setDefaults()
	var errs []error
	if m.InstanceID != "" && !instanceIDChars.MatchString(m.InstanceID) {
		errs = append(errs, fmt.Errorf("instance id %q: only letters, digits, '.', '_' and '-', at most 249", m.InstanceID))
	}
	if m.SessionTimeout < 0 || m.HeartbeatInterval < 0 {
		errs = append(errs, errors.New("session timeout and heartbeat interval must not be negative"))
	}
	if m.HeartbeatInterval*3 > m.SessionTimeout {
		errs = append(errs, fmt.Errorf("heartbeat interval %s is not under a third of the session timeout %s",
			m.HeartbeatInterval, m.SessionTimeout))
	}
	return errors.Join(errs...)
}

// apply sets the membership on a consumer's Sarama configuration.
func (m Membership) apply(cfg *sarama.Config) {
	m.setDefaults()
	cfg.Consumer.Group.Rebalance.Timeout = RebalanceTimeout
	cfg.Consumer.Group.Session.Timeout = m.SessionTimeout
	cfg.Consumer.Group.Heartbeat.Interval = m.HeartbeatInterval
	cfg.Consumer.Group.InstanceId = m.InstanceID
}
