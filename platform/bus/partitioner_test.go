package bus_test

import (
	"math"
	"testing"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/bus"
)

// javaMurmur2 are the hashes of Kafka's own test of its murmur2
// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2), as the Java
// int they are there.
var javaMurmur2 = []struct {
	name string
	key  []byte
	hash int32
}{
	{"two_bytes", []byte("21"), -973932308},
	{"six_bytes", []byte("foobar"), -790332482},
	{"twenty_four_bytes", []byte("a-little-bit-long-string"), -985981536},
	{"twenty_six_bytes", []byte("a-little-bit-longer-string"), -1486304829},
	{"forty_eight_bytes", []byte("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971},
	{"three_bytes", []byte{'a', 'b', 'c'}, 479470107},
}

// javaPartition is what the Java client's default partitioner does with a key's hash:
// Utils.toPositive(murmur2(keyBytes)) % numPartitions, toPositive being & 0x7fffffff.
func javaPartition(hash int32, partitions int32) int32 { return (hash & 0x7fffffff) % partitions }

func partitionOf(t *testing.T, key sarama.Encoder, partitions int32) int32 {
	t.Helper()
	p, err := bus.NewPartitioner("orders").Partition(&sarama.ProducerMessage{Topic: "orders", Key: key}, partitions)
	require.NoError(t, err)
	return p
}

func TestPartitioner_puts_keys_where_the_java_client_does(t *testing.T) {
	for _, tc := range javaMurmur2 {
		t.Run(tc.name, func(t *testing.T) {
			// With 2^31-1 partitions the partition is the positive hash itself (but for the one hash
			// equal to it), so this compares the hash, not only its remainder.
			for _, n := range []int32{1, 2, 3, 6, 7, 12, 100, 1000, math.MaxInt32} {
				require.Equal(t, javaPartition(tc.hash, n), partitionOf(t, sarama.ByteEncoder(tc.key), n), "%d partitions", n)
				require.Equal(t, javaPartition(tc.hash, n), partitionOf(t, sarama.StringEncoder(tc.key), n),
					"a key is its bytes, whatever its encoder")
			}
		})
	}
}

// The partitions the Java producer chose for these keys among 1000 partitions, as kafka-python
// recorded them to check its own murmur2 partitioner against Java's (test_partitioner.py,
// test_murmur2_java_compatibility). The empty key is a key: Java hashes it.
func TestPartitioner_matches_partitions_recorded_from_the_java_producer(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
		want int32
	}{
		{"empty", []byte{}, 681},
		{"one_byte", []byte("a"), 524},
		{"two_bytes", []byte("ab"), 434},
		{"three_bytes", []byte("abc"), 107},
		{"nine_bytes", []byte("123456789"), 566},
		{"binary", []byte{0x00, ' '}, 742},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, partitionOf(t, sarama.ByteEncoder(tc.key), 1000))
		})
	}
}

func TestPartitioner_keyed_records_need_their_partition_and_unkeyed_ones_go_anywhere(t *testing.T) {
	p := bus.NewPartitioner("orders")
	dynamic, ok := p.(sarama.DynamicConsistencyPartitioner)
	require.True(t, ok, "Sarama may only move a record without a key to another partition")
	require.True(t, p.RequiresConsistency())
	require.True(t, dynamic.MessageRequiresConsistency(&sarama.ProducerMessage{Key: sarama.StringEncoder("order-7")}))
	require.False(t, dynamic.MessageRequiresConsistency(&sarama.ProducerMessage{}))

	seen := map[int32]bool{}
	for range 200 {
		got, err := p.Partition(&sarama.ProducerMessage{Topic: "orders"}, 6)
		require.NoError(t, err)
		require.GreaterOrEqual(t, got, int32(0))
		require.Less(t, got, int32(6))
		seen[got] = true
	}
	require.Greater(t, len(seen), 1, "records without a key are spread, not all on one partition")
}
