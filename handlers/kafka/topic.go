package kafka

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/IBM/sarama"

	"github.com/omninode/omnibase-infra/events"
)

// ensureTopic creates the topic when it is missing, and otherwise compares it with what cmd asks
// for. It describes before creating so that a principal without the right to create topics can
// still ensure one that exists; a topic created by someone else in between is compared too.
func (c *cluster) ensureTopic(cmd events.KafkaEnsureTopic) (events.KafkaEnsureTopicResult, error) {
	res := events.KafkaEnsureTopicResult{Topic: cmd.Topic}
	cn, done, err := c.connect()
	if err != nil {
		return res, err
	}
	defer done()
	have, found, err := describeTopic(cn.admin, cmd.Topic, cmd.Configs)
	if err != nil {
		return res, err
	}
	if !found {
		err = cn.admin.CreateTopic(cmd.Topic, &sarama.TopicDetail{
			NumPartitions: cmd.Partitions, ReplicationFactor: cmd.ReplicationFactor, ConfigEntries: configEntries(cmd.Configs),
		}, false)
		if err == nil {
			res.Created = true
			return res, nil
		}
		if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return res, fmt.Errorf("could not create topic %s: %w", cmd.Topic, err)
		}
		if have, found, err = describeTopic(cn.admin, cmd.Topic, cmd.Configs); err != nil {
			return res, err
		}
		if !found {
			return res, fmt.Errorf("topic %s was created and deleted again meanwhile: %w", cmd.Topic, sarama.ErrUnknownTopicOrPartition)
		}
	}
	if diffs := topicDiff(have, cmd); len(diffs) > 0 {
		return res, fmt.Errorf("%w: topic %s exists and differs: %s", errConflict, cmd.Topic, strings.Join(diffs, "; "))
	}
	return res, nil
}

// topicShape is what EnsureTopic compares.
type topicShape struct {
	Partitions        int32
	ReplicationFactor int16
	// Configs holds the values of the configs asked about only.
	Configs map[string]string
}

// describeTopic returns the shape of topic with the values of the configs named in wanted, or
// found false when the topic does not exist. It never creates the topic.
func describeTopic(admin sarama.ClusterAdmin, topic string, wanted map[string]string) (shape topicShape, found bool, err error) {
	meta, err := admin.DescribeTopics([]string{topic})
	if err == nil && len(meta) != 1 {
		err = fmt.Errorf("%w: %d topics in the answer", sarama.ErrIncompleteResponse, len(meta))
	}
	if err != nil {
		return shape, false, fmt.Errorf("could not describe topic %s: %w", topic, err)
	}
	switch {
	case errors.Is(meta[0].Err, sarama.ErrUnknownTopicOrPartition):
		return shape, false, nil
	case !errors.Is(meta[0].Err, sarama.ErrNoError):
		return shape, false, fmt.Errorf("could not describe topic %s: %w", topic, meta[0].Err)
	}
	shape = topicShape{Partitions: int32(len(meta[0].Partitions)), Configs: map[string]string{}}
	if len(meta[0].Partitions) > 0 {
		shape.ReplicationFactor = int16(len(meta[0].Partitions[0].Replicas))
	}
	if len(wanted) == 0 {
		return shape, true, nil
	}
	names := make([]string, 0, len(wanted))
	for k := range wanted {
		names = append(names, k)
	}
	slices.Sort(names)
	results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic, ConfigNames: names}},
		sarama.DescribeConfigsOptions{})
	if err == nil && len(results) == 1 && !errors.Is(results[0].ErrorCode, sarama.ErrNoError) {
		err = fmt.Errorf("%w: %s", results[0].ErrorCode, results[0].ErrorMsg)
	}
	if err != nil {
		return shape, false, fmt.Errorf("could not describe the configs of topic %s: %w", topic, err)
	}
	for _, r := range results {
		for _, e := range r.Configs {
			shape.Configs[e.Name] = e.Value
		}
	}
	return shape, true, nil
}

func configEntries(configs map[string]string) map[string]*string {
	if len(configs) == 0 {
		return nil
	}
	out := make(map[string]*string, len(configs))
	for k, v := range configs {
		out[k] = &v
	}
	return out
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
