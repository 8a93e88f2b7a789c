package redistest_test

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
)

// ping sends PING over plain RESP, so this test needs no client library.
func ping(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestStartStopRestart(t *testing.T) {
	s := redistest.StartServer(t)
	u, err := url.Parse(s.URL)
	if err != nil || u.Scheme != "redis" || u.Hostname() != "127.0.0.1" || u.Path != "/0" {
		t.Fatalf("URL = %q (%v), want redis://127.0.0.1:PORT/0", s.URL, err)
	}
	steps := []struct {
		name   string
		do     func(testing.TB)
		answer bool
	}{
		{name: "started: answers PONG", do: func(testing.TB) {}, answer: true},
		{name: "stopped: refuses connections", do: s.Stop, answer: false},
		{name: "restarted: answers on the same port", do: s.Restart, answer: true},
	}
	for _, st := range steps {
		st.do(t)
		got, err := ping(u.Host)
		if st.answer && (err != nil || got != "+PONG") {
			t.Fatalf("%s: PING = %q, %v\nlog:\n%s", st.name, got, err, s.Log())
		}
		if !st.answer && err == nil {
			t.Fatalf("%s: PING answered %q", st.name, got)
		}
	}
}

func TestTwoServersAreApart(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a == b {
		t.Fatalf("two servers share the URL %s", a)
	}
}
