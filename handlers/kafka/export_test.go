package kafka

// The pure parts, for the tests of package kafka_test.
type TopicShape = topicShape

var (
	TopicDiff       = topicDiff
	ProducerMessage = producerMessage
)

// ProducerStatsDetails are a probe's producer details for the given counts.
func ProducerStatsDetails(publishes, errors int64) map[string]string {
	return producerStats{publishes: publishes, errors: errors}.details()
}
