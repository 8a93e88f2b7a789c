package redistest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three primaries and no replicas, each a
// redis-server started through scripts/redis.sh (scripts/redis.sh cluster):
// the slots shared out in three ranges, a node taken for down after 2 s
// (cluster-node-timeout), and the others answering for their own slots
// meanwhile (cluster-require-full-coverage no).
type Cluster struct {
	// URL is the cluster URL the stores read:
	// redis://[:PASSWORD@]127.0.0.1:P1/0?cluster=true&addr=127.0.0.1:P2&addr=127.0.0.1:P3.
	URL string
	// Password is what every node requires ("" none).
	Password string
	// Nodes are the primaries, in the order of URL's addresses. Stop one
	// to take it down; Restart brings it back on its port, empty, with its
	// slots (its nodes.conf remembers them).
	Nodes []*Server
	admin *redis.ClusterClient
}

// StartCluster starts a three-primary Redis Cluster, waits until every
// node reports cluster_state:ok, and stops it when the test ends. Every
// node requires password unless it is "". It skips or fails as Start does.
func StartCluster(t testing.TB, password string) *Cluster {
	t.Helper()
	whole := newServer(t, t.TempDir(), "cluster", nil, password)
	out := whole.start(t)
	u, err := url.Parse(out)
	if err != nil {
		t.Fatalf("redistest: cluster URL %q: %v", out, err)
	}
	addrs := append([]string{u.Host}, u.Query()["addr"]...)
	c := &Cluster{Password: password}
	for i, addr := range addrs {
		node := newServer(t, filepath.Join(whole.dir, strconv.Itoa(i+1)), "node", nil, password)
		node.URL = "redis://" + addr + "/0"
		c.Nodes = append(c.Nodes, node)
	}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	c.URL = u.String()
	c.admin = redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs, Password: password, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1,
	})
	t.Cleanup(func() { _ = c.admin.Close() })
	return c
}

// Client is a cluster client of the test's own, for what the stores do
// not do: finding where a key is, reading keys behind their backs.
func (c *Cluster) Client() *redis.ClusterClient { return c.admin }

// NodeOf is the primary that holds key's slot.
func (c *Cluster) NodeOf(t testing.TB, key string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slot, err := c.admin.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("redistest: CLUSTER KEYSLOT %s: %v", key, err)
	}
	return c.nodeOfSlot(t, int(slot))
}

// nodeOfSlot is the primary that holds slot, as the cluster reports it.
func (c *Cluster) nodeOfSlot(t testing.TB, slot int) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slots, err := c.admin.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: CLUSTER SLOTS: %v", err)
	}
	for _, r := range slots {
		if r.Start <= slot && slot <= r.End && len(r.Nodes) > 0 {
			for _, n := range c.Nodes {
				if n.Addr() == r.Nodes[0].Addr {
					return n
				}
			}
			t.Fatalf("redistest: slot %d is on %s, none of the cluster's nodes", slot, r.Nodes[0].Addr)
		}
	}
	t.Fatalf("redistest: no node holds slot %d", slot)
	return nil
}

// WaitOK waits until every node reports cluster_state:ok, as after a
// Restart, failing the test after d.
func (c *Cluster) WaitOK(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := c.ok()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waited %v for cluster_state:ok: %v\n%s", d, err, c.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) ok() error {
	for _, n := range c.Nodes {
		client := redis.NewClient(&redis.Options{
			Addr: n.Addr(), Password: c.Password, DisableIdentity: true,
			DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1,
		})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		info, err := client.ClusterInfo(ctx).Result()
		cancel()
		_ = client.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", n.Addr(), err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New(n.Addr() + ": cluster_state is not ok")
		}
	}
	return nil
}

// Log is what every node has logged so far, for a failing test to show.
func (c *Cluster) Log() string {
	var b strings.Builder
	for i, n := range c.Nodes {
		fmt.Fprintf(&b, "node %d (%s) log:\n%s\n", i+1, n.Addr(), n.Log())
	}
	return b.String()
}

// MoveSlot moves slot, and the keys in it, to the primary to, as
// resharding does (redis-cli --cluster reshard): IMPORTING on to,
// MIGRATING on the primary that holds it, MIGRATE of every key, then
// SETSLOT NODE on every node. It calls during (unless nil) while the
// slot is half moved: importing and migrating, no key moved yet.
func (c *Cluster) MoveSlot(t testing.TB, slot int, to *Server, during func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := map[*Server]*redis.Client{}
	ids := map[*Server]string{}
	for _, n := range c.Nodes {
		client := redis.NewClient(&redis.Options{
			Addr: n.Addr(), Password: c.Password, DisableIdentity: true,
			DialTimeout: time.Second, ReadTimeout: 5 * time.Second, MaxRetries: -1,
		})
		defer client.Close()
		id, err := client.ClusterMyID(ctx).Result()
		if err != nil {
			t.Fatalf("redistest: CLUSTER MYID on %s: %v", n.Addr(), err)
		}
		clients[n], ids[n] = client, id
	}
	from := c.nodeOfSlot(t, slot)
	if from == to {
		t.Fatalf("redistest: slot %d is on %s already", slot, to.Addr())
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("redistest: moving slot %d from %s to %s: %s: %v", slot, from.Addr(), to.Addr(), what, err)
		}
	}
	must("IMPORTING", clients[to].Do(ctx, "cluster", "setslot", slot, "importing", ids[from]).Err())
	must("MIGRATING", clients[from].Do(ctx, "cluster", "setslot", slot, "migrating", ids[to]).Err())
	if during != nil {
		during()
	}
	host, port, _ := strings.Cut(to.Addr(), ":")
	for {
		keys, err := clients[from].ClusterGetKeysInSlot(ctx, slot, 100).Result()
		must("GETKEYSINSLOT", err)
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", host, port, "", 0, 5000}
		if c.Password != "" {
			args = append(args, "auth", c.Password)
		}
		args = append(args, "keys")
		for _, k := range keys {
			args = append(args, k)
		}
		must("MIGRATE", clients[from].Do(ctx, args...).Err())
	}
	// The new owner first, then the old one, then the rest (as redis-cli
	// does), so that no node sends a client to one that refuses the slot.
	must("SETSLOT NODE", clients[to].Do(ctx, "cluster", "setslot", slot, "node", ids[to]).Err())
	must("SETSLOT NODE", clients[from].Do(ctx, "cluster", "setslot", slot, "node", ids[to]).Err())
	for _, n := range c.Nodes {
		if n != to && n != from {
			must("SETSLOT NODE", clients[n].Do(ctx, "cluster", "setslot", slot, "node", ids[to]).Err())
		}
	}
}
