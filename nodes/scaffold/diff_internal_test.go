package scaffold

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnified(t *testing.T) {
	many := func(n int, prefix string) []string {
		var out []string
		for i := 1; i <= n; i++ {
			out = append(out, prefix+strings.Repeat("x", i))
		}
		return out
	}
	ten := many(10, "l")
	cases := []struct {
		name string
		a, b []string
		want string
	}{
		{"equal", ten, ten, ""},
		{"new_file", nil, []string{"a", "b"}, "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"insert_in_the_middle", ten, append(append(append([]string{}, ten[:5]...), "new"), ten[5:]...),
			"--- a\n+++ b\n@@ -3,6 +3,7 @@\n lxxx\n lxxxx\n lxxxxx\n+new\n lxxxxxx\n lxxxxxxx\n lxxxxxxxx\n"},
		{"change_at_the_start", ten, append([]string{"first"}, ten[1:]...),
			"--- a\n+++ b\n@@ -1,4 +1,4 @@\n-lx\n+first\n lxx\n lxxx\n lxxxx\n"},
		{"two_hunks_far_apart", many(20, "l"), func() []string {
			b := many(20, "l")
			b[1], b[18] = "two", "nineteen"
			return b
		}(), "--- a\n+++ b\n@@ -1,5 +1,5 @@\n lx\n-lxx\n+two\n lxxx\n lxxxx\n lxxxxx\n" +
			"@@ -16,5 +16,5 @@\n" + strings.Join([]string{" " + strings.Repeat("x", 0) + "l" + strings.Repeat("x", 16),
			" l" + strings.Repeat("x", 17), " l" + strings.Repeat("x", 18), "-l" + strings.Repeat("x", 19), "+nineteen",
			" l" + strings.Repeat("x", 20)}, "\n") + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, unified(c.a, c.b, "a", "b"))
		})
	}
}
