package bus_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/platform/bus"
)

func TestMembership_Validate(t *testing.T) {
	cases := map[string]struct {
		m    bus.Membership
		want string
	}{
		"defaults":                   {m: bus.Membership{}},
		"static_member":              {m: bus.Membership{InstanceID: "omni-0.sagas_1"}},
		"instance_id_with_a_space":   {m: bus.Membership{InstanceID: "omni 0"}, want: `instance id "omni 0"`},
		"heartbeat_too_slow":         {m: bus.Membership{SessionTimeout: 2 * time.Second}, want: "heartbeat interval 1s is not under a third"},
		"negative_session_timeout":   {m: bus.Membership{SessionTimeout: -time.Second}, want: "must not be negative"},
		"heartbeat_a_third_or_under": {m: bus.Membership{SessionTimeout: 3 * time.Second, HeartbeatInterval: time.Second}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.m.Validate()
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.want)
		})
	}
}
