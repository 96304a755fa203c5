package kafka

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"

	"github.com/IBM/sarama"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/effect"
)

// CommandIDHeader is the record header Publish sets to the id of the command that produced the
// record. A Publish can produce its record more than once (a retry after a produce that timed out
// but landed, or a command redelivered after producing but before its outcome committed); every
// copy carries the same id, so consumers can drop the repeats.
const CommandIDHeader = "omni_command_id"

func (c *cluster) publish(ctx context.Context, cmd events.KafkaPublish) (res events.KafkaPublishResult, err error) {
	if err := refuseControlTopic(c.cfg, cmd.Topic); err != nil {
		return res, err
	}
	msg, err := producerMessage(cmd, effect.CommandID(ctx))
	if err != nil {
		return res, err
	}
	c.publishes.Add(1)
	defer func() {
		if err != nil {
			c.failures.Add(1)
		}
	}()
	cn, done, err := c.connect()
	if err != nil {
		return res, err
	}
	defer done()
	producer, err := cn.acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("could not publish to %s on kafka target %q: %w", cmd.Topic, c.name, err)
	}
	defer cn.release(producer)
	partition, offset, err := producer.SendMessage(msg)
	if err != nil {
		return res, fmt.Errorf("could not publish to %s on kafka target %q: %w", cmd.Topic, c.name, err)
	}
	return events.KafkaPublishResult{Topic: cmd.Topic, Partition: partition, Offset: offset}, nil
}

// producerMessage is the record cmd asks for, with the command's id as the CommandIDHeader
// header when commandID is given. Headers are in key order.
func producerMessage(cmd events.KafkaPublish, commandID string) (*sarama.ProducerMessage, error) {
	value, err := payload(cmd)
	if err != nil {
		return nil, err
	}
	if _, ok := cmd.Headers[CommandIDHeader]; ok {
		return nil, fmt.Errorf("%w: header %s is set by the adapter", errBadCommand, CommandIDHeader)
	}
	msg := &sarama.ProducerMessage{Topic: cmd.Topic, Value: sarama.ByteEncoder(value)}
	if cmd.RecordKey != "" {
		msg.Key = sarama.StringEncoder(cmd.RecordKey)
	}
	keys := make([]string, 0, len(cmd.Headers))
	for k := range cmd.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(cmd.Headers[k])})
	}
	if commandID != "" {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(CommandIDHeader), Value: []byte(commandID)})
	}
	return msg, nil
}

// payload is the record's value: Payload as it is, or decoded from standard, padded base64
// (RFC 4648 §4) when Base64 is set.
func payload(cmd events.KafkaPublish) ([]byte, error) {
	if !cmd.Base64 {
		return []byte(cmd.Payload), nil
	}
	value, err := base64.StdEncoding.DecodeString(cmd.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64: %w", errBadCommand, err)
	}
	return value, nil
}
