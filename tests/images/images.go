// Package images names the local images the suite runs and knows how to build them. Each image is
// tagged by a hash of its recipe (the files it is built from), so a changed recipe is a new tag:
// the builder skips what exists, and the container helpers refuse a stale image by name.
package images

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Image is one local image: its name and the files its tag is a hash of.
type Image struct {
	// Name of the repository, e.g. "omnibase-infra/postgres".
	Name string
	// Dir holds the recipe; Dir/build.sh REF, run from the module root, builds the image.
	Dir string
	// Recipe lists the files (relative to the module root) the image is built from.
	Recipe func(root string) ([]string, error)
}

// The images the suite runs.
var (
	Postgres = Image{Name: "omnibase-infra/postgres", Dir: "tests/images/postgres",
		Recipe: all(lib, dir("tests/images/postgres"))}
	Kafka = Image{Name: "omnibase-infra/kafka", Dir: "tests/images/kafka-broker",
		Recipe: all(lib, dir("tests/images/kafka-broker"), dir("internal/devkafka"), files("go.mod", "go.sum"))}
	Consul = Image{Name: "omnibase-infra/consul", Dir: "tests/images/consul",
		Recipe: all(lib, dir("tests/images/consul"))}
	// Vault is v1.14.8, the last MPL-2.0 release, built from its Go module with a patched sdk.
	Vault = Image{Name: "omnibase-infra/vault", Dir: "tests/images/vault",
		Recipe: all(lib, dir("tests/images/vault"))}
	// Omni is built from deploy/Dockerfile, the image a deployment runs.
	Omni = Image{Name: "omnibase-infra/omni", Dir: "tests/images/omni",
		Recipe: all(dir("tests/images/omni"), files("deploy/Dockerfile", "deploy/build.sh"), projectSources)}
)

// lib is sourced by the build scripts of the servers' images.
var lib = files("tests/images/lib.sh")

// All images, in the order the builder builds them.
var All = []Image{Postgres, Kafka, Consul, Vault, Omni}

// Ref is the image's name and tag, "NAME:HASH", for the checkout at root.
func (im Image) Ref(root string) (string, error) {
	paths, err := im.Recipe(root)
	if err != nil {
		return "", fmt.Errorf("could not list the recipe of %s: %w", im.Name, err)
	}
	slices.Sort(paths)
	h := sha256.New()
	for _, p := range paths {
		f, err := os.Open(filepath.Join(root, p))
		if err != nil {
			return "", fmt.Errorf("could not hash the recipe of %s: %w", im.Name, err)
		}
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(p))
		_, err = io.Copy(h, f)
		_ = f.Close()
		if err != nil {
			return "", fmt.Errorf("could not hash %s: %w", p, err)
		}
	}
	return im.Name + ":" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// ModuleRoot walks up from the working directory to the folder holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

type lister func(root string) ([]string, error)

func files(paths ...string) lister {
	return func(string) ([]string, error) { return paths, nil }
}

// dir lists the regular files directly in a folder, tests excluded.
func dir(rel string) lister {
	return func(root string) ([]string, error) {
		entries, err := os.ReadDir(filepath.Join(root, rel))
		if err != nil {
			return nil, err
		}
		var out []string
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), "_test.go") {
				out = append(out, filepath.Join(rel, e.Name()))
			}
		}
		return out, nil
	}
}

func all(ls ...lister) lister {
	return func(root string) ([]string, error) {
		var out []string
		for _, l := range ls {
			paths, err := l(root)
			if err != nil {
				return nil, err
			}
			out = append(out, paths...)
		}
		return out, nil
	}
}

// projectSources are the files the omni binary is built from: Go sources outside tests/ and
// deploy/, the embedded SQL and YAML, and the module files. deploy/'s manifests are not part of
// the binary: editing them does not make a new image.
func projectSources(root string) ([]string, error) {
	out := []string{"go.mod", "go.sum"}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "tests" || rel == "bin" || rel == "deploy" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go":
			if strings.HasSuffix(path, "_test.go") {
				return nil
			}
		case ".sql", ".yaml":
		default:
			return nil
		}
		out = append(out, rel)
		return nil
	})
	return out, err
}
