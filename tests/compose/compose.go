// Package compose reads deploy/compose.yaml strictly: the part of the Compose specification the
// project's file uses, where an unknown or misspelt field is an error rather than a setting
// silently dropped. The deployment test checks the file with it and the integration suite starts
// the file's services from it.
package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is a compose file.
type File struct {
	Name     string             `yaml:"name"`
	Services map[string]Service `yaml:"services"`
	Volumes  map[string]*Volume `yaml:"volumes"`
	// Extensions are the top-level x- fields (anchors for the services to merge).
	Extensions map[string]yaml.Node `yaml:",inline"`
}

// Service is one service: one container, or Deploy.Replicas of them.
type Service struct {
	Image           string               `yaml:"image"`
	Command         []string             `yaml:"command"`
	Environment     map[string]string    `yaml:"environment"`
	Volumes         []string             `yaml:"volumes"`
	Ports           []string             `yaml:"ports"`
	DependsOn       map[string]DependsOn `yaml:"depends_on"`
	Restart         string               `yaml:"restart"`
	StopSignal      string               `yaml:"stop_signal"`
	StopGracePeriod string               `yaml:"stop_grace_period"`
	Healthcheck     *Healthcheck         `yaml:"healthcheck"`
	Deploy          *Deploy              `yaml:"deploy"`
	Profiles        []string             `yaml:"profiles"`
}

// DependsOn is the condition a service waits for in another.
type DependsOn struct {
	Condition string `yaml:"condition"`
}

// Healthcheck is a command run inside the container to tell whether it is healthy.
type Healthcheck struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
	Timeout  string   `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

// Deploy holds how many containers a service runs.
type Deploy struct {
	Replicas int `yaml:"replicas"`
}

// Volume is a named volume.
type Volume struct{}

// Mount is one entry of a service's volumes: a file or folder of the host (Source is then an
// absolute path) or a named volume (Named).
type Mount struct {
	Source, Target  string
	ReadOnly, Named bool
}

// The conditions compose knows for depends_on.
const (
	ServiceStarted               = "service_started"
	ServiceHealthy               = "service_healthy"
	ServiceCompletedSuccessfully = "service_completed_successfully"
)

const (
	dependsOnConditions = ServiceStarted + " " + ServiceHealthy + " " + ServiceCompletedSuccessfully
	restartPolicies     = "no always on-failure unless-stopped"
)

// Load reads the compose file at path: variables are interpolated from lookup (as compose does
// from the environment), then the file is decoded strictly and checked.
func Load(path string, lookup func(string) (string, bool)) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("could not read compose file: %w", err)
	}
	text, err := interpolate(string(raw), lookup)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("could not resolve the folder of %s: %w", path, err)
	}
	f.resolveMounts(dir)
	return &f, nil
}

var variable = regexp.MustCompile(`\$\{([^}]*)\}`)
var variableBody = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(:-(.*))?$`)

// interpolate replaces ${NAME} and ${NAME:-default}; a variable without a value or a default is
// an error, as is any other shape.
func interpolate(text string, lookup func(string) (string, bool)) (string, error) {
	var errs []error
	out := variable.ReplaceAllStringFunc(text, func(m string) string {
		parts := variableBody.FindStringSubmatch(m[2 : len(m)-1])
		if parts == nil {
			errs = append(errs, fmt.Errorf("variable %s is not ${NAME} or ${NAME:-default}", m))
			return m
		}
		if v, ok := lookup(parts[1]); ok && v != "" {
			return v
		}
		if parts[2] == "" {
			errs = append(errs, fmt.Errorf("variable %s has no value and no default", parts[1]))
			return m
		}
		return parts[3]
	})
	return out, errors.Join(errs...)
}

// validate collects every problem the decoder does not see.
func (f *File) validate() error {
	var errs []error
	for key := range f.Extensions {
		if !strings.HasPrefix(key, "x-") {
			errs = append(errs, fmt.Errorf("unknown top-level field %q", key))
		}
	}
	if len(f.Services) == 0 {
		errs = append(errs, errors.New("no services"))
	}
	for _, name := range f.ServiceNames() {
		s := f.Services[name]
		if s.Image == "" {
			errs = append(errs, fmt.Errorf("service %s: no image", name))
		}
		for dep, d := range s.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				errs = append(errs, fmt.Errorf("service %s depends on %s, which is not a service", name, dep))
			}
			if !slices.Contains(strings.Fields(dependsOnConditions), d.Condition) {
				errs = append(errs, fmt.Errorf("service %s: depends_on %s: condition %q is not one of %s", name, dep, d.Condition, dependsOnConditions))
			}
			if d.Condition == ServiceHealthy && f.Services[dep].Healthcheck == nil {
				errs = append(errs, fmt.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep))
			}
		}
		if s.Restart != "" && !slices.Contains(strings.Fields(restartPolicies), s.Restart) {
			errs = append(errs, fmt.Errorf("service %s: restart %q is not one of %s", name, s.Restart, restartPolicies))
		}
		if s.Healthcheck != nil && (len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD") {
			errs = append(errs, fmt.Errorf("service %s: healthcheck test must be [CMD, ...]", name))
		}
		for _, v := range s.Volumes {
			m, err := parseMount(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("service %s: %w", name, err))
				continue
			}
			if _, ok := f.Volumes[m.Source]; m.Named && !ok {
				errs = append(errs, fmt.Errorf("service %s mounts volume %q, which is not declared under volumes", name, m.Source))
			}
		}
	}
	if _, err := f.Order(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ServiceNames are the services' names, sorted.
func (f *File) ServiceNames() []string {
	names := make([]string, 0, len(f.Services))
	for n := range f.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Order is the services without a profile (those `docker compose up` starts), each after what it
// depends on.
func (f *File) Order() ([]string, error) {
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("services depend on each other in a cycle: %s", strings.Join(append(path, name), " → "))
		case 2:
			return nil
		}
		state[name] = 1
		deps := make([]string, 0, len(f.Services[name].DependsOn))
		for d := range f.Services[name].DependsOn {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, d := range deps {
			if _, ok := f.Services[d]; !ok {
				continue // reported by validate
			}
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		out = append(out, name)
		return nil
	}
	for _, name := range f.ServiceNames() {
		if len(f.Services[name].Profiles) > 0 {
			continue
		}
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Replicas is how many containers the service runs.
func (s Service) Replicas() int {
	if s.Deploy == nil || s.Deploy.Replicas == 0 {
		return 1
	}
	return s.Deploy.Replicas
}

// Mounts are the service's volumes, host paths made absolute.
func (s Service) Mounts() []Mount {
	out := make([]Mount, 0, len(s.Volumes))
	for _, v := range s.Volumes {
		m, _ := parseMount(v) // checked by validate
		out = append(out, m)
	}
	return out
}

func (f *File) resolveMounts(dir string) {
	for name, s := range f.Services {
		for i, v := range s.Volumes {
			if m, _ := parseMount(v); !m.Named && !filepath.IsAbs(m.Source) {
				s.Volumes[i] = strings.Replace(v, m.Source, filepath.Join(dir, m.Source), 1)
			}
		}
		f.Services[name] = s
	}
}

// parseMount reads the short syntax SOURCE:TARGET[:ro|rw].
func parseMount(v string) (Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") {
		return Mount{}, fmt.Errorf("volume %q is not SOURCE:/TARGET[:ro]", v)
	}
	m := Mount{Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			return Mount{}, fmt.Errorf("volume %q: mode %q is not ro or rw", v, parts[2])
		}
	}
	m.Named = !strings.ContainsAny(m.Source, "./")
	return m, nil
}
