package sagas

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omninode/omnibase-infra/events"
)

// splitID splits an adapter id, "postgres/control", into adapter and target.
func splitID(adapterID string) (adapter, target string) {
	adapter, target, _ = strings.Cut(adapterID, "/")
	return adapter, target
}

// toEach returns an Enter that sends one command, made by cmd, to each of the saga's targets.
func toEach(cmd func(s *Saga, adapter, target string) events.Command) func(*Saga, View, time.Time) ([]events.Command, Outcome) {
	return func(s *Saga, _ View, _ time.Time) ([]events.Command, Outcome) {
		var out []events.Command
		for _, id := range s.Data.Targets {
			adapter, target := splitID(id)
			out = append(out, cmd(s, adapter, target))
		}
		return out, Outcome{Verdict: Fail, Reason: "no targets to send to"}
	}
}

// allSucceeded is a Finish that is done when every target's command succeeded, and fails naming
// each one that did not, or did not answer.
func allSucceeded(s *Saga, replies map[string]Reply, _ bool, _ time.Time) Outcome {
	if problems := failures(s.Data.Targets, replies); len(problems) > 0 {
		return Outcome{Verdict: Fail, Reason: strings.Join(problems, "; ")}
	}
	return Outcome{Verdict: Next, Reason: fmt.Sprintf("%d of %d succeeded", len(replies), len(s.Data.Targets))}
}

// failures describes each target whose reply is missing or not a success.
func failures(targets []string, replies map[string]Reply) []string {
	var out []string
	for _, id := range targets {
		r, ok := replies[id]
		switch {
		case !ok:
			out = append(out, id+": no reply")
		case r.Outcome != ReplySucceeded:
			out = append(out, fmt.Sprintf("%s: %s: %s", id, r.Outcome, r.Error))
		}
	}
	return out
}

// probeVerdict reads a probe_target reply: healthy, unhealthy (with why) or, with no reply,
// unknown.
func probeVerdict(r Reply, ok bool) (events.ProbeVerdict, string) {
	if !ok {
		return events.ProbeUnknown, ""
	}
	if r.Outcome != ReplySucceeded {
		return events.ProbeUnhealthy, r.Error
	}
	res, err := events.DecodeResult[events.ProbeResult](r.Result)
	if err != nil {
		return events.ProbeUnknown, err.Error()
	}
	if !res.Healthy {
		return events.ProbeUnhealthy, res.Error
	}
	return events.ProbeHealthy, ""
}

// probeTargets is an Enter that probes every target of the saga.
func probeTargets(s *Saga, v View, now time.Time) ([]events.Command, Outcome) {
	return toEach(func(_ *Saga, adapter, target string) events.Command {
		return events.ProbeTarget{Adapter: adapter, Target: target}
	})(s, v, now)
}

// readTargets makes the saga's targets every target the projection knows (of adapter, when given),
// and remembers their states.
func readTargets(s *Saga, v View, adapter string) int {
	s.Data.Targets, s.Data.States = nil, map[string]events.Status{}
	for _, t := range v.Targets {
		if adapter == "" || t.Adapter == adapter {
			s.Data.Targets = append(s.Data.Targets, t.ID())
			s.Data.States[t.ID()] = t.Status
		}
	}
	slices.Sort(s.Data.Targets)
	return len(s.Data.Targets)
}
