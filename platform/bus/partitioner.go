package bus

import "github.com/IBM/sarama"

// NewPartitioner is the partitioner of every Sarama producer of omnibase-infra (the Watermill
// publisher here and the Kafka adapter's producers). A record with a key goes where the Java
// client's default partitioner puts it — toPositive(murmur2(key)) % partitions, murmur2 seeded
// with 0x9747b28c — as franz-go's default partitioner and librdkafka's murmur2_random do, so
// order per key holds whichever of them produced a key's records, and consumers that derive a
// key's partition (Kafka Streams, ksqlDB joins) find it where they look. A record without a key
// goes to a random partition.
//
// WARNING: Sarama's default (sarama.NewHashPartitioner) hashes with FNV-1a and puts most keys on
// another partition than every other client: never leave a producer's Producer.Partitioner unset.
// Sarama's own murmur2 partitioner is used rather than a second copy of the hash here; the
// package's tests hold it to the Java client's vectors.
func NewPartitioner(topic string) sarama.Partitioner { return sarama.NewMurmur2Partitioner(topic) }

var _ sarama.PartitionerConstructor = NewPartitioner
