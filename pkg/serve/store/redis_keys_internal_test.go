package store

import (
	"hash/fnv"
	"strconv"
	"testing"
)

// TestRedisKeyNames pins the key scheme. On one Redis and through
// Sentinels the names are what they have always been, so an upgrade finds
// the jtis, revocations and sessions an older instance wrote; on a Redis
// Cluster the keys a script or a MULTI uses together share a hash tag.
func TestRedisKeyNames(t *testing.T) {
	open := func(url string) *Redis {
		t.Helper()
		r, err := NewRedis(RedisOptions{URL: url, Prefix: "ssoctl:demo:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	plain := open("redis://127.0.0.1:1/0")
	sentinel := open("redis://127.0.0.1:1/0?master_name=mymaster")
	cluster := open("redis://127.0.0.1:1/0?cluster=true&addr=127.0.0.1:2")
	names := func(r *Redis) []string {
		portal, shared, oidc := r.Under("portal:"), r.Under("shared:"), r.Under("issuer:oidc:").Records()
		return []string{
			portal.jtiKey(7, "abc"), portal.epochKey(7), portal.pattern("jti"),
			shared.revokedKey("s1"), shared.revocationsChannel(), shared.pattern("revoked"),
			oidc.key("id"), oidc.index("sub:x"), oidc.lockKey("recheck:id"),
		}
	}
	tests := []struct {
		name string
		r    *Redis
		want []string
	}{
		{
			name: "one Redis: unchanged",
			r:    plain,
			want: []string{
				"ssoctl:demo:portal:jti:abc", "ssoctl:demo:portal:epoch", "ssoctl:demo:portal:jti:*",
				"ssoctl:demo:shared:revoked:s1", "ssoctl:demo:shared:revocations", "ssoctl:demo:shared:revoked:*",
				"ssoctl:demo:issuer:oidc:rec:id", "ssoctl:demo:issuer:oidc:idx:sub:x", "ssoctl:demo:issuer:oidc:lock:recheck:id",
			},
		},
		{
			name: "Sentinel: unchanged",
			r:    sentinel,
			want: []string{
				"ssoctl:demo:portal:jti:abc", "ssoctl:demo:portal:epoch", "ssoctl:demo:portal:jti:*",
				"ssoctl:demo:shared:revoked:s1", "ssoctl:demo:shared:revocations", "ssoctl:demo:shared:revoked:*",
				"ssoctl:demo:issuer:oidc:rec:id", "ssoctl:demo:issuer:oidc:idx:sub:x", "ssoctl:demo:issuer:oidc:lock:recheck:id",
			},
		},
		{
			name: "cluster: a jti with its bucket's epoch, the revocations together, records apart",
			r:    cluster,
			want: []string{
				"{ssoctl:demo:portal:07:}jti:abc", "{ssoctl:demo:portal:07:}epoch", "{ssoctl:demo:portal:[0-9][0-9]:}jti:*",
				"{ssoctl:demo:shared:}revoked:s1", "{ssoctl:demo:shared:}revocations", "{ssoctl:demo:shared:}revoked:*",
				"ssoctl:demo:issuer:oidc:rec:id", "ssoctl:demo:issuer:oidc:idx:sub:x", "ssoctl:demo:issuer:oidc:lock:recheck:id",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(tt.r)
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Errorf("key %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestRedisClusterBuckets: every instance must put a jti in the same
// bucket, so the hash is pinned; and the jtis spread evenly over the
// buckets, so over the primaries.
func TestRedisClusterBuckets(t *testing.T) {
	r, err := NewRedis(RedisOptions{URL: "redis://127.0.0.1:1/0?cluster=true", Prefix: "p:"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for jti, want := range map[string]int{"": 5, "a": 44, "abc": 11, "0196f7c2-0f7b-7c3e-9d2a-5b1e8f3a6c4d": 60} {
		h := fnv.New32a()
		h.Write([]byte(jti))
		if got := r.bucket(jti); got != want || got != int(h.Sum32()%clusterBuckets) {
			t.Errorf("bucket(%q) = %d, want %d (FNV-1a mod 64: every instance must agree)", jti, got, want)
		}
	}
	const n = 64 * 200
	counts := make([]int, clusterBuckets)
	for i := range n {
		counts[r.bucket("jti-"+strconv.Itoa(i))]++
	}
	for b, c := range counts {
		if c < n/64/2 || c > n/64*2 {
			t.Errorf("bucket %d holds %d of %d jtis, want about %d", b, c, n, n/64)
		}
	}
	plain, err := NewRedis(RedisOptions{URL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.bucket("abc") != 0 || plain.buckets() != 1 {
		t.Error("one Redis keeps more than one epoch")
	}
}
