package readiness_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/nodes/readiness"
)

func TestLevel_names_order_and_json(t *testing.T) {
	for _, l := range readiness.Levels() {
		got, err := readiness.ParseLevel(l.String())
		require.NoError(t, err)
		require.Equal(t, l, got)
	}
	l, err := readiness.ParseLevel("staging")
	require.NoError(t, err)
	require.Less(t, readiness.Development, l)
	require.Less(t, l, readiness.Production)
	_, err = readiness.ParseLevel("excellent")
	require.EqualError(t, err, `level "excellent" is none of NOT_READY, DEVELOPMENT, STAGING, PRODUCTION`)
	b, err := json.Marshal(struct{ Level readiness.Level }{readiness.NotReady})
	require.NoError(t, err)
	require.JSONEq(t, `{"Level":"NOT_READY"}`, string(b))
}

// Every rule's id is "<dimension>.<rule>" of a known dimension, and every dimension has rules
// at DEVELOPMENT or above.
func TestRules_are_named_by_their_dimension(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range readiness.Rules() {
		require.Contains(t, readiness.Dimensions(), r.Dimension(), r.ID)
		require.False(t, seen[r.ID], "%s listed twice", r.ID)
		seen[r.ID] = true
		require.GreaterOrEqual(t, r.Level, readiness.Development, r.ID)
		require.NotEmpty(t, r.Doc, r.ID)
	}
	for _, d := range readiness.Dimensions() {
		n := 0
		for _, r := range readiness.Rules() {
			if r.Dimension() == d {
				n++
			}
		}
		require.Positive(t, n, "dimension %s has rules", d)
	}
}
