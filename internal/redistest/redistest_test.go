package redistest_test

import (
	"bufio"
	"context"
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

// TestCluster: three primaries that share the 16384 slots, each a node the
// test can stop and restart on its port, back in the cluster with its
// slots.
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, "cluster-pw")
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "redis" || u.Query().Get("cluster") != "true" || len(u.Query()["addr"]) != 2 {
		t.Fatalf("URL = %q (%v), want redis://:PASSWORD@127.0.0.1:P1/0?cluster=true&addr=…&addr=…", c.URL, err)
	}
	if p, _ := u.User.Password(); p != "cluster-pw" {
		t.Errorf("URL %q does not carry the password", c.URL)
	}
	ctx := context.Background()
	slots, err := c.Client().ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	owners, covered := map[string]bool{}, 0
	for _, r := range slots {
		covered += r.End - r.Start + 1
		owners[r.Nodes[0].Addr] = true
	}
	if covered != 16384 || len(owners) != 3 {
		t.Fatalf("%d slots covered by %d primaries, want 16384 by 3", covered, len(owners))
	}

	node := c.NodeOf(t, "some-key")
	node.Stop(t)
	if _, err := ping(node.Addr()); err == nil {
		t.Fatal("a stopped node still answers")
	}
	node.Restart(t)
	c.WaitOK(t, 20*time.Second)
	if got := c.NodeOf(t, "some-key"); got != node {
		t.Errorf("after its restart the key's slot is on %s, want %s", got.Addr(), node.Addr())
	}
	if err := c.Client().Set(ctx, "some-key", "v", time.Minute).Err(); err != nil {
		t.Errorf("SET after the restart: %v", err)
	}
}
