package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/IBM/sarama"

	"github.com/omninode/omnibase-infra/events"
)

var (
	// errBadCommand marks a command that can never succeed as given.
	errBadCommand = errors.New("bad command")
	// errConflict marks an EnsureTopic whose topic exists with another shape.
	errConflict = errors.New("conflict")
)

// transient reports whether err may go away by itself: the cluster or a partition leader cannot
// be reached, a request timed out, there are not enough in-sync replicas yet. A request Kafka
// refused for what it is (too large, invalid topic, not authorized, conflicting topic) is not.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, errBadCommand) || errors.Is(err, errConflict) {
		return false
	}
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrLeaderNotAvailable, sarama.ErrNotLeaderForPartition, sarama.ErrRequestTimedOut,
			sarama.ErrBrokerNotAvailable, sarama.ErrReplicaNotAvailable, sarama.ErrNetworkException,
			sarama.ErrNotEnoughReplicas, sarama.ErrNotEnoughReplicasAfterAppend, sarama.ErrNotController,
			sarama.ErrNotCoordinatorForConsumer, sarama.ErrOffsetsLoadInProgress, sarama.ErrKafkaStorageError,
			sarama.ErrUnknownTopicOrPartition:
			return true
		}
		return false
	}
	for _, target := range []error{sarama.ErrOutOfBrokers, sarama.ErrNotConnected, sarama.ErrClosedClient,
		sarama.ErrControllerNotAvailable, sarama.ErrShuttingDown, io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// topicDiff names every way have differs from what want asks for: partitions, replication factor
// and each config want sets (configs it does not set are left alone).
func topicDiff(have topicShape, want events.KafkaEnsureTopic) []string {
	var out []string
	if have.Partitions != want.Partitions {
		out = append(out, fmt.Sprintf("it has %d partitions, the command wants %d", have.Partitions, want.Partitions))
	}
	if have.ReplicationFactor != want.ReplicationFactor {
		out = append(out, fmt.Sprintf("its replication factor is %d, the command wants %d", have.ReplicationFactor, want.ReplicationFactor))
	}
	keys := make([]string, 0, len(want.Configs))
	for k := range want.Configs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got, ok := have.Configs[k]; !ok {
			out = append(out, fmt.Sprintf("config %s is not set, the command wants %q", k, want.Configs[k]))
		} else if got != want.Configs[k] {
			out = append(out, fmt.Sprintf("config %s is %q, the command wants %q", k, got, want.Configs[k]))
		}
	}
	return out
}

func joinDiffs(diffs []string) string { return strings.Join(diffs, "; ") }
