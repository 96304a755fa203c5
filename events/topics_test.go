package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
)

func TestDefaultTopics_are_the_documented_names(t *testing.T) {
	topics := events.DefaultTopics()

	require.NoError(t, topics.Validate())
	require.Equal(t, "infra.events", topics.Events)
	require.Equal(t, "infra.intents", topics.Intents)
	require.Equal(t, "infra.commands.postgres", topics.Commands(events.AdapterPostgres))
	require.Equal(t, "infrastate-projection.poison", topics.Poison("infrastate-projection"))
}

func TestTopics_Validate_names_every_empty_field(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*events.Topics)
		wantErrs []string
	}{
		{name: "events", mutate: func(tp *events.Topics) { tp.Events = "" }, wantErrs: []string{"topic events is empty"}},
		{name: "intents", mutate: func(tp *events.Topics) { tp.Intents = "" }, wantErrs: []string{"topic intents is empty"}},
		{name: "commands_prefix", mutate: func(tp *events.Topics) { tp.CommandsPrefix = "" }, wantErrs: []string{"topic commands prefix is empty"}},
		{name: "poison_suffix", mutate: func(tp *events.Topics) { tp.PoisonSuffix = "" }, wantErrs: []string{"topic poison suffix is empty"}},
		{
			name:   "all",
			mutate: func(tp *events.Topics) { *tp = events.Topics{} },
			wantErrs: []string{
				"topic events is empty", "topic intents is empty", "topic commands prefix is empty", "topic poison suffix is empty",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topics := events.DefaultTopics()
			tt.mutate(&topics)

			err := topics.Validate()
			require.Error(t, err)
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
			if len(tt.wantErrs) == 1 {
				require.EqualError(t, err, tt.wantErrs[0], "only the empty field is reported")
			}
		})
	}
}

func TestTopics_IsControl_names_the_loops_own_topics(t *testing.T) {
	topics := events.DefaultTopics()
	for _, tc := range []struct {
		name  string
		topic string
		want  bool
	}{
		{"events", "infra.events", true},
		{"intents", "infra.intents", true},
		{"a_commands_topic", "infra.commands.consul", true},
		{"a_poison_topic", "saga-replies.poison", true},
		{"a_topic_of_a_target", "orders", false},
		{"a_longer_name_than_events", "infra.events-archive", false},
		{"the_commands_prefix_without_its_dot", "infra.commands", false},
		{"the_poison_suffix_inside_a_name", "orders.poison-archive", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, topics.IsControl(tc.topic))
		})
	}
}
