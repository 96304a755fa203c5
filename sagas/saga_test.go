package sagas_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/sagas"
)

func TestStatus_Known(t *testing.T) {
	tests := []struct {
		status sagas.Status
		want   bool
	}{
		{sagas.StatusRunning, true},
		{sagas.StatusCompleted, true},
		{sagas.StatusFailed, true},
		{sagas.StatusCompensated, true},
		{sagas.StatusEscalated, true},
		{"done", false},
		{"Running", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run("status_"+string(tt.status), func(t *testing.T) {
			require.Equal(t, tt.want, tt.status.Known())
		})
	}
	require.Len(t, sagas.Statuses(), 5)
}
