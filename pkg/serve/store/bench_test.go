package store_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// jtis returns n distinct jti strings shaped like the issuer's: 128 random
// bits in unpadded base64url, 22 characters.
func jtis(n int) []string {
	out := make([]string, n)
	var b [16]byte
	for i := range out {
		binary.LittleEndian.PutUint64(b[:8], uint64(i))
		binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
		out[i] = base64.RawURLEncoding.EncodeToString(b[:])
	}
	return out
}

// BenchmarkConsume measures a receiver's replay check. Entries live about
// 50 ms of wall time, so the store sits at a steady state of many thousand
// live jtis, sweeping as it inserts, as a busy receiver would. The until is
// refreshed every 1,024 calls so that the benchmark's own clock reads do
// not count against the store (which reads the clock once a call).
func BenchmarkConsume(b *testing.B) {
	pool := jtis(1 << 20)
	ctx := context.Background()
	const ttl = 50 * time.Millisecond
	b.Run("serial", func(b *testing.B) {
		s := store.NewMemoryReplay(store.MemoryOptions{})
		b.ReportAllocs()
		i := 0
		var until time.Time
		for b.Loop() {
			if i&1023 == 0 {
				until = time.Now().Add(ttl)
			}
			if _, err := s.Consume(ctx, pool[i&(len(pool)-1)], until); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(s.Len()), "live")
	})
	b.Run("parallel", func(b *testing.B) {
		s := store.NewMemoryReplay(store.MemoryOptions{})
		var next atomic.Uint64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1) * 7919)
			var until time.Time
			for pb.Next() {
				if i&1023 == 0 || until.IsZero() {
					until = time.Now().Add(ttl)
				}
				if _, err := s.Consume(ctx, pool[i&(len(pool)-1)], until); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(s.Len()), "live")
	})
	b.Run("replayed", func(b *testing.B) {
		s := store.NewMemoryReplay(store.MemoryOptions{})
		until := time.Now().Add(time.Hour)
		for _, j := range pool[:1024] {
			s.Consume(ctx, j, until)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if fresh, _ := s.Consume(ctx, pool[i&1023], until); fresh {
					b.Error("a used jti was fresh")
					return
				}
				i++
			}
		})
	})
}

// BenchmarkRevoked measures the forward-auth path's revocation check for a
// session that is not revoked, the common case.
func BenchmarkRevoked(b *testing.B) {
	ctx := context.Background()
	asked := make([]string, 1024)
	for i := range asked {
		asked[i] = "kratos-session-" + strconv.Itoa(i)
	}
	for _, tt := range []struct {
		name    string
		revoked int
	}{
		{name: "empty", revoked: 0},
		{name: "100k", revoked: 100_000},
	} {
		b.Run(tt.name, func(b *testing.B) {
			s := store.NewMemoryRevocations(store.MemoryOptions{})
			until := time.Now().Add(time.Hour)
			for i := range tt.revoked {
				if err := s.Revoke(ctx, "revoked-session-"+strconv.Itoa(i), until); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if r, _ := s.Revoked(ctx, asked[i&1023]); r {
						b.Error("an unrevoked session was revoked")
						return
					}
					i++
				}
			})
		})
	}
	// The same check on Redis: answered from the mirror once it is
	// current, and with one EXISTS a call without a subscription.
	if testing.Short() {
		return
	}
	url := redistest.Start(b)
	for _, tt := range []struct {
		name    string
		mirror  bool
		revoked int
	}{
		{name: "redis-mirror-empty", mirror: true},
		{name: "redis-mirror-1k", mirror: true, revoked: 1000},
		{name: "redis-exists", revoked: 1000},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r, err := store.NewRedis(store.RedisOptions{URL: url, Prefix: "ssoctl:bench:" + tt.name + ":"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			s := r.Revocations()
			until := time.Now().Add(time.Hour)
			for i := range tt.revoked {
				if err := s.Revoke(ctx, "revoked-session-"+strconv.Itoa(i), until); err != nil {
					b.Fatal(err)
				}
			}
			if tt.mirror {
				sctx, cancel := context.WithCancel(ctx)
				defer cancel()
				if err := s.Subscribe(sctx, func(string) {}); err != nil {
					b.Fatal(err)
				}
				for deadline := time.Now().Add(5 * time.Second); !s.Current(); time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						b.Fatal("the mirror did not become current")
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if r, err := s.Revoked(ctx, asked[i&1023]); r || err != nil {
						b.Errorf("an unrevoked session: Revoked = %v, %v", r, err)
						return
					}
					i++
				}
			})
			b.StopTimer()
			if tt.mirror && !s.Current() {
				b.Error("the mirror stopped being current during the run")
			}
		})
	}
}

// BenchmarkReplayMemory1M fills a replay store with one million live
// 22-character jtis and reports what it costs: heap bytes per jti and the
// process's resident set (run it alone, once: go test -run '^$' -bench
// 'ReplayMemory1M$' -benchtime 1x). The target is under 200 MB RSS at 1 M
// jtis.
func BenchmarkReplayMemory1M(b *testing.B) { benchReplayMemory(b, 1_000_000) }

// BenchmarkReplayMemory100k is BenchmarkReplayMemory1M at 100,000 jtis, a
// busy receiver's steady state at a 30 s token lifetime (~3,000 handoffs/s).
// Run it alone too: RSS is the process's, and the Go runtime keeps freed
// heap a while.
func BenchmarkReplayMemory100k(b *testing.B) { benchReplayMemory(b, 100_000) }

func benchReplayMemory(b *testing.B, n int) {
	rssBefore := procStatus("VmRSS")
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()

		s := store.NewMemoryReplay(store.MemoryOptions{MaxEntries: n})
		until := time.Now().Add(time.Hour)
		var raw [16]byte
		for i := range n {
			// Each jti is built and dropped here, as a request's would be,
			// so what stays on the heap is the store's alone.
			binary.LittleEndian.PutUint64(raw[:8], uint64(i))
			binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
			if fresh, err := s.Consume(context.Background(), base64.RawURLEncoding.EncodeToString(raw[:]), until); !fresh || err != nil {
				b.Fatalf("jti %d: %v, %v", i, fresh, err)
			}
		}

		b.StopTimer()
		if got := s.Len(); got != n {
			b.Fatalf("Len = %d", got)
		}
		runtime.GC()
		debug.FreeOSMemory()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		rss, hwm := procStatus("VmRSS"), procStatus("VmHWM")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/jti")
		b.ReportMetric(rss/(1<<20), "RSS-MB")
		b.ReportMetric(hwm/(1<<20), "peakRSS-MB")
		// What the test binary held before the store: RSS-MB minus this
		// is the store's share of the resident set.
		b.ReportMetric(rssBefore/(1<<20), "baseRSS-MB")
		runtime.KeepAlive(s)
		b.StartTimer()
	}
}

// procStatus reads a kB field of /proc/self/status in bytes (0 off Linux).
func procStatus(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkRedisConsume measures a replay check against a real Redis: one
// redis-server, and a three-primary Redis Cluster (where a jti's key
// carries its bucket's hash tag and the epoch check goes to the primary
// that holds it), serially and with 32 checks in flight, as a busy receiver
// makes them. Each check is one round trip to one server.
func BenchmarkRedisConsume(b *testing.B) {
	pool := jtis(1 << 20)
	ctx := context.Background()
	for _, where := range []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"redis", func(b *testing.B) string { return redistest.Start(b) }},
		{"cluster", func(b *testing.B) string { return redistest.StartCluster(b, "").URL }},
	} {
		b.Run(where.name, func(b *testing.B) {
			r, err := store.NewRedis(store.RedisOptions{URL: where.url(b), Prefix: "ssoctl:bench:"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = r.Close() })
			s := r.Replay()
			until := time.Now().Add(time.Hour)
			var next atomic.Uint64
			consume := func(b *testing.B) {
				if _, err := s.Consume(ctx, pool[next.Add(1)&(1<<20-1)], until); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					consume(b)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(16) // 32 in flight on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.Consume(ctx, pool[next.Add(1)&(1<<20-1)], until); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
			})
		})
	}
}
