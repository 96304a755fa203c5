// Command build-images builds the local images the suite runs, each only when its tag (a hash of
// its recipe) is missing, and removes the older tags of the images it rebuilt. `make images` runs
// it from the module root; Consul, the slow one, builds beside the others.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/omninode/omnibase-infra/tests/images"
)

func main() {
	only := flag.String("only", "", "comma-separated names to build (postgres, kafka, consul, vault, omni); default all")
	alsoTag := flag.String("tag", "", "also tag each image NAME:TAG, e.g. dev, the tag deploy/compose.yaml runs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *only, *alsoTag); err != nil {
		fmt.Fprintln(os.Stderr, "build-images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, only, alsoTag string) error {
	root, err := images.ModuleRoot()
	if err != nil {
		return err
	}
	var todo []images.Image
	var known []string
	for _, im := range images.All {
		known = append(known, filepath.Base(im.Name))
	}
	var wanted []string
	if only != "" {
		wanted = strings.Split(only, ",")
	}
	for _, name := range wanted {
		if !slices.Contains(known, name) {
			return fmt.Errorf("-only names %q, which is no image (known: %s)", name, strings.Join(known, ", "))
		}
	}
	for _, im := range images.All {
		if len(wanted) == 0 || slices.Contains(wanted, filepath.Base(im.Name)) {
			todo = append(todo, im)
		}
	}
	// Consul and Vault take minutes of compiling: build them beside the others rather than after them.
	var slow, rest []images.Image
	for _, im := range todo {
		if im.Name == images.Consul.Name || im.Name == images.Vault.Name {
			slow = append(slow, im)
		} else {
			rest = append(rest, im)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, group := range [][]images.Image{slow, rest} {
		wg.Go(func() {
			for _, im := range group {
				if err := ensure(ctx, root, im, alsoTag); err != nil {
					errs[i] = errors.Join(errs[i], err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ensure builds im unless its current tag exists, then tags it NAME:alsoTag too when asked.
func ensure(ctx context.Context, root string, im images.Image, alsoTag string) error {
	ref, err := im.Ref(root)
	if err != nil {
		return err
	}
	if exists(ctx, ref) {
		fmt.Printf("%-32s up to date\n", ref)
		return tag(ctx, ref, im.Name, alsoTag)
	}
	fmt.Printf("%-32s building\n", ref)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(im.Dir, "build.sh"), ref)
	cmd.Dir = root
	out := &prefixWriter{prefix: filepath.Base(im.Name) + ": "}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("could not build %s: %w", ref, err)
	}
	fmt.Printf("%-32s built in %s\n", ref, time.Since(start).Round(time.Second))
	removeOlder(ctx, im.Name, ref)
	return tag(ctx, ref, im.Name, alsoTag)
}

// tag tags ref as name:alsoTag, unless alsoTag is empty.
func tag(ctx context.Context, ref, name, alsoTag string) error {
	if alsoTag == "" {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "docker", "tag", ref, name+":"+alsoTag).CombinedOutput(); err != nil {
		return fmt.Errorf("could not tag %s as %s:%s: %w: %s", ref, name, alsoTag, err, out)
	}
	fmt.Printf("%-32s tagged %s:%s\n", ref, name, alsoTag)
	return nil
}

func exists(ctx context.Context, ref string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", ref).Run() == nil
}

// keepRecipes is how many recipes of an image stay built: the newest, and a few before it, which
// other checkouts of the project (a branch, a worktree) may still be running their tests with.
const keepRecipes = 3

// removeOlder removes the tags of name older than the newest keepRecipes (keep among them): each
// is a recipe that no longer exists, or one that a checkout would build again.
func removeOlder(ctx context.Context, name, keep string) {
	// docker images lists the newest first.
	out, err := exec.CommandContext(ctx, "docker", "images", name, "--format", "{{.Repository}}:{{.Tag}}").Output()
	if err != nil {
		return
	}
	kept := 1
	for _, ref := range strings.Fields(string(out)) {
		if ref == keep || strings.HasSuffix(ref, ":<none>") {
			continue
		}
		if kept < keepRecipes {
			kept++
			continue
		}
		if exec.CommandContext(ctx, "docker", "rmi", ref).Run() == nil {
			fmt.Printf("%-32s removed (older recipe)\n", ref)
		}
	}
}

// prefixWriter prefixes each line a build prints with the image's name, so builds running side
// by side stay readable.
type prefixWriter struct {
	mu      sync.Mutex
	prefix  string
	partial []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := slices.Index(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		fmt.Print(w.prefix + string(w.partial[:i+1]))
		w.partial = w.partial[i+1:]
	}
}
