// Package testenv is what the tests that run real parts (Kratos, Hydra,
// redis-server, Chromium) share: where the repository and the build cache
// are, whether this is CI, and a free loopback port.
package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// CI reports whether the tests run under CI (CI=true or CI=1, as
// scripts/test reads it): a real part that cannot be built or started
// fails the test there, and only skips it elsewhere.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// RepoRoot is the directory holding go.mod, above the test's directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Script is the path of scripts/name in the repository.
func Script(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "scripts", name)
}

// CacheDir is where scripts/kratos.sh and scripts/hydra.sh keep their
// builds: $SSOCTL_CACHE, else ~/.cache/ssoctl; "" when neither is known.
func CacheDir() string {
	if c := os.Getenv("SSOCTL_CACHE"); c != "" {
		return c
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "ssoctl")
}

// IsExecutable reports whether path is a regular file someone may run.
func IsExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// FreePort is a loopback port free right now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
