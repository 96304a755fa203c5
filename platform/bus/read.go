package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
)

// ReadTopic reads the records of topic from the offsets in from (the start of a partition it does
// not name) up to each partition's end at the time of the call, as Watermill messages (UUID and
// metadata from the headers), in order per partition, and calls fn for each. It returns the
// offsets it stopped at, to read on from next time, and how many records it read.
func ReadTopic(ctx context.Context, brokers []string, sec Security, topic string, from map[int32]int64,
	fn func(*message.Message) error) (ends map[int32]int64, n int64, err error) {
	ends = map[int32]int64{}
	client, err := NewClient(brokers, sec, "omnibase-infra-reader")
	if err != nil {
		return ends, 0, err
	}
	defer client.Close()
	partitions, err := client.Partitions(topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return ends, 0, nil
	}
	if err != nil {
		return ends, 0, fmt.Errorf("could not list the partitions of %s: %w", topic, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return ends, 0, fmt.Errorf("could not create a consumer: %w", err)
	}
	defer consumer.Close()
	for _, p := range partitions {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return ends, n, fmt.Errorf("could not read the end of %s/%d: %w", topic, p, err)
		}
		ends[p] = end
		start, ok := from[p]
		if !ok {
			if start, err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
				return ends, n, fmt.Errorf("could not read the start of %s/%d: %w", topic, p, err)
			}
		}
		if start >= end {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, start)
		if err != nil {
			return ends, n, fmt.Errorf("could not consume %s/%d: %w", topic, p, err)
		}
		err = func() error {
			defer pc.Close()
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case cerr := <-pc.Errors():
					return fmt.Errorf("reading %s/%d: %w", topic, p, cerr)
				case r := <-pc.Messages():
					msg, err := marshaler.Unmarshal(r)
					if err != nil {
						return fmt.Errorf("could not read record %s/%d@%d: %w", topic, p, r.Offset, err)
					}
					n++
					if err := fn(msg); err != nil {
						return err
					}
					if r.Offset+1 >= end {
						return nil
					}
				}
			}
		}()
		if err != nil {
			return ends, n, err
		}
	}
	return ends, n, nil
}
