package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ssoctl/ssoctl/internal/browsertest"
)

var update = flag.Bool("update", false, "rewrite the files that cmp compares inside testdata/script/*.txtar")

func TestMain(m *testing.M) {
	// The test binary doubles as ssoctl: scripts run `exec ssoctl ...` in a
	// real process, with real exit codes, stdin and file modes.
	testscript.Main(m, map[string]func(){
		"ssoctl": func() { os.Exit(run()) },
	})
}

// TestScripts runs testdata/script/*.txtar. Beyond the standard commands
// they have:
//
//	exits CODE PROG ARGS...    run PROG like exec and require exit status CODE
//	gensecret NAME [BYTES]     set $NAME to BYTES (default 32) random bytes, base64
//	envfile NAME FILE          set $NAME to FILE's content less surrounding space
//	nosecret env NAME | file PATH
//	                           fail if that secret is in the last stdout or stderr
//	mode PERM FILE...          require FILE's permission bits to be PERM (octal)
//	freeport NAME...           set each $NAME to a free TCP port on 127.0.0.1
//	render SRC DST             write SRC to DST with $VARS expanded
//	waitready URL...           poll each URL (*.localhost → 127.0.0.1) until it answers 200, 10s at most
//	walk URL EMAIL PASSWORD [-- URL...]
//	                           walk URL as a browser (jar, redirects, forms), print
//	                           "final URL STATUS", then GET each further URL with the
//	                           same cookies and print "GET URL STATUS"
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *update,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"gensecret": cmdGensecret,
			"envfile":   cmdEnvfile,
			"nosecret":  cmdNosecret,
			"mode":      cmdMode,
			"freeport":  cmdFreeport,
			"render":    cmdRender,
			"waitready": cmdWaitready,
			"walk":      cmdWalk,
		},
	})
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

func cmdGensecret(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: gensecret NAME [BYTES]")
	}
	n := 32
	if len(args) == 2 {
		var err error
		if n, err = strconv.Atoi(args[1]); err != nil || n < 1 {
			ts.Fatalf("gensecret: bad byte count %q", args[1])
		}
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		ts.Fatalf("gensecret: %v", err)
	}
	ts.Setenv(args[0], base64.StdEncoding.EncodeToString(b))
}

func cmdEnvfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfile NAME FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

func cmdNosecret(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: nosecret env NAME | nosecret file PATH")
	}
	var secret string
	switch args[0] {
	case "env":
		secret = ts.Getenv(args[1])
	case "file":
		secret = strings.TrimSuffix(ts.ReadFile(args[1]), "\n")
	default:
		ts.Fatalf("usage: nosecret env NAME | nosecret file PATH")
	}
	if secret == "" {
		ts.Fatalf("nosecret: %s %s is empty", args[0], args[1])
	}
	for _, stream := range []string{"stdout", "stderr"} {
		if strings.Contains(ts.ReadFile(stream), secret) {
			ts.Fatalf("%s holds the secret from %s %s", stream, args[0], args[1])
		}
	}
}

func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: mode PERM FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("mode: bad permission %q", args[0])
	}
	for _, name := range args[1:] {
		fi, err := os.Lstat(ts.MkAbs(name))
		ts.Check(err)
		got := fi.Mode().Perm()
		if (uint64(got) == want) == neg {
			ts.Fatalf("%s has mode %04o; want %s%04o", name, got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	}
}

func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport NAME...")
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for _, name := range args {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		held = append(held, l) // held until all are picked, so they differ
		ts.Setenv(name, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
}

func cmdRender(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: render SRC DST")
	}
	src := ts.ReadFile(args[0])
	out := os.Expand(src, ts.Getenv)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(out), 0o644))
}

func localhostClient() *http.Client {
	n := browsertest.NewNet()
	n.Localhost = true
	return n.Client()
}

func cmdWaitready(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: waitready URL...")
	}
	c := localhostClient()
	deadline := time.Now().Add(10 * time.Second)
	for _, u := range args {
		for {
			resp, err := c.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				ts.Fatalf("waitready: %s not ready after 10s (last: %v)", u, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func cmdWalk(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: walk URL EMAIL PASSWORD [-- URL...]")
	}
	n := browsertest.NewNet()
	n.Localhost = true
	tb := &scriptTB{ts: ts}
	b := browsertest.New(tb, n)
	b.Email, b.Password = args[1], args[2]
	p := b.Visit(args[0])
	fmt.Fprintf(ts.Stdout(), "final %s %d\n", p.URL, p.Status)
	rest := args[3:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	for _, u := range rest {
		resp, _ := b.Get(u)
		fmt.Fprintf(ts.Stdout(), "GET %s %d\n", u, resp.StatusCode)
	}
}

// scriptTB lets browsertest fail a script.
type scriptTB struct {
	testing.TB
	ts *testscript.TestScript
}

func (s *scriptTB) Helper()                           {}
func (s *scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s *scriptTB) Fatal(args ...any)                 { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
