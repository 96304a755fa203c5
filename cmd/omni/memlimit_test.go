package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSize_reads_what_GOMEMLIMIT_writes(t *testing.T) {
	for in, want := range map[string]int64{"40MiB": 40 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "1000B": 1000, "500000000": 500000000} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "40MB", "lots"} {
		_, err := parseSize(bad)
		require.ErrorContains(t, err, "want a positive size", bad)
	}
}
