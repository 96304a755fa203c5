package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/internal/command"
	"github.com/omninode/omnibase-infra/outbox"
	"github.com/omninode/omnibase-infra/platform/ratelimit"
)

// limitedSender sends inserts into rl_effects on the control database's "control" target (or
// another), each tagged, as a named client would with omni cmd: through the outbox, with its
// command.sent audit entry naming the client.
type limitedSender struct {
	t  *testing.T
	db *pgxpool.Pool
	// tags are the tag of every command sent, by command id.
	mu   sync.Mutex
	tags map[string]string
	seq  int
}

func newLimitedSender(t *testing.T, db *pgxpool.Pool) *limitedSender {
	t.Helper()
	_, err := db.Exec(context.Background(), `CREATE TABLE rl_effects (tag text NOT NULL)`)
	require.NoError(t, err)
	return &limitedSender{t: t, db: db, tags: map[string]string{}}
}

// send sends n commands from client to target and returns their ids.
func (s *limitedSender) send(client, target string, n int) []string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ids []string
	for range n {
		s.seq++
		tag := fmt.Sprintf("%s-%s-%d", client, target, s.seq)
		arg, _ := json.Marshal(tag)
		cmd := events.PostgresExecute{On: events.On{Target: target},
			Statement: events.Statement{SQL: `INSERT INTO rl_effects (tag) VALUES ($1)`, Args: []json.RawMessage{arg}}}
		id, err := command.Send(ctx, s.db, sealerOf(s.t, s.db), events.DefaultTopics(), cmd, events.NewOrigin(), client)
		require.NoError(s.t, err)
		s.mu.Lock()
		s.tags[id] = tag
		s.mu.Unlock()
		ids = append(ids, id)
	}
	return ids
}

// outcomes waits until every command of ids has its record, and returns its status and detail
// by id.
func (s *limitedSender) outcomes(ids []string) map[string]commandOutcome {
	s.t.Helper()
	out := map[string]commandOutcome{}
	eventually(s.t, 90*time.Second, fmt.Sprintf("an outcome for each of %d commands", len(ids)), func() (bool, string, error) {
		rows, err := s.db.Query(context.Background(), `SELECT command_id, outcome->>'status', coalesce(outcome->>'detail', '')
			FROM processed_commands WHERE command_id = ANY($1)`, ids)
		if err != nil {
			return false, "", err
		}
		defer rows.Close()
		clear(out)
		for rows.Next() {
			var id string
			var o commandOutcome
			if err := rows.Scan(&id, &o.status, &o.detail); err != nil {
				return false, "", err
			}
			out[id] = o
		}
		return len(out) == len(ids), fmt.Sprintf("%d of %d", len(out), len(ids)), rows.Err()
	})
	return out
}

// effects counts the rows each tag inserted on the target.
func (s *limitedSender) effects() map[string]int {
	s.t.Helper()
	rows, err := s.db.Query(context.Background(), `SELECT tag, count(*) FROM rl_effects GROUP BY tag`)
	require.NoError(s.t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var tag string
		var n int
		require.NoError(s.t, rows.Scan(&tag, &n))
		out[tag] = n
	}
	require.NoError(s.t, rows.Err())
	return out
}

type commandOutcome struct{ status, detail string }

// count is how many outcomes have status.
func count(outcomes map[string]commandOutcome, status string) int {
	n := 0
	for _, o := range outcomes {
		if o.status == status {
			n++
		}
	}
	return n
}

// rejections are the CommandRejected events of the event log, by command id.
func rejections(t *testing.T, db *pgxpool.Pool) map[string]events.CommandRejected {
	t.Helper()
	out := map[string]events.CommandRejected{}
	for _, e := range readTopic(t, db, events.DefaultTopics().Events) {
		_, m, err := events.Catalog().Decode(e.Message)
		require.NoError(t, err)
		if r, ok := m.(events.CommandRejected); ok {
			out[r.CommandID] = r
		}
	}
	return out
}

// limitedRules is a configuration of the rules specs.
func limitedRules(t *testing.T, specs ...string) ratelimit.Config {
	t.Helper()
	rules, err := ratelimit.ParseRules(specs)
	require.NoError(t, err)
	return ratelimit.Config{Rules: rules}
}

// A client sending ten times its limit: the excess is rejected with the reason and when to retry,
// poisoned, a security event naming the client and counted; every admitted command ran exactly
// once; another client under the same rule, a client of an unlimited rule and the rate limits
// of zero behave as documented.
func TestRateLimit_a_client_over_its_limit_is_rejected_and_other_clients_are_not(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := adapterConfig(url, kafka.Brokers())
	const perClient = "client=user-*:5/h,burst=5"
	cfg.Limits = limitedRules(t, perClient, "client=mallory:0", "client=carol:-1")
	addr := startApp(t, cfg)
	s := newLimitedSender(t, db)

	alice := s.send("user-alice", "control", 50) // ten times the limit
	bob := s.send("user-bob", "control", 5)
	carol := s.send("carol", "control", 20) // a negative rate: unlimited
	mallory := s.send("mallory", "control", 2)
	all := append(append(append(append([]string{}, alice...), bob...), carol...), mallory...)
	outcomes := s.outcomes(all)

	pick := func(ids []string) map[string]commandOutcome {
		out := map[string]commandOutcome{}
		for _, id := range ids {
			out[id] = outcomes[id]
		}
		return out
	}
	require.Equal(t, 5, count(pick(alice), "succeeded"), "alice's burst")
	require.Equal(t, 45, count(pick(alice), "rejected"), "the excess")
	require.Equal(t, 5, count(pick(bob), "succeeded"), "bob has a bucket of his own")
	require.Equal(t, 20, count(pick(carol), "succeeded"), "a negative rate limits nothing")
	require.Equal(t, 2, count(pick(mallory), "rejected"), "a zero rate refuses everything")

	// Nothing executed twice, nothing lost: a row per admitted command, none for the others.
	effects := s.effects()
	for _, id := range all {
		want := 0
		if outcomes[id].status == "succeeded" {
			want = 1
		}
		require.Equal(t, want, effects[s.tags[id]], "rows of %s (%s)", s.tags[id], outcomes[id].status)
	}

	// The reason and when to retry, on the event and in the record.
	rejected := rejections(t, db)
	for _, id := range alice {
		if outcomes[id].status != "rejected" {
			continue
		}
		r := rejected[id]
		require.True(t, strings.HasPrefix(r.Reason, "rate limited by "+perClient+": retry after "), r.Reason)
		require.Equal(t, r.Reason, outcomes[id].detail)
		require.Positive(t, r.RetryAfterMillis)
		require.LessOrEqual(t, r.RetryAfterMillis, int64(12*time.Minute/time.Millisecond), "at most one emission interval (1h/5) away")
		require.Equal(t, "postgres/control", events.AdapterID(r.Adapter, r.Target))
	}
	for _, id := range mallory {
		r := rejected[id]
		require.Equal(t, "rate limited by client=mallory:0,burst=1: this limit admits nothing", r.Reason)
		require.Zero(t, r.RetryAfterMillis, "no retry time: waiting does not help")
	}

	// The same poison path as other rejections, and each a security event naming its client.
	refused := append(rejectedOf(alice, outcomes), mallory...)
	eventually(t, 30*time.Second, "every refused command poisoned and a security event", func() (bool, string, error) {
		var poisoned, secured, byAlice int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM poison_messages WHERE message_id = ANY($1)
			AND reason LIKE 'rejected: rate limited by %'`, refused).Scan(&poisoned); err != nil {
			return false, "", err
		}
		if err := db.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE actor = 'user-alice')
			FROM audit_entries WHERE action = 'security.rate_limited' AND outcome = 'refused'`).Scan(&secured, &byAlice); err != nil {
			return false, "", err
		}
		return poisoned == len(refused) && secured == len(refused) && byAlice == 45,
			fmt.Sprintf("%d poisoned, %d security events (%d by alice) of %d", poisoned, secured, byAlice, len(refused)), nil
	})
	require.Equal(t, 45.0, metric(t, addr, `omni_rate_limited_total{rule="`+perClient+`",scope="client",shadow="false"}`))
	require.Equal(t, 2.0, metric(t, addr, `omni_rate_limited_total{rule="client=mallory:0,burst=1",scope="client",shadow="false"}`))
	require.Equal(t, 47.0, metric(t, addr, `omni_security_events_total{kind="rate_limited"}`))
}

func rejectedOf(ids []string, outcomes map[string]commandOutcome) []string {
	var out []string
	for _, id := range ids {
		if outcomes[id].status == "rejected" {
			out = append(out, id)
		}
	}
	return out
}

// Two adapter processes, each owning one of two targets, share one per-endpoint limit exactly:
// the bucket is in the control database, not in either process. The rules come from the
// command line, as an operator gives them.
func TestRateLimit_two_adapter_processes_share_one_limit(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	s := newLimitedSender(t, db)
	const rule = "endpoint=postgres/postgres_execute:12/h,burst=12"
	targets := []string{"a", "b"}
	p1 := startOmniProcess(t, url, kafka.Brokers(), "adapters,relay",
		append(adapterArgs("p1", "a="+url, "b="+url), "--rate-limit="+rule)...)
	p2 := startOmniProcess(t, url, kafka.Brokers(), "adapters",
		append(adapterArgs("p2", "a="+url, "b="+url), "--rate-limit="+rule)...)
	p1.ready(t)
	p2.ready(t)
	eventually(t, 60*time.Second, "each process owning one target", func() (bool, string, error) {
		counts := byOwner(owners(t, db, events.AdapterPostgres))
		return counts["p1"] == 1 && counts["p2"] == 1, fmt.Sprint(counts), nil
	})

	var ids []string
	for i := range 20 {
		ids = append(ids, s.send("user-dave", targets[i%2], 1)...)
	}
	outcomes := s.outcomes(ids)
	require.Equal(t, 12, count(outcomes, "succeeded"), "one limit of 12 for both processes, not 12 each")
	require.Equal(t, 8, count(outcomes, "rejected"))
	perTarget := map[string]int{}
	effects := s.effects()
	for id, o := range outcomes {
		if o.status == "succeeded" {
			perTarget[strings.Split(s.tags[id], "-")[2]]++
			require.Equal(t, 1, effects[s.tags[id]])
		}
	}
	require.Positive(t, perTarget["a"], "both processes executed commands: %v", perTarget)
	require.Positive(t, perTarget["b"], "both processes executed commands: %v", perTarget)
	refused := metric(t, p1.addr, `omni_rate_limited_total{rule="`+rule+`",scope="endpoint",shadow="false"}`) +
		metric(t, p2.addr, `omni_rate_limited_total{rule="`+rule+`",scope="endpoint",shadow="false"}`)
	require.Equal(t, 8.0, refused, "the processes' refusals add up to the rejections")
}

// Shadow mode executes everything and counts, on /metrics, what it would have refused.
func TestRateLimit_shadow_mode_executes_everything_and_counts_what_it_would_refuse(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	s := newLimitedSender(t, db)
	p := startOmniProcess(t, url, kafka.Brokers(), "adapters,relay",
		"--rate-limit=client=*:4/h", "--rate-limit=target=postgres/*:6/h,burst=6", "--rate-limit-shadow")
	p.ready(t)
	ids := s.send("user-erin", "control", 20)
	outcomes := s.outcomes(ids)
	require.Equal(t, 20, count(outcomes, "succeeded"), "shadow mode refuses nothing")
	effects := s.effects()
	for _, id := range ids {
		require.Equal(t, 1, effects[s.tags[id]], "each command ran once")
	}
	require.Equal(t, 16.0, metric(t, p.addr, `omni_rate_limited_total{rule="client=*:4/h,burst=4,shadow",scope="client",shadow="true"}`),
		"20 sent, 4 a burst: 16 would have been refused")
	require.Equal(t, 14.0, metric(t, p.addr, `omni_rate_limited_total{rule="target=postgres/*:6/h,burst=6,shadow",scope="target",shadow="true"}`))
	require.Zero(t, count(outcomes, "rejected"))
	require.Contains(t, p.stderr.String(), "rate limit would refuse (shadow mode: admitted)")
}

// The HTTP server answers 429 with Retry-After and the RateLimit headers once a client address
// has spent its burst; a zero rate refuses every request without a retry time.
func TestRateLimit_http_answers_429_with_retry_after_and_ratelimit_headers(t *testing.T) {
	kafka := newKafka(t)
	url, _ := newControlDB(t)
	p := startOmniProcess(t, url, kafka.Brokers(), "relay", "--rate-limit=http=127.0.0.1:3/min")
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := http.Get("http://" + p.addr + path)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		return resp
	}
	eventually(t, 60*time.Second, "omni listening", func() (bool, string, error) {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return true, resp.Status, nil
	})
	// The probe above spent one of the three.
	const policy = `"http=127.0.0.1:3/min,burst=3";q=3;w=60`
	ok := get("/healthz")
	require.Equal(t, http.StatusOK, ok.StatusCode)
	require.Equal(t, policy, ok.Header.Get("RateLimit-Policy"))
	require.Regexp(t, `^"http=127\.0\.0\.1:3/min,burst=3";r=1;t=\d+$`, ok.Header.Get("RateLimit"))
	require.Equal(t, http.StatusOK, get("/metrics").StatusCode)
	refused := get("/readyz")
	require.Equal(t, http.StatusTooManyRequests, refused.StatusCode)
	require.Regexp(t, `^(19|20)$`, refused.Header.Get("Retry-After"), "a token every 20s, the last spent just now")
	require.Equal(t, policy, refused.Header.Get("RateLimit-Policy"))
	require.Regexp(t, `^"http=127\.0\.0\.1:3/min,burst=3";r=0;t=(59|60)$`, refused.Header.Get("RateLimit"))

	zero := startOmniProcess(t, url, kafka.Brokers(), "relay", "--rate-limit=http=*:0")
	eventually(t, 60*time.Second, "omni listening", func() (bool, string, error) {
		resp, err := http.Get("http://" + zero.addr + "/healthz")
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusTooManyRequests, resp.Status, nil
	})
	resp, err := http.Get("http://" + zero.addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Retry-After"), "a zero rate never has room")
	require.Equal(t, `"http=*:0,burst=1";q=0;w=0`, resp.Header.Get("RateLimit-Policy"))
	require.Equal(t, "rate limited by http=*:0,burst=1: every request is refused\n", string(body))
}

// A bad rule stops omni at start with an error naming it.
func TestRateLimit_a_bad_rule_is_refused_at_start_naming_it(t *testing.T) {
	url, _ := newControlDB(t)
	env := []string{"DATABASE_URL=" + url, "KAFKA_BROKERS=127.0.0.1:1"}
	_, stderr, code := omni(t, env, "run", "--roles=relay", "--rate-limit=client=*:50/s", "--rate-limit=client=*:lots,burst=0")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, `rate limit "client=*:lots,burst=0"`)
	require.Contains(t, stderr, `rate "lots"`)
	require.Contains(t, stderr, `burst "0"`)
	require.NotContains(t, stderr, `"client=*:50/s"`)
}

// A command delivered again takes no second token: with a burst of two, a command, a copy of it
// as a redelivery brings it, and a second command are all let through — the copy answered from
// the first one's record — and only a third is refused. The command ran once.
func TestRateLimit_a_redelivered_command_takes_no_second_token(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	cfg := adapterConfig(url, kafka.Brokers())
	cfg.Limits = limitedRules(t, "client=*:2/h")
	startApp(t, cfg)
	s := newLimitedSender(t, db)
	c := newCommander(t, db, kafka.Brokers())

	first := s.send("user-frank", "control", 1)
	require.Equal(t, "succeeded", s.outcomes(first)[first[0]].status)
	topic := events.DefaultTopics().Commands(events.AdapterPostgres)
	var copyOf *outbox.LoggedEvent
	for _, e := range readTopic(t, db, topic) {
		if e.Message.UUID == first[0] {
			copyOf = &e
		}
	}
	require.NotNil(t, copyOf, "the command in the event log")
	c.publish(topic, copyOf.Message.Copy())
	// The copy is handled (answered from the record) before the next command, on the same
	// partition: the target is the key.
	second := s.send("user-frank", "control", 1)
	require.Equal(t, "succeeded", s.outcomes(second)[second[0]].status, "the copy took no token")
	third := s.send("user-frank", "control", 1)
	require.Equal(t, "rejected", s.outcomes(third)[third[0]].status)
	require.Equal(t, 1, s.effects()[s.tags[first[0]]], "the copy did not run again")
	var charges int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM rate_limit_charges`).Scan(&charges))
	require.Equal(t, 2, charges)
}
