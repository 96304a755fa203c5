package sagas

import (
	"fmt"
	"strings"

	"github.com/omninode/omnibase-infra/events"
)

// What the workflows' steps share: sending a command to each of a list of targets and reading
// the replies. Each takes the targets from the workflow's own state.

// splitID splits an adapter id, "postgres/control", into adapter and target.
func splitID(adapterID string) (adapter, target string) {
	adapter, target, _ = strings.Cut(adapterID, "/")
	return adapter, target
}

// toEach sends one command, made by cmd, to each target of targets (adapter ids). With no target
// there is nothing to wait for, and the step fails.
func toEach(targets []string, cmd func(adapter, target string) events.Command) ([]events.Command, Outcome) {
	var out []events.Command
	for _, id := range targets {
		adapter, target := splitID(id)
		out = append(out, cmd(adapter, target))
	}
	return out, Outcome{Verdict: Fail, Reason: "no targets to send to"}
}

// probe is the command a health check sends to a target.
func probe(adapter, target string) events.Command {
	return events.ProbeTarget{Adapter: adapter, Target: target}
}

// allSucceeded is done when every target's command succeeded, and fails naming each one that did
// not, or did not answer.
func allSucceeded(targets []string, replies map[string]Reply) Outcome {
	if problems := failures(targets, replies); len(problems) > 0 {
		return Outcome{Verdict: Fail, Reason: strings.Join(problems, "; ")}
	}
	return Outcome{Verdict: Next, Reason: fmt.Sprintf("%d of %d succeeded", len(replies), len(targets))}
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
