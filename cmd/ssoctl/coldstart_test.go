package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkColdStart runs the built ssoctl binary as a user does, one
// process per decode, and reports the median wall time from start to exit
// (the budget is 20 ms) beside a hello-world Go binary started the same way,
// which is the floor on this machine. Every linked package's init runs on
// every start, whatever the command, so this is where a heavy dependency
// shows. os/exec adds a few ms to both; hyperfine -N measures less.
//
//	go test -run='^$' -bench=ColdStart -benchtime=100x ./cmd/ssoctl
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "ssoctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	hello := filepath.Join(dir, "hello")
	src := filepath.Join(dir, "hellosrc")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n"), 0o644)
	_ = os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n"), 0o644)
	build := exec.Command("go", "build", "-o", hello, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build hello: %v\n%s", err, out)
	}
	mint := exec.Command(bin, "token", "mint", "--iss", "https://a.test", "--aud", "portal", "--sub", "u1", "--sid", "s1", "--secret-env", "BENCH_SECRET")
	mint.Env = append(os.Environ(), "BENCH_SECRET=benchmark-only-secret-0123456789abcdef")
	out, err := mint.Output()
	if err != nil {
		b.Fatal(err)
	}
	tok := strings.TrimSpace(string(out))
	var times, floor []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := exec.Command(bin, "token", "decode", tok).Run(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		start = time.Now()
		if err := exec.Command(hello).Run(); err != nil {
			b.Fatal(err)
		}
		floor = append(floor, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(medianMS(times), "median-ms")
	b.ReportMetric(medianMS(floor), "hello-median-ms")
}

func medianMS(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Microseconds()) / 1000
}
