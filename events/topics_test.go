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
