package redistest

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinel of StartSentinel knows its primary by.
const MasterName = "mymaster"

// Sentinel is a Redis primary, one replica of it and one Sentinel watching
// them (quorum 1, down after 1 s, failover timeout 5 s), each a
// redis-server started through scripts/redis.sh.
type Sentinel struct {
	// URL is the failover URL go-redis reads (redis.ParseFailoverURL):
	// redis://[:PASSWORD@]127.0.0.1:PORT/0?master_name=mymaster, PORT the
	// Sentinel's.
	URL string
	// Password is what every server requires ("" none): the userinfo of
	// URL, which go-redis sends to the Sentinel.
	Password string
	// Primary and Replica are the data nodes as started; after Failover
	// Replica is the primary.
	Primary, Replica *Server
	// Watcher is the Sentinel.
	Watcher *Server
	admin   *redis.SentinelClient // on Watcher
}

// StartSentinel starts a primary, a replica and a Sentinel, waits until
// the Sentinel knows the replica (so that a failover can promote it), and
// stops them when the test ends. Every server requires password unless it
// is "". It skips or fails as Start does.
func StartSentinel(t testing.TB, password string) *Sentinel {
	t.Helper()
	s := &Sentinel{Password: password}
	s.Primary = startServer(t, "start", nil, password)
	_, port, _ := net.SplitHostPort(s.Primary.Addr())
	s.Replica = startServer(t, "replica", []string{port}, password)
	s.waitFor(t, 10*time.Second, "the replica to sync with the primary", func(ctx context.Context) error {
		c := s.client(s.Replica.Addr())
		defer c.Close()
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("master_link_status is not up")
		}
		return nil
	})
	// Only now: a Sentinel learns the replicas from the primary's INFO,
	// which it asks for when it connects and then every 10 s.
	s.Watcher = startServer(t, "sentinel", []string{port}, password)
	u, err := url.Parse(s.Watcher.URL)
	if err != nil {
		t.Fatalf("redistest: Sentinel URL %q: %v", s.Watcher.URL, err)
	}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	s.URL = u.String()
	s.admin = redis.NewSentinelClient(s.options(s.Watcher.Addr()))
	t.Cleanup(func() { _ = s.admin.Close() })
	s.waitFor(t, 15*time.Second, "the Sentinel to know the replica", func(ctx context.Context) error {
		replicas, err := s.admin.Replicas(ctx, MasterName).Result()
		if err != nil {
			return err
		}
		for _, r := range replicas {
			if net.JoinHostPort(r["ip"], r["port"]) == s.Replica.Addr() && r["flags"] == "slave" &&
				r["master-link-status"] == "ok" {
				return nil
			}
		}
		return errors.New("the replica is not listed, or not well")
	})
	return s
}

// Master is the primary's host:port as the Sentinel reports it.
func (s *Sentinel) Master(ctx context.Context) (string, error) {
	addr, err := s.admin.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}

// Failover forces a failover (SENTINEL FAILOVER) and waits until the
// Sentinel reports the replica as the primary and the replica says it is
// one. The old primary is turned into a replica some seconds later.
func (s *Sentinel) Failover(t testing.TB) {
	t.Helper()
	// NOGOODSLAVE while the Sentinel's last INFO of the replica is older
	// than 5 s (it asks every 10 s): try again until it is fresh.
	s.waitFor(t, 20*time.Second, "the Sentinel to start a failover", func(ctx context.Context) error {
		err := s.admin.Failover(ctx, MasterName).Err()
		if err != nil && strings.Contains(err.Error(), "INPROG") {
			return nil
		}
		return err
	})
	s.waitFor(t, 20*time.Second, "the replica to be the primary", func(ctx context.Context) error {
		addr, err := s.Master(ctx)
		if err != nil {
			return err
		}
		if addr != s.Replica.Addr() {
			return errors.New("the Sentinel reports " + addr)
		}
		c := s.client(addr)
		defer c.Close()
		role, err := c.Do(ctx, "role").Slice()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return errors.New("the replica does not say it is the primary yet")
		}
		return nil
	})
}

// Client returns a plain client on one server (a data node's Addr), for
// what the stores do not do: WAIT, reading a key behind their backs.
func (s *Sentinel) Client(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := s.client(addr)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Sentinel) client(addr string) *redis.Client { return redis.NewClient(s.options(addr)) }

// options are a test client's on one server: the password, short
// timeouts and no retries, so a wait loop sees each failure.
func (s *Sentinel) options(addr string) *redis.Options {
	return &redis.Options{
		Addr: addr, Password: s.Password, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1,
	}
}

// waitFor calls try every 100 ms until it succeeds, failing the test with
// its last error after d.
func (s *Sentinel) waitFor(t testing.TB, d time.Duration, what string, try func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := try(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waited %v for %s: %v\nprimary log:\n%s\nreplica log:\n%s\nsentinel log:\n%s",
				d, what, err, s.Primary.Log(), logOf(s.Replica), logOf(s.Watcher))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func logOf(s *Server) string {
	if s == nil {
		return ""
	}
	return s.Log()
}
