package audit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func entry(seq int64) Entry {
	return Entry{Seq: seq, At: time.Date(2026, 12, 2, 1, 0, 0, 123456000, time.UTC), Actor: "alice@ops", Action: "command.sent",
		Subject: "postgres/orders", Outcome: "sent", Detail: map[string]string{"b": "2", "a": "1"}}
}

// Every field is in the leaf, the place included; the map's order is not.
func TestLeaf_changes_with_every_field_and_only_with_them(t *testing.T) {
	base := entry(3)
	require.Equal(t, base.Leaf(), entry(3).Leaf())
	again := entry(3)
	again.Detail = map[string]string{"a": "1", "b": "2"}
	require.Equal(t, base.Leaf(), again.Leaf())
	again.At = again.At.In(time.FixedZone("x", 3600))
	require.Equal(t, base.Leaf(), again.Leaf(), "the same instant in another zone")
	for name, change := range map[string]func(*Entry){
		"seq": func(e *Entry) { e.Seq++ }, "at": func(e *Entry) { e.At = e.At.Add(time.Microsecond) },
		"actor": func(e *Entry) { e.Actor += "x" }, "action": func(e *Entry) { e.Action += "x" },
		"subject": func(e *Entry) { e.Subject += "x" }, "outcome": func(e *Entry) { e.Outcome += "x" },
		"detail": func(e *Entry) { e.Detail = map[string]string{"a": "1", "b": "3"} },
	} {
		e := entry(3)
		change(&e)
		require.NotEqual(t, base.Leaf(), e.Leaf(), name)
	}
}

func TestCheckEntries_names_how_an_entry_is_wrong(t *testing.T) {
	log := func(n int) []stored {
		out := make([]stored, n)
		for i := range out {
			e := entry(int64(i + 1))
			e.Subject = string(rune('a' + i))
			out[i] = stored{Entry: e, leaf: e.Leaf()}
		}
		return out
	}
	require.Nil(t, checkEntries(log(6)))

	l := log(6)
	l[2].Actor = "mallory"
	require.Equal(t, &Problem{Kind: Changed, Seq: 3, Why: "entry 3 (command.sent by mallory) no longer hashes to its leaf"}, checkEntries(l))

	l = log(6)
	l = append(l[:3], l[4:]...)
	require.Equal(t, Missing, checkEntries(l).Kind)
	require.Equal(t, int64(4), checkEntries(l).Seq)

	l = log(6)
	l[1].Entry, l[1].leaf, l[4].Entry, l[4].leaf = l[4].Entry, l[4].leaf, l[1].Entry, l[1].leaf
	l[1].Seq, l[4].Seq = 2, 5
	require.Equal(t, Reordered, checkEntries(l).Kind)
	require.Equal(t, int64(2), checkEntries(l).Seq)
}
