// Package devpg runs a throwaway PostgreSQL cluster from the machine's server binaries, for
// `omni dev`: a fresh data directory, a free port on 127.0.0.1, removed on Close.
package devpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config configures a throwaway cluster.
type Config struct {
	// BinDir holds initdb and postgres. Default: found on PATH, else the newest
	// /usr/lib/postgresql/*/bin.
	BinDir string
	// Port to listen on at 127.0.0.1. Default 0: a free port.
	Port int
	// DataDir of the cluster. Default "": a new temporary directory, removed on Close.
	DataDir string
	// User (an OS user) runs the server when we are root, since initdb refuses root.
	// Default "postgres" if that user exists, else "nobody".
	User string
	// Database to create. Default "omnibase".
	Database string
	// StartTimeout bounds initdb plus start-up. Default 60s.
	StartTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.BinDir == "" {
		c.BinDir = findBinDir()
	}
	if c.User == "" && os.Geteuid() == 0 {
		c.User = "nobody"
		if _, err := user.Lookup("postgres"); err == nil {
			c.User = "postgres"
		}
	}
	if c.Database == "" {
		c.Database = "omnibase"
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	for _, bin := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(c.BinDir, bin)); err != nil {
			errs = append(errs, fmt.Errorf("PostgreSQL server binary %s not found in %q (apt-get install postgresql-15)", bin, c.BinDir))
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", c.Port))
	}
	return errors.Join(errs...)
}

func findBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real)
		}
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	if len(dirs) > 0 {
		return dirs[0]
	}
	return "/usr/lib/postgresql/15/bin"
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Server is a running throwaway cluster.
type Server struct {
	cfg     Config
	cmd     *exec.Cmd
	exited  chan struct{}
	removed bool
	logPath string
	logger  *slog.Logger
}

// Start creates and starts a cluster and its database.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Server, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	s := &Server{cfg: cfg, logger: logger}
	if s.cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "omni-dev-pg-")
		if err != nil {
			return nil, fmt.Errorf("could not create data directory: %w", err)
		}
		s.cfg.DataDir, s.removed = dir, true
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	cred, err := s.credential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(s.cfg.DataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("could not hand %s to user %s: %w", s.cfg.DataDir, s.cfg.User, err)
		}
	}
	pgdata := filepath.Join(s.cfg.DataDir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(s.cfg.BinDir, "initdb"),
		"-D", pgdata, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb failed: %w: %s", err, tail(string(out)))
	}
	if s.cfg.Port == 0 {
		if s.cfg.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	s.logPath = filepath.Join(s.cfg.DataDir, "server.log")
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("could not create server log: %w", err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(filepath.Join(s.cfg.BinDir, "postgres"), "-D", pgdata,
		"-p", strconv.Itoa(s.cfg.Port), "-c", "listen_addresses=127.0.0.1", "-k", s.cfg.DataDir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// Pdeathsig: a SIGKILLed omni dev cannot stop its server, so the kernel does (SIGINT is
	// PostgreSQL's fast shutdown); an orphaned server would hold its port, its data directory and
	// whatever file descriptors it inherited.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("could not start postgres: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	s.logger.Info("throwaway PostgreSQL started", "url", s.URL(), "data_dir", s.cfg.DataDir)
	return s, nil
}

func (s *Server) credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(s.cfg.User)
	if err != nil {
		return nil, fmt.Errorf("could not find user %q to run PostgreSQL as: %w", s.cfg.User, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// waitReady polls until the server accepts connections, then creates the database.
func (s *Server) waitReady(ctx context.Context) error {
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.cfg.Port)
	for {
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.cfg.Database}.Sanitize()); err != nil {
				return fmt.Errorf("could not create database %q: %w", s.cfg.Database, err)
			}
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited during start-up: %s", s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %s: %w: %s", s.cfg.StartTimeout, err, s.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// URL of the database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.cfg.Port, s.cfg.Database)
}

// Close stops the server (a fast shutdown, killed after 10s) and removes a temporary data directory.
func (s *Server) Close() error {
	var err error
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
			err = errors.New("postgres did not stop within 10s and was killed")
		}
		s.cmd = nil
	}
	if s.removed {
		if rmErr := os.RemoveAll(s.cfg.DataDir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("could not remove %s: %w", s.cfg.DataDir, rmErr))
		}
		s.removed = false
	}
	return err
}

func (s *Server) logTail() string {
	data, _ := os.ReadFile(s.logPath)
	return tail(string(data))
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, " | ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("could not find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
