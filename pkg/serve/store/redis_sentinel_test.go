package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// sentinelPassword protects every server of the Sentinel tests, so that
// they also check that the URL's password reaches the data nodes and never
// an error.
const sentinelPassword = "s3ntinel-LEAK"

func TestRedisSentinelContract(t *testing.T) {
	contracts(t, redistest.StartSentinel(t, sentinelPassword).URL)
}

// TestRedisSentinelFailover: what was written and replicated before a
// failover is still there after it, through the same store objects; writes
// go to the new primary once the client has followed it; and an instance's
// revocation mirror follows it too, hearing of revocations made there.
func TestRedisSentinelFailover(t *testing.T) {
	setup := time.Now()
	st := redistest.StartSentinel(t, sentinelPassword)
	ctx := context.Background()
	const prefix = "ssoctl:failover:"
	until := time.Now().Add(5 * time.Minute)
	watcher := mirrored(t, st.URL, prefix, store.RedisOptions{}) // an instance answering from its mirror
	r := newRedis(t, st.URL, prefix)                             // another instance
	replay, revocations := r.Replay(), r.Revocations()

	if fresh, err := replay.Consume(ctx, "j-before", until); !fresh || err != nil {
		t.Fatalf("before the failover: Consume = %v, %v; want fresh", fresh, err)
	}
	if err := revocations.Revoke(ctx, "s-before", until); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the mirror to see s-before", func() bool { return revokedCount(t, watcher, "s-before") == 1 })
	// Replicated before the failover: what was not can be lost, as with
	// any asynchronous replica (docs/stores.md).
	if n, err := st.Client(t, st.Primary.Addr()).Do(ctx, "wait", 1, 5000).Int(); n != 1 || err != nil {
		t.Fatalf("WAIT 1 5000 on the primary = %d, %v; want the replica to have acknowledged", n, err)
	}

	t.Logf("set up in %v", time.Since(setup).Round(time.Millisecond))
	start := time.Now()
	st.Failover(t)
	t.Logf("the Sentinel reported the replica as the primary %v after SENTINEL FAILOVER", time.Since(start).Round(time.Millisecond))

	// Until go-redis hears of the switch (+switch-master) its connections
	// may still reach the old primary, which accepts writes until the
	// Sentinel turns it into a replica. Settle: a fresh jti's key must be
	// on the new primary.
	primary := st.Client(t, st.Replica.Addr())
	settle := time.Now()
	for i := 0; ; i++ {
		jti := fmt.Sprintf("j-probe-%d", i)
		fresh, err := replay.Consume(ctx, jti, until)
		if err == nil && fresh && primary.Exists(ctx, prefix+"jti:"+jti).Val() == 1 {
			break
		}
		if time.Since(settle) > 15*time.Second {
			t.Fatalf("15s after the failover, writes do not reach the new primary (last: %v, %v)", fresh, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("writes reached the new primary %v after the failover", time.Since(settle).Round(time.Millisecond))

	if fresh, err := replay.Consume(ctx, "j-before", until); fresh || err != nil {
		t.Errorf("after the failover: the jti used before = %v, %v; want refused as used", fresh, err)
	}
	if got, err := revocations.Revoked(ctx, "s-before"); !got || err != nil {
		t.Errorf("after the failover: Revoked(s-before) = %v, %v; want true", got, err)
	}
	if fresh, err := replay.Consume(ctx, "j-after", until); !fresh || err != nil {
		t.Errorf("after the failover: a new jti = %v, %v; want fresh", fresh, err)
	}
	if fresh, err := replay.Consume(ctx, "j-after", until); fresh || err != nil {
		t.Errorf("after the failover: the new jti again = %v, %v; want used", fresh, err)
	}
	if primary.Exists(ctx, prefix+"jti:j-after").Val() != 1 {
		t.Error("the new jti is not on the new primary")
	}

	// The mirror: current again, and a revocation made on the new primary
	// by the other instance reaches it within a lease, or it fails closed;
	// it never answers "not revoked" from a subscription left on the old
	// primary.
	if err := revocations.Revoke(ctx, "s-after", until); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	time.Sleep(store.DefaultMirrorLease + 200*time.Millisecond)
	if got, err := watcher.Revoked(ctx, "s-after"); !got && !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a lease after a revocation on the new primary, the mirror answers %v, %v (current %v); want revoked or ErrUnavailable",
			got, err, watcher.Current())
	}
	waitFor(t, 15*time.Second, "the mirror to be current and hold s-after and s-before", func() bool {
		return watcher.Current() && revokedCount(t, watcher, "s-after", "s-before") == 2
	})
	t.Logf("the mirror was current again, holding s-after, %v after the revocation", time.Since(revoked).Round(time.Millisecond))
}

// TestRedisSentinelUnavailable: Sentinels that do not answer, or do not
// know the master name, or refuse the password, fail every call with
// ErrUnavailable, quickly, saying why without the password.
func TestRedisSentinelUnavailable(t *testing.T) {
	st := redistest.StartSentinel(t, sentinelPassword)
	tests := []struct {
		name string
		url  string
		want string // in the error
	}{
		{
			name: "nothing listening",
			url:  "redis://:" + sentinelPassword + "@" + closedAddr(t) + "/0?master_name=mymaster",
			want: "connection refused",
		},
		{
			name: "a master name the Sentinel does not know",
			url:  strings.Replace(st.URL, "master_name=mymaster", "master_name=nosuch", 1),
			want: "no Sentinel knows the primary by the URL's master_name",
		},
		{
			name: "a password the Sentinel refuses",
			url:  strings.Replace(st.URL, sentinelPassword, sentinelPassword+"-wrong", 1),
			want: "WRONGPASS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failsUnavailable(t, newRedis(t, tt.url, "ssoctl:unavailable:"), tt.want, sentinelPassword)
		})
	}
}
