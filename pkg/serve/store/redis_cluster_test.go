package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// clusterPassword protects every node of the cluster tests, so that they
// also check that the URL's password reaches each node and never an error.
const clusterPassword = "c1uster-LEAK"

// TestRedisClusterContract runs the store contract, and the record and
// sharing tests, on a three-primary Redis Cluster: none of what the
// stores send may fail with CROSSSLOT or MOVED.
func TestRedisClusterContract(t *testing.T) {
	url := redistest.StartCluster(t, clusterPassword).URL
	contracts(t, url)
	t.Run("instances share state", func(t *testing.T) { instancesShareState(t, url) })
	t.Run("records compare-and-set", func(t *testing.T) { recordsCompareAndSet(t, url) })
	t.Run("records expire and index", func(t *testing.T) { recordsExpireAndIndex(t, url) })
	t.Run("records lock", func(t *testing.T) { recordsLock(t, url) })
}

// clusterKeys is every key under a pattern on every primary, by the
// primary's address.
func clusterKeys(t *testing.T, c *redistest.Cluster, pattern string) map[string][]string {
	t.Helper()
	var mu sync.Mutex
	keys := map[string][]string{}
	err := c.Client().ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
		var found []string
		it := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			found = append(found, it.Val())
		}
		mu.Lock()
		keys[node.Options().Addr] = found
		mu.Unlock()
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRedisClusterKeys: the keys one script or MULTI writes together are
// in one slot; the jtis, written one key at a time but each with its
// bucket's epoch, spread over every primary, and so do the records.
func TestRedisClusterKeys(t *testing.T) {
	c := redistest.StartCluster(t, clusterPassword)
	ctx := context.Background()
	admin := c.Client()
	slot := func(key string) int64 {
		t.Helper()
		n, err := admin.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const prefix = "ssoctl:keys:"
	r := newRedis(t, c.URL, prefix)
	until := time.Now().Add(time.Minute)

	t.Run("a jti beside its bucket's epoch, the jtis over every primary", func(t *testing.T) {
		replay := r.Under("portal:").Replay()
		const n = 300
		for i := range n {
			if fresh, err := replay.Consume(ctx, fmt.Sprintf("jti-%d", i), until); !fresh || err != nil {
				t.Fatalf("Consume(jti-%d) = %v, %v", i, fresh, err)
			}
		}
		total := 0
		for addr, keys := range clusterKeys(t, c, "{"+prefix+"portal:*}jti:*") {
			t.Logf("primary %s holds %d of the %d jtis", addr, len(keys), n)
			if len(keys) < n/10 {
				t.Errorf("primary %s holds %d of %d jtis, want them spread over every primary", addr, len(keys), n)
			}
			total += len(keys)
			for _, k := range keys {
				tag, _, ok := strings.Cut(k, "jti:")
				epoch := tag + "epoch"
				if !ok || slot(k) != slot(epoch) || admin.Exists(ctx, epoch).Val() != 1 {
					t.Fatalf("jti key %s: its epoch %s is missing or in another slot", k, epoch)
				}
			}
		}
		if total != n {
			t.Errorf("found %d jti keys, want %d", total, n)
		}
		if got := replay.Len(); got != n {
			t.Errorf("Len() = %d, want %d (counted on every primary)", got, n)
		}
	})

	t.Run("a revocation's key and its channels in one slot", func(t *testing.T) {
		shared := r.Under("shared:")
		s := mirrored(t, c.URL, prefix+"shared:", store.RedisOptions{})
		if err := shared.Revocations().Revoke(ctx, "s1", until); err != nil {
			t.Fatal(err)
		}
		key, channel := "{"+prefix+"shared:}revoked:s1", "{"+prefix+"shared:}revocations"
		if admin.Exists(ctx, key).Val() != 1 {
			t.Fatalf("no key %s", key)
		}
		if slot(key) != slot(channel) || slot(key) != slot("{"+prefix+"shared:}revoked:another") {
			t.Errorf("the revocation keys and their channel are in different slots")
		}
		waitFor(t, 3*time.Second, "the mirror to see s1", func() bool { return revokedCount(t, s, "s1") == 1 })
		if got := shared.Revocations().Len(); got != 1 {
			t.Errorf("Len() = %d, want 1", got)
		}
	})

	t.Run("records over every primary, an index outliving its record", func(t *testing.T) {
		recs := r.Under("oidc:").Records()
		const n = 60
		for i := range n {
			if err := recs.Put(ctx, fmt.Sprintf("s%d", i), []byte("v"), until, "sub:alice", fmt.Sprintf("sid:%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		held := clusterKeys(t, c, prefix+"oidc:rec:*")
		for addr, keys := range held {
			if len(keys) == 0 {
				t.Errorf("primary %s holds none of %d records", addr, n)
			}
		}
		ids, err := recs.Indexed(ctx, "sub:alice")
		if err != nil || len(ids) != n {
			t.Fatalf("Indexed(sub:alice) = %d ids, %v; want %d", len(ids), err, n)
		}
		rec, index := admin.PTTL(ctx, prefix+"oidc:rec:s0").Val(), admin.PTTL(ctx, prefix+"oidc:idx:sid:0").Val()
		if index < rec+50*time.Second {
			t.Errorf("index ttl %v, record ttl %v: want the index to outlive the record by its slack", index, rec)
		}
	})
}

// TestRedisClusterPrimaryDown stops the primary that holds the
// revocations and some of the jtis' buckets, as a crash would: what is on
// it fails closed with ErrUnavailable, quickly, and readiness with it,
// while the jtis on the other primaries still answer. Restarted (empty, on
// its port, with its slots) everything works again through the same
// stores; the replay store refuses the tokens whose jtis it lost
// (ErrRecordsLost), not the others, and the mirror is trusted again.
func TestRedisClusterPrimaryDown(t *testing.T) {
	c := redistest.StartCluster(t, clusterPassword)
	ctx := context.Background()
	const prefix = "ssoctl:down:"
	const lease = 500 * time.Millisecond
	r := newRedis(t, c.URL, prefix)
	replay := r.Replay()
	other := mirrored(t, c.URL, prefix, store.RedisOptions{MirrorLease: lease}) // another instance, answering from its mirror
	until := time.Now().Add(time.Minute)
	issued := time.Now().Add(-time.Second)

	if err := replay.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if fresh, err := replay.ConsumeIssued(ctx, fmt.Sprintf("j%d", i), issued, until); !fresh || err != nil {
			t.Fatalf("Consume(j%d) = %v, %v", i, fresh, err)
		}
	}
	if err := r.Revocations().Revoke(ctx, "s-before", until); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the mirror to see s-before", func() bool { return revokedCount(t, other, "s-before") == 1 })

	down := c.NodeOf(t, "{"+prefix+"}revoked:s-before")
	var onDown, elsewhere []string // jtis
	for addr, keys := range clusterKeys(t, c, "{"+prefix+"*}jti:*") {
		for _, k := range keys {
			_, jti, _ := strings.Cut(k, "}jti:")
			if addr == down.Addr() {
				onDown = append(onDown, jti)
			} else {
				elsewhere = append(elsewhere, jti)
			}
		}
	}
	if len(onDown) == 0 || len(elsewhere) == 0 {
		t.Fatalf("%d jtis on the primary to stop and %d elsewhere: want some of each", len(onDown), len(elsewhere))
	}

	down.Stop(t)
	timed := func(what string, call func() error) error {
		t.Helper()
		start := time.Now()
		err := call()
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("primary down: %s took %v, want under 2s", what, took)
		}
		if err != nil && strings.Contains(err.Error(), clusterPassword) {
			t.Errorf("primary down: %s: the error repeats the password: %v", what, err)
		}
		return err
	}
	for _, call := range []struct {
		name string
		call func() error
	}{
		{"Ping (readiness)", func() error { return r.Ping(ctx) }},
		{"Refresh (readiness)", func() error { return replay.Refresh(ctx) }},
		{"Consume of a jti on it", func() error {
			_, err := replay.ConsumeIssued(ctx, onDown[0], issued, until)
			return err
		}},
		{"Revoke", func() error { return r.Revocations().Revoke(ctx, "s-down", until) }},
		{"Revoked without a mirror", func() error { _, err := r.Revocations().Revoked(ctx, "s-before"); return err }},
	} {
		if err := timed(call.name, call.call); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("primary down: %s: %v, want an error wrapping ErrUnavailable", call.name, err)
		}
	}
	for _, jti := range elsewhere[:5] {
		var fresh bool
		err := timed("Consume elsewhere", func() (err error) {
			fresh, err = replay.ConsumeIssued(ctx, jti, issued, until)
			return err
		})
		if fresh || err != nil {
			t.Errorf("primary down: a jti used on a primary still up = %v, %v; want used", fresh, err)
		}
	}
	waitFailClosed(t, other, "s-before", "primary down", lease+time.Second)

	down.Restart(t)
	c.WaitOK(t, 20*time.Second)
	waitFor(t, 15*time.Second, "the stores to answer again", func() bool { return r.Ping(ctx) == nil && replay.Refresh(ctx) == nil })
	for _, jti := range onDown {
		if fresh, err := replay.ConsumeIssued(ctx, jti, issued, until); fresh || !errors.Is(err, store.ErrRecordsLost) {
			t.Fatalf("restarted empty: a jti it held, issued before = %v, %v; want ErrRecordsLost", fresh, err)
		}
	}
	for _, jti := range elsewhere {
		if fresh, err := replay.ConsumeIssued(ctx, jti, issued, until); fresh || err != nil {
			t.Fatalf("a jti on a primary that stayed up = %v, %v; want used, not lost", fresh, err)
		}
	}
	time.Sleep(5 * time.Millisecond) // a token issued after the reset, to the millisecond
	for i := range 20 {
		jti := fmt.Sprintf("after-%d", i)
		if fresh, err := replay.ConsumeIssued(ctx, jti, time.Now(), until); !fresh || err != nil {
			t.Fatalf("a token issued after the restart = %v, %v; want fresh", fresh, err)
		}
	}
	if err := r.Revocations().Revoke(ctx, "s-after", until); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the mirror to be current again and hold s-after", func() bool {
		return other.Current() && revokedCount(t, other, "s-after") == 1
	})
}

// TestRedisClusterUnavailable: nodes that do not answer, or refuse the
// password, fail every call with ErrUnavailable, quickly, saying why
// without the password.
func TestRedisClusterUnavailable(t *testing.T) {
	c := redistest.StartCluster(t, clusterPassword)
	tests := []struct {
		name string
		url  string
		want string
	}{
		{
			name: "no node listening",
			url:  "redis://:" + clusterPassword + "@" + closedAddr(t) + "/0?cluster=true",
			want: "connection refused",
		},
		{
			name: "a password the nodes refuse",
			url:  strings.Replace(c.URL, clusterPassword, clusterPassword+"-wrong", 1),
			want: "WRONGPASS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failsUnavailable(t, newRedis(t, tt.url, "ssoctl:unavailable:"), tt.want, clusterPassword)
		})
	}
}

// TestRedisClusterReshard moves the revocations' slot to another primary
// while the stores use it, as resharding does: writes follow the slot
// (MOVED), the revocations move with it, and an instance's mirror, whose
// subscription the old primary ends (sunsubscribe), subscribes on the new
// one and is trusted again; it never answers "not revoked" from the old
// primary meanwhile. Then it moves a jti bucket's slot.
func TestRedisClusterReshard(t *testing.T) {
	c := redistest.StartCluster(t, clusterPassword)
	ctx := context.Background()
	const prefix = "ssoctl:reshard:"
	const lease = 500 * time.Millisecond
	r := newRedis(t, c.URL, prefix)
	watcher := mirrored(t, c.URL, prefix, store.RedisOptions{MirrorLease: lease})
	until := time.Now().Add(time.Minute)
	if err := r.Revocations().Revoke(ctx, "s-before", until); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the mirror to see s-before", func() bool { return revokedCount(t, watcher, "s-before") == 1 })

	key, channel := "{"+prefix+"}revoked:s-before", "{"+prefix+"}revocations"
	slot, err := c.Client().ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	from := c.NodeOf(t, key)
	to := c.Nodes[0]
	if to == from {
		to = c.Nodes[1]
	}
	moved := time.Now()
	c.MoveSlot(t, int(slot), to, func() {
		// Half moved: the subscription is still on the old primary, and a
		// revocation of a session not yet revoked would run on the new one
		// (ASK) if Redis let it, where the mirror would not hear of it. It
		// is refused instead (TRYAGAIN: its MULTI has two keys, one
		// missing), or accepted and then heard: either way the mirror
		// never answers "not revoked" for it, and it is not trusted while
		// its heartbeats, which go the same way, go unheard.
		err := r.Revocations().Revoke(ctx, "s-during", until)
		t.Logf("Revoke while the slot moves: %v", err)
		if err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Revoke while the slot moves: %v, want it done or ErrUnavailable", err)
		}
		revoked := err == nil
		time.Sleep(lease + 200*time.Millisecond)
		if got, err := watcher.Revoked(ctx, "s-during"); revoked && err == nil && !got {
			t.Fatalf("a lease after a revocation made while the slot moves, the mirror answers not revoked (current %v)", watcher.Current())
		}
		if watcher.Current() {
			t.Error("the mirror is trusted while its slot moves")
		}
	})
	// The identity provider tries a refused logout again.
	if err := r.Revocations().Revoke(ctx, "s-during", until); err != nil {
		t.Fatalf("Revoke after the move: %v", err)
	}
	if got := c.NodeOf(t, key); got != to {
		t.Fatalf("the slot is on %s after the move, want %s", got.Addr(), to.Addr())
	}

	if err := r.Revocations().Revoke(ctx, "s-after", until); err != nil {
		t.Fatalf("Revoke after the move: %v", err)
	}
	time.Sleep(lease + 200*time.Millisecond)
	if got, err := watcher.Revoked(ctx, "s-after"); !got && !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a lease after a revocation on the new primary, the mirror answers %v, %v (current %v); want revoked or ErrUnavailable",
			got, err, watcher.Current())
	}
	waitFor(t, 10*time.Second, "the mirror to be current again, holding s-before, s-during and s-after", func() bool {
		return watcher.Current() && revokedCount(t, watcher, "s-before", "s-during", "s-after") == 3
	})
	t.Logf("the mirror was current again %v after the move began", time.Since(moved).Round(time.Millisecond))

	node := redis.NewClient(&redis.Options{Addr: to.Addr(), Password: clusterPassword, DisableIdentity: true})
	defer node.Close()
	if subs, err := node.PubSubShardNumSub(ctx, channel).Result(); err != nil || subs[channel] < 1 {
		t.Errorf("PUBSUB SHARDNUMSUB on the new primary = %v, %v; want the mirror subscribed there", subs, err)
	}

	// A jti bucket's slot moves: readiness (Refresh) stays green all along,
	// a handoff in that bucket is taken once or refused (TRYAGAIN), and
	// the jtis used before are still used after.
	replay := r.Replay()
	if err := replay.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := replay.Consume(ctx, fmt.Sprintf("j%d", i), until); err != nil {
			t.Fatal(err)
		}
	}
	epoch := "{" + prefix + "00:}epoch"
	bucketSlot, err := c.Client().ClusterKeySlot(ctx, epoch).Result()
	if err != nil {
		t.Fatal(err)
	}
	from = c.NodeOf(t, epoch)
	to = c.Nodes[0]
	if to == from {
		to = c.Nodes[1]
	}
	var used []string // jtis in bucket 00
	for _, keys := range clusterKeys(t, c, "{"+prefix+"00:}jti:*") {
		for _, k := range keys {
			used = append(used, strings.TrimPrefix(k, "{"+prefix+"00:}jti:"))
		}
	}
	if len(used) == 0 {
		t.Fatal("no jti in bucket 00")
	}
	t.Logf("%d jtis in the bucket whose slot moves", len(used))
	c.MoveSlot(t, int(bucketSlot), to, func() {
		if err := replay.Refresh(ctx); err != nil {
			t.Errorf("Refresh (readiness) while a bucket's slot moves: %v, want nil", err)
		}
		for _, jti := range used {
			if fresh, err := replay.Consume(ctx, jti, until); fresh || (err != nil && !errors.Is(err, store.ErrUnavailable)) {
				t.Errorf("while its slot moves, a jti used before = %v, %v; want used or ErrUnavailable", fresh, err)
			}
		}
	})
	if err := replay.Refresh(ctx); err != nil {
		t.Errorf("Refresh after the move: %v", err)
	}
	for _, jti := range used {
		if fresh, err := replay.Consume(ctx, jti, until); fresh || err != nil {
			t.Errorf("after its slot moved, a jti used before = %v, %v; want used", fresh, err)
		}
	}
}

// TestRedisClusterHanging freezes one primary (SIGSTOP), as a wedged node
// or a network that drops its packets would: a call that needs it fails
// closed within about two timeouts, as on one Redis, although the cluster
// client would try it again, ask another node and try it once more; calls
// that need only the others go on. Let go, it answers again.
func TestRedisClusterHanging(t *testing.T) {
	c := redistest.StartCluster(t, "")
	const prefix = "ssoctl:hang:"
	ctx := context.Background()
	r := newRedis(t, c.URL, prefix) // 250 ms timeouts
	replay := r.Replay()
	until := time.Now().Add(time.Minute)
	for i := range 30 {
		if _, err := replay.Consume(ctx, fmt.Sprintf("j%d", i), until); err != nil {
			t.Fatal(err)
		}
	}
	frozen := c.NodeOf(t, "{"+prefix+"00:}epoch")
	var on, off string // a jti on the frozen primary, one elsewhere
	for addr, keys := range clusterKeys(t, c, "{"+prefix+"*}jti:*") {
		for _, k := range keys {
			_, jti, _ := strings.Cut(k, "}jti:")
			if addr == frozen.Addr() {
				on = jti
			} else {
				off = jti
			}
		}
	}
	if on == "" || off == "" {
		t.Fatal("no jti on the primary to freeze, or none elsewhere")
	}

	frozen.Pause(t)
	for _, call := range []struct {
		name string
		call func() error
		down bool
	}{
		{"Consume of a jti on it", func() error { _, err := replay.Consume(ctx, on, until); return err }, true},
		{"Refresh (readiness)", func() error { return replay.Refresh(ctx) }, true},
		{"Ping (readiness)", func() error { return r.Ping(ctx) }, true},
		{"Consume of a jti elsewhere", func() error { _, err := replay.Consume(ctx, off, until); return err }, false},
	} {
		start := time.Now()
		err := call.call()
		took := time.Since(start)
		t.Logf("primary frozen: %s: %v in %v", call.name, err, took.Round(time.Millisecond))
		if call.down && !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("primary frozen: %s: %v, want an error wrapping ErrUnavailable", call.name, err)
		}
		if !call.down && err != nil {
			t.Errorf("primary frozen: %s: %v, want an answer", call.name, err)
		}
		if took > 1500*time.Millisecond {
			t.Errorf("primary frozen: %s took %v, want about two 250ms timeouts", call.name, took)
		}
	}
	frozen.Resume(t)
	waitFor(t, 10*time.Second, "the frozen primary to answer again", func() bool { return replay.Refresh(ctx) == nil })
	if fresh, err := replay.Consume(ctx, on, until); fresh || err != nil {
		t.Errorf("after the freeze, a jti used before = %v, %v; want used", fresh, err)
	}
}
