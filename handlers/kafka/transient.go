package kafka

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/IBM/sarama"
)

var (
	// errBadCommand marks a command that can never succeed as given.
	errBadCommand = errors.New("bad command")
	// errConflict marks an EnsureTopic whose topic exists with another shape.
	errConflict = errors.New("conflict")
)

// retriableCodes are the broker's error codes that Kafka's own clients retry (their
// RetriableException subclasses): no leader or controller yet, a request timed out, not enough
// in-sync replicas, a topic still being created.
var retriableCodes = map[sarama.KError]bool{
	sarama.ErrUnknownTopicOrPartition: true, sarama.ErrLeaderNotAvailable: true,
	sarama.ErrNotLeaderForPartition: true, sarama.ErrRequestTimedOut: true,
	sarama.ErrBrokerNotAvailable: true, sarama.ErrReplicaNotAvailable: true,
	sarama.ErrNetworkException: true, sarama.ErrOffsetsLoadInProgress: true,
	sarama.ErrConsumerCoordinatorNotAvailable: true, sarama.ErrNotCoordinatorForConsumer: true,
	sarama.ErrNotEnoughReplicas: true, sarama.ErrNotEnoughReplicasAfterAppend: true,
	sarama.ErrNotController: true, sarama.ErrConcurrentTransactions: true,
	sarama.ErrKafkaStorageError: true, sarama.ErrListenerNotFound: true,
	sarama.ErrFencedLeaderEpoch: true, sarama.ErrUnknownLeaderEpoch: true,
	sarama.ErrOffsetNotAvailable: true, sarama.ErrPreferredLeaderNotAvailable: true,
	sarama.ErrThrottlingQuotaExceeded: true,
}

// transientErrors are the client-side errors of a cluster that cannot be reached or answered
// too late.
var transientErrors = []error{
	sarama.ErrOutOfBrokers, sarama.ErrNotConnected, sarama.ErrClosedClient, sarama.ErrBrokerNotFound,
	sarama.ErrControllerNotAvailable, sarama.ErrShuttingDown, io.EOF, io.ErrUnexpectedEOF,
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, syscall.EHOSTUNREACH,
	syscall.ENETUNREACH, context.DeadlineExceeded,
}

// transient reports whether err may go away by itself: the cluster or a partition leader cannot
// be reached, a request timed out, there are not enough in-sync replicas yet. A request Kafka
// refused for what it is (too large, invalid topic, not authorized, invalid config or
// replication factor), a bad command and a conflicting topic are not; neither is anything
// unknown.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, errBadCommand) || errors.Is(err, errConflict) {
		return false
	}
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		return retriableCodes[kerr]
	}
	for _, target := range transientErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}
