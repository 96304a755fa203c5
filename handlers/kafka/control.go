package kafka

import "fmt"

// AllowControlTopicsFlag is the omni flag that sets Config.AllowControlTopics; a refused publish
// names it, so the one who sent it knows what would allow it.
const AllowControlTopicsFlag = "kafka-allow-control-topics"

// refuseControlTopic refuses a publish to a control topic unless the configuration allows it.
// Everything the loop reads from those topics is written through the outbox, in the transaction
// that made it, and into the event log; a record the adapter wrote there would be read by the
// projection, the sagas or an adapter as if the loop had written it, with no row behind it.
// Every target is guarded, not only the control bus: the adapter cannot tell which cluster that
// is (the same cluster answers at other addresses too). The refusal is a bad command: it fails
// at once, is not retried and does not count against the target's breaker.
func refuseControlTopic(cfg Config, topic string) error {
	if cfg.AllowControlTopics || !cfg.ControlTopics.IsControl(topic) {
		return nil
	}
	return fmt.Errorf("%w: topic %q is a control topic of this omnibase-infra; publishing to it from the kafka adapter "+
		"would bypass the outbox (allow it with --%s)", errBadCommand, topic, AllowControlTopicsFlag)
}
