package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/handlers/postgres"
	"github.com/omninode/omnibase-infra/internal/console"
	"github.com/omninode/omnibase-infra/platform/bus"
	"github.com/omninode/omnibase-infra/projections/infrastate"
	"github.com/omninode/omnibase-infra/tests/containers"
)

// chromiumPath is Debian's chromium, installed from Debian's packages when missing (as .ci/run
// does): the test never lets a tool download a browser of its own.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		out, err := exec.Command("apt-get", args...).CombinedOutput()
		require.NoError(t, err, "apt-get %v: %s", args, out)
	}
	p, err := exec.LookPath("chromium")
	require.NoError(t, err, "chromium installed")
	return p
}

// browser starts headless Chromium with a fresh profile, as ENVIRONMENT.md says it runs here.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "chromium starts")
	return ctx
}

// artifactsDir is where the screenshots go: $ARTIFACTS_DIR, else tests/.artifacts (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".artifacts")
	}
	dir = filepath.Join(dir, "console")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// consolePage drives one browser tab against the console.
type consolePage struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func (p *consolePage) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	require.NoError(p.t, chromedp.Do(ctx, steps...), what)
}

func (p *consolePage) open(path, waitFor string) {
	p.t.Helper()
	p.run("open "+path, chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

func (p *consolePage) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(p.t, err, "read "+sel)
	return s
}

// eval runs a JavaScript expression in the page and decodes its value.
func eval[T any](p *consolePage, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// waitFor polls the page's JavaScript expression cond until it is true.
func (p *consolePage) waitFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	eventually(p.t, timeout, what, func() (bool, string, error) {
		ok, err := eval[bool](p, cond)
		return ok, "", err
	})
}

// do runs a JavaScript statement in the page (a form's submit: atomic, whatever the live
// updates swap in meanwhile).
func (p *consolePage) do(what, js string) {
	p.t.Helper()
	_, err := eval[bool](p, js+"; true")
	require.NoError(p.t, err, what)
}

// mark tags the loaded document, so the test can tell a live update from a reload (which loses it).
func (p *consolePage) mark() { p.do("mark the page", `window.__mark = "kept"`) }

func (p *consolePage) requireNotReloaded(what string) {
	p.t.Helper()
	mark, err := eval[string](p, `String(window.__mark)`)
	require.NoError(p.t, err)
	require.Equal(p.t, "kept", mark, "%s without reloading the page", what)
}

func (p *consolePage) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(p.t, err, "screenshot "+name)
	require.NoError(p.t, os.WriteFile(filepath.Join(p.dir, name+".png"), png, 0o644))
}

// The console in headless Chromium against a running loop: every page renders the loop's real
// data; a fault injected into a target shows on the fleet page and its failover saga's timeline
// fills in live, without a reload; an action without a login is refused and recorded as a
// security event; logged in, a poisoned message is requeued from its page and then applied, and
// the audit log names who did it. /status says the same as JSON.
func TestConsole_in_a_browser_shows_the_loop_live_and_requeues_poison_behind_a_login(t *testing.T) {
	kafka := newKafka(t)
	url, db := newControlDB(t)
	target := newTarget(t)
	port, err := containers.FreePort()
	require.NoError(t, err)
	tokenFile := filepath.Join(t.TempDir(), "tokens")
	token := "console-" + watermill.NewUUID()
	require.NoError(t, os.WriteFile(tokenFile, []byte("# the console's operators\nalice:"+token+"\n"), 0o600))
	cfg := appConfig(url, kafka.Brokers())
	cfg.Postgres.Targets = []postgres.Target{{Name: "control", URL: url}, {Name: "target", URL: target.URL}}
	cfg.Adapters.Breaker.Failures, cfg.Adapters.Breaker.OpenFor = 3, 2*time.Second
	cfg.ContractPath = writeContract(t, "poll: {every: 5s, attempts: 12}", "poll: {every: 1s, attempts: 120}")
	cfg.Console = console.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port), TokenFile: tokenFile, LiveInterval: 300 * time.Millisecond,
		TraceURL: "http://127.0.0.1:16686/trace/{trace_id}"}
	httpAddr := startApp(t, cfg)
	waitStatus(t, db, infrastate.StatusHealthy, 60*time.Second)
	ctx := context.Background()

	// A message poisoned for a key that arrives late: requeued from the console below.
	late := newLateKey(t)
	fixable := late.sign(events.DefaultTopics().Events, healthReport(t, "postgres/late"))
	fixable.Metadata.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	pub, err := bus.NewPublisher(kafka.Brokers(), bus.Security{}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Publish(events.DefaultTopics().Events, fixable))
	var poisonID int64
	eventually(t, 30*time.Second, "the late-signed event poisoned by the projection", func() (bool, string, error) {
		err := db.QueryRow(ctx, `SELECT id FROM poison_messages WHERE consumer_group = $1 AND message_id = $2`,
			infrastate.ConsumerName, fixable.UUID).Scan(&poisonID)
		return err == nil, "", nil
	})

	p := &consolePage{t: t, ctx: browser(t), base: "http://" + cfg.Console.Addr, dir: artifactsDir(t)}

	// Fleet: every target, with status, breaker and owner.
	p.open("/", `#fleet tr[data-target="postgres/target"]`)
	fleet := p.text("#fleet")
	for _, want := range []string{"postgres/control", "postgres/target", "kafka/bus", "healthy", "closed"} {
		require.Contains(t, fleet, want)
	}
	require.Contains(t, p.text("header"), "read-only", "nobody logged in")
	p.waitFor("the live stream connected", `document.getElementById("live").className === "live on"`, 10*time.Second)

	// The fault: the target stops. The fleet page shows it critical and its breaker open, live.
	p.mark()
	require.NoError(t, target.Stop(ctx))
	p.waitFor("postgres/target critical on the fleet page", `(function(){
		var row = document.querySelector('#fleet tr[data-target="postgres/target"]');
		return !!row && row.textContent.indexOf("critical") >= 0 && row.textContent.indexOf("open") >= 0; })()`, 60*time.Second)
	p.requireNotReloaded("the fault appeared")
	p.screenshot("fleet")

	// Its failover saga: the timeline grows live while it polls, and completes once the target is back.
	saga := failoverOf(t, db, targetID)
	p.open("/sagas/"+saga, "#timeline")
	before, err := eval[int](p, `document.querySelectorAll("#timeline tbody tr").length`)
	require.NoError(t, err)
	p.mark()
	require.NoError(t, target.Start(ctx))
	p.waitFor("the failover's timeline filled in and completed", fmt.Sprintf(`(function(){
		var s = document.getElementById("saga-status");
		return document.querySelectorAll("#timeline tbody tr").length > %d && !!s && s.textContent === "completed"; })()`, before),
		90*time.Second)
	p.requireNotReloaded("the timeline filled in")
	timeline := p.text("#timeline")
	for _, want := range []string{"step", "command", "reply"} {
		require.Contains(t, timeline, want)
	}
	p.screenshot("saga-timeline")

	// The other pages, each with the loop's data.
	p.open("/sagas?workflow=failover", "table.sagas")
	require.Contains(t, p.text("table.sagas"), saga[:8])
	require.Contains(t, p.text("table.sagas"), "failover")
	p.screenshot("sagas")
	p.open("/intents", "#intents")
	require.Contains(t, p.text("#intents"), "postgres/target")
	p.screenshot("intents")
	p.open("/targets/postgres/target", "#history")
	require.Contains(t, p.text("#history"), "circuit_breaker")
	p.screenshot("target")
	p.open("/lag", "#group-lag")
	require.Contains(t, p.text("#group-lag"), infrastate.ConsumerName)
	require.Contains(t, p.text("#outbox-lag"), "outbox-relay")
	p.screenshot("lag")

	// Without a login, requeue is refused (401) and recorded as a security event.
	p.open(fmt.Sprintf("/poison?group=%s", infrastate.ConsumerName), fmt.Sprintf(`tr[data-poison="%d"]`, poisonID))
	require.Contains(t, p.text("#poison"), "no mac key")
	p.screenshot("poison")
	p.open(fmt.Sprintf("/poison/%d", poisonID), "#poisoned")
	link, err := eval[string](p, `document.querySelector("a.trace").href`)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736", link, "the trace link of its traceparent")
	p.do("requeue without a login", `document.querySelector('form[action$="/requeue"]').submit()`)
	p.waitFor("the refusal", `document.body.textContent.indexOf("refused: console action without a login") >= 0`, 10*time.Second)
	requirePoisonStatus(t, db, poisonID, "poisoned")
	var refusals int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM audit_entries WHERE action = 'security.unauthenticated'
		AND subject = $1 AND outcome = 'refused'`, fmt.Sprintf("console /poison/%d/requeue", poisonID)).Scan(&refusals))
	require.Equal(t, 1, refusals, "the refused action is a security event")
	code, body := post(t, p.base+fmt.Sprintf("/poison/%d/discard", poisonID))
	require.Equal(t, http.StatusUnauthorized, code, body)

	// A wrong token does not log in; the right one does.
	p.open("/login", `input[name="token"]`)
	p.run("log in wrong", chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), "not-the-token-at-all"),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)), chromedp.WaitVisible(chromedp.CSS("p.err")))
	p.open("/login", `input[name="token"]`)
	p.run("log in", chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), token),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)), chromedp.WaitVisible(chromedp.CSS("#fleet")))
	require.Contains(t, p.text("header"), "alice")

	// Logged in: the key arrives, the message is requeued from the poison page, and applied.
	late.importInto(t, db)
	p.open(fmt.Sprintf("/poison?group=%s", infrastate.ConsumerName), fmt.Sprintf(`tr[data-poison="%d"] button.requeue`, poisonID))
	p.do("requeue from the page", fmt.Sprintf(`document.querySelector('tr[data-poison="%d"] form[action$="/requeue"]').submit()`, poisonID))
	p.waitFor("the requeued message's page", `!!document.getElementById("poison-status") && document.getElementById("poison-status").textContent === "requeued"`,
		15*time.Second)
	require.Contains(t, p.text("#poisoned"), "alice@")
	waitHealthy(t, db, "postgres/late")
	actors := auditActions(t, db, audit.ActionPoisonRequeued, fixable.UUID)
	require.Len(t, actors, 1)
	require.Contains(t, actors[0], "alice@127.0.0.1 (console, token)")

	// /status: the same fleet as JSON.
	resp, err := http.Get("http://" + httpAddr + "/status")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st console.Status
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	byID := map[string]console.Target{}
	for _, tg := range st.Targets {
		byID[tg.AdapterID] = tg
	}
	require.Contains(t, byID, targetID)
	require.NotEmpty(t, byID[targetID].Owner, "an adapter process owns the target")
	require.NotZero(t, byID[targetID].StatusSince)
	require.Equal(t, "outbox-relay", st.Lag.Outbox.Group)
	require.NotEmpty(t, st.Lag.Groups, "the consumer groups' lag from the brokers")
	var open, poisoned int64
	require.NoError(t, db.QueryRow(ctx, `SELECT (SELECT count(*) FROM saga_instances WHERE status = 'running'),
		(SELECT count(*) FROM poison_messages WHERE status = 'poisoned')`).Scan(&open, &poisoned))
	require.InDelta(t, open, st.OpenSagas, 2, "open sagas")
	require.Equal(t, poisoned, st.PoisonCount)
}

func requirePoisonStatus(t *testing.T, db *pgxpool.Pool, id int64, want string) {
	t.Helper()
	var status string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT status FROM poison_messages WHERE id = $1`, id).Scan(&status))
	require.Equal(t, want, status)
}

// post sends an empty form to url, as a script without a login would.
func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader("csrf="+strconv.Itoa(7)))
	require.NoError(t, err)
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = fmt.Fprint(b, resp.Status)
	return resp.StatusCode, b.String()
}
