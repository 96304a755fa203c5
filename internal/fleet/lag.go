package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// GroupLag is how far one consumer group is behind on one topic, summed over its partitions.
type GroupLag struct {
	Group string `json:"group"`
	Topic string `json:"topic"`
	Lag   int64  `json:"lag"`
	// State is the group's state ("Stable", …), or "error: …" when its lag could not be read.
	State string `json:"state,omitempty"`
	// Err is why the group's lag could not be read (its row has no topic), else nil.
	Err error `json:"-"`
}

// GroupLags reads every consumer group's lag from the brokers (kadm: the committed offsets
// against the partitions' ends), by group and topic. A group whose lag could not be read is one
// row with its Err; the error returned is the brokers'.
func GroupLags(ctx context.Context, kafka *kgo.Client) ([]GroupLag, error) {
	adm := kadm.NewClient(kafka)
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("could not list the consumer groups: %w", err)
	}
	lags, err := adm.Lag(ctx, listed.Groups()...)
	if err != nil {
		return nil, fmt.Errorf("could not read the consumer groups' lag: %w", err)
	}
	out := []GroupLag{}
	for _, g := range lags.Sorted() {
		if err := g.Error(); err != nil {
			out = append(out, GroupLag{Group: g.Group, State: "error: " + err.Error(), Err: err})
			continue
		}
		for topic, total := range g.Lag.TotalByTopic() {
			out = append(out, GroupLag{Group: g.Group, Topic: topic, Lag: total.Lag, State: g.State})
		}
	}
	slices.SortFunc(out, func(a, b GroupLag) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Topic, b.Topic)
	})
	return out, nil
}
