// Package deploy_test holds deploy/ to what Kubernetes, Compose and omni itself accept: every
// Kubernetes manifest decodes strictly into the API types (an unknown or misspelt field fails),
// the compose file decodes strictly into the part of the Compose specification it uses, and every
// omni command line in either runs against the real omni binary's flags and settings.
package deploy_test

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/omninode/omnibase-infra/tests/compose"
)

const k8sDir = "../../deploy/k8s"

// roles are omni run's roles; each runs as a Deployment and a compose service of its own.
var roles = []string{"adapters", "relay", "projection", "sagas"}

// manifest is one decoded document of a manifest file.
type manifest struct {
	file string
	obj  runtime.Object
}

// newObject is the API type of a document's apiVersion and kind: the kinds deploy/k8s uses.
func newObject(tm metav1.TypeMeta) (runtime.Object, error) {
	switch tm.APIVersion + "/" + tm.Kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1/Job":
		return &batchv1.Job{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q is not a kind these manifests use", tm.APIVersion, tm.Kind)
}

// documents splits a YAML stream on its document separators.
var separator = regexp.MustCompile(`(?m)^---\s*$`)

// decodeManifests decodes every document of every manifest in dir strictly.
func decodeManifests(dir string) ([]manifest, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []manifest
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		for i, doc := range separator.Split(string(raw), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", p, i+1, err)
			}
			obj, err := newObject(tm)
			if err != nil {
				return nil, fmt.Errorf("%s document %d: %w", p, i+1, err)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				return nil, fmt.Errorf("%s document %d (%s): %w", p, i+1, tm.Kind, err)
			}
			out = append(out, manifest{file: filepath.Base(p), obj: obj})
		}
	}
	return out, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func loadManifests(t *testing.T) []manifest {
	t.Helper()
	ms, err := decodeManifests(k8sDir)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	return ms
}

func objects[T runtime.Object](ms []manifest) []T {
	var out []T
	for _, m := range ms {
		if o, ok := m.obj.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

func TestK8s_every_document_decodes_strictly_into_its_API_type(t *testing.T) {
	ms := loadManifests(t)
	for _, m := range ms {
		meta, err := metaOf(m.obj)
		require.NoError(t, err)
		require.NotEmpty(t, meta.GetName(), "%s: every object is named", m.file)
		if _, ok := m.obj.(*corev1.Namespace); !ok {
			require.Equal(t, "omnibase-infra", meta.GetNamespace(), "%s: %s is in the namespace", m.file, meta.GetName())
		}
	}
	require.Len(t, objects[*corev1.Namespace](ms), 1)
	require.Len(t, objects[*corev1.ConfigMap](ms), 1)
	require.Len(t, objects[*batchv1.Job](ms), 1, "the migration Job")
	require.Len(t, objects[*appsv1.Deployment](ms), len(roles), "one Deployment per role")
	require.Len(t, objects[*corev1.Service](ms), 1, "the metrics Service")
}

// A misspelt field is refused, not dropped: what this test relies on.
func TestK8s_strict_decoding_refuses_a_misspelt_field(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(k8sDir, "relay.yaml"))
	require.NoError(t, err)
	dir := t.TempDir()
	misspelt := strings.Replace(string(raw), "readinessProbe:", "readinesProbe:", 1)
	require.NotEqual(t, string(raw), misspelt)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(misspelt), 0o600))
	_, err = decodeManifests(dir)
	require.ErrorContains(t, err, `unknown field "readinesProbe"`)
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}

// kustomization is the part of kustomize's Kustomization these manifests use.
type kustomization struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Resources  []string          `json:"resources"`
	Images     []kustomizedImage `json:"images"`
}

type kustomizedImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
}

func TestK8s_kustomization_lists_every_manifest(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	require.NoError(t, err)
	var k kustomization
	require.NoError(t, yaml.UnmarshalStrict(raw, &k))
	require.Equal(t, "kustomize.config.k8s.io/v1beta1", k.APIVersion)
	require.Equal(t, "Kustomization", k.Kind)
	paths, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	require.NoError(t, err)
	var files []string
	for _, p := range paths {
		if b := filepath.Base(p); b != "kustomization.yaml" {
			files = append(files, b)
		}
	}
	require.ElementsMatch(t, files, k.Resources)
	for _, c := range podSpecs(loadManifests(t)) {
		require.True(t, slices.ContainsFunc(k.Images, func(im kustomizedImage) bool {
			return strings.HasPrefix(c.spec.Containers[0].Image, im.Name+":") || c.spec.Containers[0].Image == im.Name
		}), "%s: its image %s is set by the kustomization's images", c.name, c.spec.Containers[0].Image)
	}
}

// pod is a pod template of a Deployment or the Job.
type pod struct {
	name string
	spec corev1.PodSpec
}

func podSpecs(ms []manifest) []pod {
	var out []pod
	for _, d := range objects[*appsv1.Deployment](ms) {
		out = append(out, pod{d.Name, d.Spec.Template.Spec})
	}
	for _, j := range objects[*batchv1.Job](ms) {
		out = append(out, pod{j.Name, j.Spec.Template.Spec})
	}
	return out
}

func TestK8s_one_Deployment_per_role_probed_on_healthz_and_readyz(t *testing.T) {
	ms := loadManifests(t)
	cm := objects[*corev1.ConfigMap](ms)[0]
	_, httpPort, err := net.SplitHostPort(cm.Data["OMNI_HTTP_ADDR"])
	require.NoError(t, err, "the ConfigMap sets OMNI_HTTP_ADDR, the port the probes reach")
	var seen []string
	for _, d := range objects[*appsv1.Deployment](ms) {
		t.Run(d.Name, func(t *testing.T) {
			require.NotNil(t, d.Spec.Replicas)
			require.GreaterOrEqual(t, *d.Spec.Replicas, int32(2), "two processes per role: one may die")
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			require.NoError(t, err)
			require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "the selector selects the Deployment's own pods")
			require.Len(t, d.Spec.Template.Spec.Containers, 1)
			c := d.Spec.Template.Spec.Containers[0]
			require.GreaterOrEqual(t, len(c.Args), 2)
			require.Equal(t, "run", c.Args[0])
			role := roleOf(c.Args)
			require.NotEmpty(t, role, "args %v give one --roles", c.Args)
			seen = append(seen, role)
			require.Contains(t, c.Args, "--skip-migrate", "the Job migrates; the roles do not race it")

			port := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" })
			require.GreaterOrEqual(t, port, 0, "a container port named http")
			require.Equal(t, httpPort, fmt.Sprint(c.Ports[port].ContainerPort), "the port omni listens on (OMNI_HTTP_ADDR)")
			for name, probe := range map[string]struct {
				p    *corev1.Probe
				path string
			}{"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}, "startup": {c.StartupProbe, "/healthz"}} {
				require.NotNil(t, probe.p, "%s probe", name)
				require.NotNil(t, probe.p.HTTPGet, "%s probe is an HTTP GET", name)
				require.Equal(t, probe.path, probe.p.HTTPGet.Path, "%s probe", name)
				require.Equal(t, "http", probe.p.HTTPGet.Port.String(), "%s probe reaches the http port", name)
			}
			require.NotNil(t, d.Spec.Template.Spec.TerminationGracePeriodSeconds)
			require.Greater(t, *d.Spec.Template.Spec.TerminationGracePeriodSeconds, int64(30),
				"longer than the projection's 30s to commit its batch in flight")
		})
	}
	require.ElementsMatch(t, roles, seen, "each role exactly once")
}

// roleOf returns the value of run's --roles when it names one role.
func roleOf(args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--roles="); ok {
			return v
		}
		if a == "--roles" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func TestK8s_pods_run_as_non_root_with_limits_and_the_database_URL_from_a_Secret(t *testing.T) {
	ms := loadManifests(t)
	cm := objects[*corev1.ConfigMap](ms)[0]
	require.NotContains(t, cm.Data, "DATABASE_URL", "credentials are not configuration")
	for _, p := range podSpecs(ms) {
		t.Run(p.name, func(t *testing.T) {
			require.NotNil(t, p.spec.SecurityContext)
			require.NotNil(t, p.spec.SecurityContext.RunAsNonRoot)
			require.True(t, *p.spec.SecurityContext.RunAsNonRoot)
			require.NotNil(t, p.spec.SecurityContext.RunAsUser)
			require.EqualValues(t, 65532, *p.spec.SecurityContext.RunAsUser, "the image's user")
			require.NotNil(t, p.spec.AutomountServiceAccountToken)
			require.False(t, *p.spec.AutomountServiceAccountToken, "omni never calls the Kubernetes API")
			c := p.spec.Containers[0]
			require.NotNil(t, c.SecurityContext)
			require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation)
			require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
			require.NotNil(t, c.SecurityContext.ReadOnlyRootFilesystem)
			require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
			require.NotNil(t, c.SecurityContext.Capabilities)
			require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
			require.False(t, c.Resources.Requests.Cpu().IsZero(), "a CPU request")
			require.False(t, c.Resources.Requests.Memory().IsZero(), "a memory request")
			require.False(t, c.Resources.Limits.Memory().IsZero(), "a memory limit")

			db := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "DATABASE_URL" })
			require.GreaterOrEqual(t, db, 0, "DATABASE_URL is given")
			require.Empty(t, c.Env[db].Value, "DATABASE_URL is no literal")
			require.NotNil(t, c.Env[db].ValueFrom)
			require.NotNil(t, c.Env[db].ValueFrom.SecretKeyRef, "DATABASE_URL comes from a Secret")
			for _, e := range c.Env {
				requireNoCredentials(t, e.Name, e.Value)
			}
		})
	}
	for k, v := range cm.Data {
		requireNoCredentials(t, k, v)
	}
}

// requireNoCredentials fails when a setting carries a password: a URL with one, or a variable
// named like one with a value.
func requireNoCredentials(t *testing.T, name, value string) {
	t.Helper()
	if u, err := url.Parse(value); err == nil && u.User != nil {
		_, hasPassword := u.User.Password()
		require.False(t, hasPassword, "%s holds a URL with a password", name)
	}
	for _, word := range []string{"PASSWORD", "SECRET", "TOKEN"} {
		require.False(t, strings.Contains(strings.ToUpper(name), word) && value != "", "%s is given a literal value", name)
	}
}

// invocation is one omni command line of deploy/ with the environment it runs with.
type invocation struct {
	where string
	args  []string
	env   map[string]string
}

func k8sInvocations(t *testing.T) []invocation {
	ms := loadManifests(t)
	configs := map[string]map[string]string{}
	for _, cm := range objects[*corev1.ConfigMap](ms) {
		configs[cm.Name] = cm.Data
	}
	var out []invocation
	for _, p := range podSpecs(ms) {
		for _, c := range p.spec.Containers {
			env := map[string]string{}
			for _, from := range c.EnvFrom {
				require.NotNil(t, from.ConfigMapRef, "%s: envFrom a ConfigMap", p.name)
				data, ok := configs[from.ConfigMapRef.Name]
				require.True(t, ok, "%s: ConfigMap %s is one of the manifests", p.name, from.ConfigMapRef.Name)
				for k, v := range data {
					env[k] = v
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					env[e.Name] = e.Value
				}
			}
			require.Empty(t, c.Command, "%s: the image's entrypoint is omni", p.name)
			out = append(out, invocation{where: "k8s " + p.name, args: c.Args, env: env})
		}
	}
	return out
}

func composeInvocations(t *testing.T) []invocation {
	f := loadCompose(t)
	var out []invocation
	for _, name := range f.ServiceNames() {
		s := f.Services[name]
		if !strings.HasPrefix(s.Image, "omnibase-infra/omni:") || slices.Contains(s.Profiles, "cli") {
			continue
		}
		out = append(out, invocation{where: "compose " + name, args: s.Command, env: s.Environment})
	}
	return out
}

// Each command line runs against the real omni with its settings but without the control database
// and the brokers: it must stop for lacking those and nothing else, so an unknown flag, a
// misspelt role or a bad value of a flag or a variable fails here.
func TestOmni_every_command_line_of_deploy_parses_against_omni(t *testing.T) {
	bin := omniBinary(t)
	all := append(k8sInvocations(t), composeInvocations(t)...)
	require.GreaterOrEqual(t, len(all), 2*(len(roles)+1))
	for _, inv := range all {
		t.Run(inv.where, func(t *testing.T) {
			requireOnlyMissingSettings(t, bin, inv)
		})
	}
}

// checkT is what the check needs of a test: a *testing.T, or a fakeT that records the failure.
type checkT interface {
	require.TestingT
	Helper()
}

func requireOnlyMissingSettings(t checkT, bin string, inv invocation) {
	t.Helper()
	env := maps.Clone(inv.env)
	delete(env, "DATABASE_URL")
	delete(env, "KAFKA_BROKERS")
	delete(env, "OMNI_SEAL_KEK")
	stderr, code := runOmni(t, bin, inv.args, env)
	require.Equal(t, 2, code, "%v: a configuration error exits 2: %s", inv.args, stderr)
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr), "omni:"))
	msg = strings.TrimPrefix(strings.TrimSpace(msg), "invalid config:")
	for _, problem := range strings.Split(msg, ";") {
		require.Regexp(t, `^\s*((DATABASE_URL|KAFKA_BROKERS) \(--[a-z-]+\) is not set|no key-encryption key: set .*)$`, problem,
			"%v stops only for the settings the test withholds; it said: %s", inv.args, stderr)
	}
	// Every variable given is one omni reads: the help of the command or of run names it (a
	// ConfigMap or an anchor shared with the migration gives it run's variables too).
	help, code := runOmni(t, bin, append(slices.Clone(inv.args), "--help"), nil)
	require.Equal(t, 0, code, help)
	runHelp, code := runOmni(t, bin, []string{"run", "--help"}, nil)
	require.Equal(t, 0, code, runHelp)
	for name := range inv.env {
		require.True(t, strings.Contains(help, "env "+name) || strings.Contains(runHelp, "env "+name),
			"%v: omni reads no variable %s (no help names it)", inv.args, name)
	}
}

// A misspelt flag, role or variable fails the check: what the test above relies on.
func TestOmni_the_check_refuses_a_misspelt_flag_role_or_variable(t *testing.T) {
	bin := omniBinary(t)
	good := invocation{args: []string{"run", "--roles=relay", "--skip-migrate"}, env: map[string]string{"OMNI_LOG_FORMAT": "json"}}
	requireOnlyMissingSettings(t, bin, good)
	for name, bad := range map[string]invocation{
		"misspelt_flag":     {args: []string{"run", "--roles=relay", "--skip-migrat"}},
		"misspelt_role":     {args: []string{"run", "--roles=realy"}},
		"bad_value":         {args: []string{"run", "--roles=adapters", "--probe-interval=5"}},
		"bad_variable":      {args: []string{"run", "--roles=relay"}, env: map[string]string{"OMNI_LOG_FORMAT": "jsn"}},
		"misspelt_variable": {args: []string{"run", "--roles=relay"}, env: map[string]string{"OMNI_LOG_FROMAT": "json"}},
	} {
		t.Run(name, func(t *testing.T) {
			ft := &fakeT{}
			func() {
				defer func() { _ = recover() }()
				requireOnlyMissingSettings(ft, bin, bad)
			}()
			require.True(t, ft.failed, "%v with %v passed the check", bad.args, bad.env)
		})
	}
}

// fakeT records a failure instead of failing the test, to show that a check fails.
type fakeT struct{ failed bool }

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) FailNow()              { f.failed = true; panic("FailNow") }

// runOmni runs omni with args and only env (and PATH), returning what it printed and its status.
func runOmni(t checkT, bin string, args []string, env map[string]string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return out.String(), exit.ExitCode()
	}
	require.NoError(t, err, "could not run omni")
	return out.String(), 0
}

var omniBin string

// omniBinary is cmd/omni built once for the package.
func omniBinary(t *testing.T) string {
	t.Helper()
	if omniBin != "" {
		return omniBin
	}
	dir, err := os.MkdirTemp("", "omni-deploy-test-")
	require.NoError(t, err)
	binDir = dir
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "omni"), "../../cmd/omni").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	omniBin = filepath.Join(dir, "omni")
	return omniBin
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func loadCompose(t *testing.T) *compose.File {
	t.Helper()
	f, err := compose.Load("../../deploy/compose.yaml", func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	return f
}

// The compose file has the layout deploy/README.md describes: the three servers, a one-shot
// migration every role waits for, and each role as a service of its own with two processes.
func TestCompose_runs_each_role_as_its_own_service_after_the_migration(t *testing.T) {
	f := loadCompose(t)
	order, err := f.Order()
	require.NoError(t, err)
	for _, name := range append([]string{"postgres", "kafka", "consul", "migrate"}, roles...) {
		require.Contains(t, order, name)
	}
	require.Equal(t, []string{"migrate", "up"}, f.Services["migrate"].Command)
	require.Equal(t, compose.ServiceHealthy, f.Services["migrate"].DependsOn["postgres"].Condition)
	for _, role := range roles {
		s := f.Services[role]
		require.Equal(t, role, roleOf(s.Command), "service %s runs --roles=%s", role, role)
		require.Contains(t, s.Command, "--skip-migrate")
		require.GreaterOrEqual(t, s.Replicas(), 2, "service %s: two processes", role)
		require.Equal(t, compose.ServiceCompletedSuccessfully, s.DependsOn["migrate"].Condition)
		for k, v := range s.Environment {
			requireNoCredentials(t, role+" "+k, v)
		}
	}
	for _, name := range f.ServiceNames() {
		for _, m := range f.Services[name].Mounts() {
			if !m.Named {
				require.FileExists(t, m.Source, "service %s mounts %s", name, m.Source)
			}
		}
	}
}

// A misspelt field or an unknown variable form is refused, not dropped.
func TestCompose_strict_decoding_refuses_a_misspelt_field(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/compose.yaml")
	require.NoError(t, err)
	for name, edit := range map[string][2]string{
		"misspelt_field":     {"    depends_on:\n      postgres:", "    depend_on:\n      postgres:"},
		"misspelt_condition": {"{condition: service_completed_successfully}", "{condition: service_completed}"},
		"unknown_dependency": {"      postgres: {condition: service_healthy}", "      postgre: {condition: service_healthy}"},
		"unknown_top_level":  {"\nvolumes:\n", "\nvolume:\n"},
	} {
		t.Run(name, func(t *testing.T) {
			edited := strings.Replace(string(raw), edit[0], edit[1], 1)
			require.NotEqual(t, string(raw), edited, "the edit applies")
			path := filepath.Join(t.TempDir(), "compose.yaml")
			require.NoError(t, os.WriteFile(path, []byte(edited), 0o600))
			_, err := compose.Load(path, func(string) (string, bool) { return "", false })
			require.Error(t, err)
		})
	}
}
