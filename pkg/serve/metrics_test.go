package serve

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs m's /metrics and parses it with the Prometheus text parser
// (test-only: the binary never links it), holding metric and label names to
// the legacy character set a 0.0.4 scraper expects.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	body := scrapeText(t, m)
	mfs, err := parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func parse(body string) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("the Prometheus parser refuses /metrics: %w\n%s", err, body)
	}
	return mfs, nil
}

// scrapeText GETs m's /metrics and returns the body, checking the status and
// the media type.
func scrapeText(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics status %d: %s", rec.Code, body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q, want the 0.0.4 text format", ct)
	}
	return string(body)
}

// series returns every series of the family name, keyed by its labels
// spelled "k=v,k=v" in sorted order, with its value (a histogram's sample
// count).
func series(t *testing.T, m *Metrics, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	mf := scrape(t, m)[name]
	for _, s := range mf.GetMetric() {
		out[labelKey(s)] = value(s)
	}
	return out
}

func labelKey(s *dto.Metric) string {
	var ls []string
	for _, l := range s.GetLabel() {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	slices.Sort(ls)
	return strings.Join(ls, ",")
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestRouteOf(t *testing.T) {
	tests := []struct {
		name, path, pattern, want string
	}{
		{name: "a known path is itself", path: "/auth", want: "/auth"},
		{name: "a known path wins over a catch-all pattern", path: "/sso", pattern: "/", want: "/sso"},
		{name: "a mux pattern names an unlisted route, without its method", path: "/items/42", pattern: "GET /items/{id}", want: "/items/{id}"},
		{name: "a pattern with a host is kept whole", path: "/x", pattern: "portal.example/x", want: "portal.example/x"},
		{name: "an id under a known prefix is folded", path: "/admin/sessions/5f0c-aa", want: "/admin/sessions/{id}"},
		{name: "anything else is other", path: "/wp-login.php", want: "other"},
		{name: "a token in the path is other, never a label", path: "/sso/eyJhbGciOiJIUzI1NiJ9.e30.sig", want: "other"},
		{name: "the root is known", path: "/", want: "/"},
		{name: "a dev IdP path is known", path: "/self-service/login/browser", want: "/self-service/login/browser"},
		{name: "a known path's prefix is not", path: "/aut", want: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routeOf(tt.path, tt.pattern); got != tt.want {
				t.Errorf("routeOf(%q, %q) = %q, want %q", tt.path, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestLabelSet(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		seed   []string
		values []string
		want   []string
	}{
		{name: "codes pass through", max: 4, values: []string{"token_expired", "idp-unavailable", "v1.2", ""}, want: []string{"token_expired", "idp-unavailable", "v1.2", ""}},
		{name: "past the bound new values are other, old ones still themselves", max: 2, values: []string{"a", "b", "c", "a"}, want: []string{"a", "b", "other", "a"}},
		{name: "seeded values do not use up the bound", max: 1, seed: []string{"s1", "s2"}, values: []string{"s2", "x", "y"}, want: []string{"s2", "x", "other"}},
		{name: "a message is not a code", max: 8, values: []string{"jti \"abc\" was already used", "a\nb", strings.Repeat("x", 49), "Portal"}, want: []string{"other", "other", "other", "Portal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newLabelSet(tt.max, tt.seed...)
			for i, v := range tt.values {
				if got := s.get(v); got != tt.want[i] {
					t.Errorf("get(%q) = %q, want %q", v, got, tt.want[i])
				}
			}
		})
	}
}

func TestMetricsHandoffs(t *testing.T) {
	m := NewMetrics()
	m.Handoff("issuer", "minted", "")
	m.Handoff("issuer", "minted", "")
	m.Handoff("portal", "refused", "token_replayed")
	m.Handoff("portal", "refused", "jti \"x\" was already used") // a message, not a code
	// A caller gone wrong, inventing reasons.
	for i := range 200 {
		m.Handoff("portal", "refused", fmt.Sprintf("made_up_%d", i))
	}

	got := series(t, m, "ssoctl_handoffs_total")
	for labels, want := range map[string]float64{
		"reason=,result=minted,role=issuer":                2,
		"reason=token_replayed,result=refused,role=portal": 1,
	} {
		if got[labels] != want {
			t.Errorf("%s = %v, want %v", labels, got[labels], want)
		}
	}
	if len(got) > 2+maxReasons+1 {
		t.Errorf("%d handoff series after 200 made-up reasons; the reason label is not bounded", len(got))
	}
	if got["reason=other,result=refused,role=portal"] == 0 {
		t.Error("no reason=other series: values past the bound were not folded")
	}

	var nilMetrics *Metrics
	nilMetrics.Handoff("portal", "accepted", "")      // must not panic
	nilMetrics.observe("portal", "/auth", 200, 0.001) // must not panic
	if err := nilMetrics.RegisterStoreSize("replay", func() int { return 1 }); err != nil {
		t.Errorf("nil Metrics RegisterStoreSize: %v", err)
	}
	if err := nilMetrics.RegisterRevocationMirror(func() bool { return true }); err != nil {
		t.Errorf("nil Metrics RegisterRevocationMirror: %v", err)
	}
}

func TestMetricsStoreSize(t *testing.T) {
	m := NewMetrics()
	var mu sync.Mutex
	size := 3
	if err := m.RegisterStoreSize("replay", func() int { mu.Lock(); defer mu.Unlock(); return size }); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterStoreSize("revocations", func() int { return 7 }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	size = 5 // read at scrape time, not at registration
	mu.Unlock()
	got := series(t, m, "ssoctl_store_entries")
	if got["store=replay"] != 5 || got["store=revocations"] != 7 {
		t.Errorf("store gauges = %v, want replay 5, revocations 7", got)
	}

	tests := []struct {
		name    string
		store   string
		f       func() int
		wantErr error // nil: any error will do
	}{
		{name: "a name registered twice", store: "replay", f: func() int { return 0 }, wantErr: ErrStoreRegistered},
		{name: "no size function", store: "sessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.RegisterStoreSize(tt.store, tt.f)
			if err == nil {
				t.Fatalf("RegisterStoreSize(%q) succeeded", tt.store)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if got := series(t, m, "ssoctl_store_entries"); len(got) != 2 {
		t.Errorf("store gauges after refused registrations = %v, want the two first", got)
	}
}

func TestMetricsRevocationMirror(t *testing.T) {
	m := NewMetrics()
	if mf := scrape(t, m)["ssoctl_revocation_mirror_current"]; mf != nil {
		t.Errorf("ssoctl_revocation_mirror_current without a mirror: %v, want no family", mf)
	}
	var current atomic.Bool
	if err := m.RegisterRevocationMirror(current.Load); err != nil {
		t.Fatal(err)
	}
	for _, want := range []bool{false, true, false} {
		current.Store(want) // read at scrape time, not at registration
		got := series(t, m, "ssoctl_revocation_mirror_current")
		if w := map[bool]float64{false: 0, true: 1}[want]; len(got) != 1 || got[""] != w {
			t.Errorf("Current() %v: gauge %v, want one unlabelled series %v", want, got, w)
		}
	}

	tests := []struct {
		name    string
		f       func() bool
		wantErr error // nil: any error will do
	}{
		{name: "a second mirror", f: func() bool { return true }, wantErr: ErrMirrorRegistered},
		{name: "no function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.RegisterRevocationMirror(tt.f)
			if err == nil {
				t.Fatal("RegisterRevocationMirror succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if got := series(t, m, "ssoctl_revocation_mirror_current"); got[""] != 0 {
		t.Errorf("gauge after refused registrations = %v, want the first mirror's 0", got)
	}
}

func TestMetricsRequestsThroughObserve(t *testing.T) {
	m := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /sso", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := Observe("portal", mux, ObserveOptions{Logger: slog.New(slog.DiscardHandler), Metrics: m})
	for _, target := range []string{
		"/auth", "/auth?x=1", "/items/1", "/items/2", "/sso?token=eyJ.e30.sig", "/boom",
		"/nope-1", "/nope-2", "/nope-3", "/admin/sessions/abc",
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	got := series(t, m, "ssoctl_http_requests_total")
	want := map[string]float64{
		"code=200,role=portal,route=/auth":                2,
		"code=200,role=portal,route=/items/{id}":          2,
		"code=400,role=portal,route=/sso":                 1,
		"code=500,role=portal,route=/boom":                1,
		"code=404,role=portal,route=other":                3,
		"code=404,role=portal,route=/admin/sessions/{id}": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests_total:\n got %v\nwant %v", got, want)
	}
	if d := series(t, m, "ssoctl_http_request_duration_seconds")["role=portal,route=/auth"]; d != 2 {
		t.Errorf("duration samples for /auth = %v, want 2", d)
	}
}

func TestMetricsHandler(t *testing.T) {
	tests := []struct {
		name     string
		metrics  func() (served, other *Metrics)
		wantCode int
		wantBody []string
		notBody  []string
	}{
		{
			name:     "a role's metrics are served in the text format",
			metrics:  func() (*Metrics, *Metrics) { m := NewMetrics(); return m, m },
			wantCode: 200,
			wantBody: []string{
				"# TYPE ssoctl_handoffs_total counter",
				`ssoctl_handoffs_total{reason="",result="accepted",role="portal"} 2`,
				"# TYPE go_goroutines gauge",
				"# TYPE process_start_time_seconds gauge",
			},
		},
		{
			name:     "each role has its own metrics",
			metrics:  func() (*Metrics, *Metrics) { return NewMetrics(), NewMetrics() },
			wantCode: 200,
			wantBody: []string{`ssoctl_handoffs_total{reason="",result="accepted",role="portal"} 1`},
		},
		{
			name:     "a family with no series yet is left out",
			metrics:  func() (*Metrics, *Metrics) { return NewMetrics(), nil },
			wantCode: 200,
			wantBody: []string{"go_goroutines "},
			notBody:  []string{"ssoctl_"},
		},
		{
			name:     "nil metrics say they are not gathered",
			metrics:  func() (*Metrics, *Metrics) { return nil, NewMetrics() },
			wantCode: 501,
			notBody:  []string{"ssoctl_"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			served, other := tt.metrics()
			if tt.wantCode == 200 && other != nil {
				served.Handoff("portal", "accepted", "")
				other.Handoff("portal", "accepted", "")
			} else if other != nil {
				other.Handoff("portal", "accepted", "")
			}
			rec := httptest.NewRecorder()
			served.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantCode, body)
			}
			for _, s := range tt.wantBody {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.notBody {
				if strings.Contains(string(body), s) {
					t.Errorf("body has %q:\n%s", s, body)
				}
			}
		})
	}
}

// record puts a known set of observations into a fresh Metrics: two roles'
// requests (one exactly on a bucket bound, one past the last), handoffs,
// and stores whose names need escaping.
func record() *Metrics {
	m := NewMetrics()
	for _, o := range []struct {
		role, route string
		code        int
		seconds     float64
	}{
		{"portal", "/auth", 200, 0.0003},
		{"portal", "/auth", 200, 0.0003},
		{"portal", "/auth", 200, 0.001}, // on a bound: le is inclusive
		{"portal", "/auth", 401, 0.0004},
		{"portal", "/sso", 303, 0.3},
		{"portal", "/sso", 400, 20}, // past the last bound: +Inf only
		{"issuer", "/login", 302, 0.002},
	} {
		m.observe(o.role, o.route, o.code, o.seconds)
	}
	m.Handoff("issuer", "minted", "")
	m.Handoff("portal", "accepted", "")
	m.Handoff("portal", "refused", "token_replayed")
	m.Handoff("portal", "refused", "token_replayed")
	_ = m.RegisterStoreSize("replay", func() int { return 4 })
	_ = m.RegisterStoreSize(`a\b "c"`+"\nd", func() int { return 1 })
	_ = m.RegisterRevocationMirror(func() bool { return true })
	return m
}

// TestMetricsExposition reads the whole of /metrics back through the
// Prometheus parser: every family with its type, every series with its
// labels and value, and each histogram's cumulative buckets, sum and count.
func TestMetricsExposition(t *testing.T) {
	before := time.Now()
	mfs := scrape(t, record())

	t.Run("families", func(t *testing.T) {
		want := map[string]dto.MetricType{
			"go_goroutines":                        dto.MetricType_GAUGE,
			"process_start_time_seconds":           dto.MetricType_GAUGE,
			"ssoctl_handoffs_total":                dto.MetricType_COUNTER,
			"ssoctl_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
			"ssoctl_http_requests_total":           dto.MetricType_COUNTER,
			"ssoctl_revocation_mirror_current":     dto.MetricType_GAUGE,
			"ssoctl_store_entries":                 dto.MetricType_GAUGE,
		}
		for name, mf := range mfs {
			typ, ok := want[name]
			if !ok {
				t.Errorf("unexpected family %s", name)
				continue
			}
			if mf.GetType() != typ {
				t.Errorf("%s is a %v, want %v", name, mf.GetType(), typ)
			}
			if mf.GetHelp() == "" {
				t.Errorf("%s has no HELP", name)
			}
		}
		for name := range want {
			if mfs[name] == nil {
				t.Errorf("family %s is missing", name)
			}
		}
	})

	t.Run("counters and gauges", func(t *testing.T) {
		tests := []struct {
			family, labels string
			want           float64
		}{
			{"ssoctl_http_requests_total", "code=200,role=portal,route=/auth", 3},
			{"ssoctl_http_requests_total", "code=401,role=portal,route=/auth", 1},
			{"ssoctl_http_requests_total", "code=303,role=portal,route=/sso", 1},
			{"ssoctl_http_requests_total", "code=400,role=portal,route=/sso", 1},
			{"ssoctl_http_requests_total", "code=302,role=issuer,route=/login", 1},
			{"ssoctl_handoffs_total", "reason=,result=minted,role=issuer", 1},
			{"ssoctl_handoffs_total", "reason=,result=accepted,role=portal", 1},
			{"ssoctl_handoffs_total", "reason=token_replayed,result=refused,role=portal", 2},
			{"ssoctl_revocation_mirror_current", "", 1},
			{"ssoctl_store_entries", "store=replay", 4},
			{"ssoctl_store_entries", "store=a\\b \"c\"\nd", 1}, // escaped on the wire, whole again once parsed
		}
		count := map[string]int{}
		for _, tt := range tests {
			count[tt.family]++
			t.Run(tt.family+"{"+tt.labels+"}", func(t *testing.T) {
				var got []string
				for _, s := range mfs[tt.family].GetMetric() {
					if labelKey(s) == tt.labels {
						if v := value(s); v != tt.want {
							t.Errorf("= %v, want %v", v, tt.want)
						}
						return
					}
					got = append(got, labelKey(s))
				}
				t.Errorf("no such series; have %q", got)
			})
		}
		for family, n := range count {
			if got := len(mfs[family].GetMetric()); got != n {
				t.Errorf("%s has %d series, want %d", family, got, n)
			}
		}
	})

	t.Run("process", func(t *testing.T) {
		if g := mfs["go_goroutines"].GetMetric()[0].GetGauge().GetValue(); g < 1 {
			t.Errorf("go_goroutines = %v, want at least this test's", g)
		}
		start := mfs["process_start_time_seconds"].GetMetric()[0].GetGauge().GetValue()
		if s := time.Unix(0, int64(start*1e9)); s.After(before) || before.Sub(s) > time.Hour {
			t.Errorf("process_start_time_seconds = %v (%v), want shortly before the test began (%v)", start, s, before)
		}
	})

	t.Run("histograms", func(t *testing.T) {
		bounds := append(durationBuckets[:], math.Inf(+1))
		tests := []struct {
			labels string
			// cumulative counts at le = each of durationBuckets, then +Inf
			buckets []uint64
			sum     float64
		}{
			{
				labels:  "role=portal,route=/auth",
				buckets: []uint64{3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4},
				sum:     0.0003 + 0.0003 + 0.001 + 0.0004,
			},
			{
				labels:  "role=portal,route=/sso",
				buckets: []uint64{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2},
				sum:     20.3,
			},
			{
				labels:  "role=issuer,route=/login",
				buckets: []uint64{0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
				sum:     0.002,
			},
		}
		mf := mfs["ssoctl_http_request_duration_seconds"]
		if got := len(mf.GetMetric()); got != len(tests) {
			t.Errorf("%d histogram series, want %d", got, len(tests))
		}
		for _, tt := range tests {
			t.Run(tt.labels, func(t *testing.T) {
				i := slices.IndexFunc(mf.GetMetric(), func(s *dto.Metric) bool { return labelKey(s) == tt.labels })
				if i < 0 {
					t.Fatal("no such series")
				}
				h := mf.GetMetric()[i].GetHistogram()
				if len(h.GetBucket()) != len(bounds) {
					t.Fatalf("%d buckets, want %d", len(h.GetBucket()), len(bounds))
				}
				for j, b := range h.GetBucket() {
					if b.GetUpperBound() != bounds[j] || b.GetCumulativeCount() != tt.buckets[j] {
						t.Errorf("bucket %d: le=%v count %d, want le=%v count %d", j, b.GetUpperBound(), b.GetCumulativeCount(), bounds[j], tt.buckets[j])
					}
				}
				if want := tt.buckets[len(tt.buckets)-1]; h.GetSampleCount() != want {
					t.Errorf("count %d, want %d", h.GetSampleCount(), want)
				}
				if math.Abs(h.GetSampleSum()-tt.sum) > 1e-12 {
					t.Errorf("sum %v, want %v", h.GetSampleSum(), tt.sum)
				}
			})
		}
	})
}

// TestMetricsText pins the bytes of the exposition: family order, HELP and
// TYPE lines, label order, series order, escaping and number spelling.
func TestMetricsText(t *testing.T) {
	m := NewMetrics()
	m.observe("portal", "/sso", 303, 0.25)
	m.observe("portal", "/auth", 200, 0.5)
	m.observe("portal", "/auth", 200, 0.75)
	m.Handoff("portal", "refused", "token_replayed")
	m.Handoff("portal", "accepted", "")
	_ = m.RegisterStoreSize("revocations", func() int { return 0 })
	_ = m.RegisterStoreSize(`a\b "c"`+"\nd", func() int { return 1 })
	_ = m.RegisterRevocationMirror(func() bool { return false })

	got := scrapeText(t, m)
	// The two process gauges vary; check their form, then pin the rest.
	process := regexp.MustCompile(`^# HELP go_goroutines .*\n# TYPE go_goroutines gauge\ngo_goroutines [1-9][0-9]*\n` +
		`# HELP process_start_time_seconds .*\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds [0-9.e+]+\n`)
	loc := process.FindStringIndex(got)
	if loc == nil {
		t.Fatalf("exposition does not start with go_goroutines and process_start_time_seconds:\n%s", got)
	}
	got = got[loc[1]:]

	bucket := func(route, le string, n int) string {
		return fmt.Sprintf("ssoctl_http_request_duration_seconds_bucket{role=\"portal\",route=%q,le=%q} %d\n", route, le, n)
	}
	var want strings.Builder
	want.WriteString(`# HELP ssoctl_handoffs_total Handoffs minted, accepted or refused, by role, result and reason code.
# TYPE ssoctl_handoffs_total counter
ssoctl_handoffs_total{reason="",result="accepted",role="portal"} 1
ssoctl_handoffs_total{reason="token_replayed",result="refused",role="portal"} 1
# HELP ssoctl_http_request_duration_seconds Time to serve an HTTP request, by role and route.
# TYPE ssoctl_http_request_duration_seconds histogram
`)
	les := []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	for i, le := range les {
		want.WriteString(bucket("/auth", le, map[bool]int{true: 0, false: min(2, i-8)}[i < 9]))
	}
	want.WriteString(`ssoctl_http_request_duration_seconds_sum{role="portal",route="/auth"} 1.25
ssoctl_http_request_duration_seconds_count{role="portal",route="/auth"} 2
`)
	for i, le := range les {
		want.WriteString(bucket("/sso", le, map[bool]int{true: 0, false: 1}[i < 8]))
	}
	want.WriteString(`ssoctl_http_request_duration_seconds_sum{role="portal",route="/sso"} 0.25
ssoctl_http_request_duration_seconds_count{role="portal",route="/sso"} 1
# HELP ssoctl_http_requests_total HTTP requests served, by role, route (a known path or "other") and status code.
# TYPE ssoctl_http_requests_total counter
ssoctl_http_requests_total{code="200",role="portal",route="/auth"} 2
ssoctl_http_requests_total{code="303",role="portal",route="/sso"} 1
# HELP ssoctl_revocation_mirror_current 1 while a receiver answers revocation checks from its in-memory mirror of the shared (Redis) revoked set, 0 while each check asks Redis; absent with memory stores.
# TYPE ssoctl_revocation_mirror_current gauge
ssoctl_revocation_mirror_current 0
# HELP ssoctl_store_entries Live entries in a bounded store (replay jtis, revoked sessions).
# TYPE ssoctl_store_entries gauge
ssoctl_store_entries{store="a\\b \"c\"\nd"} 1
ssoctl_store_entries{store="revocations"} 0
`)
	if got != want.String() {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want.String())
	}
}

func TestHistogramObserve(t *testing.T) {
	tests := []struct {
		name    string
		v       float64
		wantIdx int // the slot counted: an index into durationBuckets, or len for +Inf
	}{
		{name: "zero", v: 0, wantIdx: 0},
		{name: "a clock stepped back", v: -1, wantIdx: 0},
		{name: "on the first bound", v: .0005, wantIdx: 0},
		{name: "just past the first bound", v: .00051, wantIdx: 1},
		{name: "between bounds", v: .3, wantIdx: 9},
		{name: "on the last bound", v: 10, wantIdx: len(durationBuckets) - 1},
		{name: "past the last bound", v: 10.5, wantIdx: len(durationBuckets)},
		{name: "infinity", v: math.Inf(+1), wantIdx: len(durationBuckets)},
		{name: "NaN", v: math.NaN(), wantIdx: len(durationBuckets)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			h.observe(tt.v)
			h.observe(tt.v)
			for i := range h.counts {
				want := uint64(0)
				if i == tt.wantIdx {
					want = 2
				}
				if got := h.counts[i].Load(); got != want {
					t.Errorf("slot %d holds %d, want %d", i, got, want)
				}
			}
			sum := math.Float64frombits(h.sumBits.Load())
			if want := tt.v + tt.v; sum != want && !(math.IsNaN(sum) && math.IsNaN(want)) {
				t.Errorf("sum %v, want %v", sum, want)
			}
		})
	}
}

// TestMetricsConcurrent records from many goroutines while scraping, under
// -race: no count is lost, and every scrape is one the parser accepts with
// each histogram's +Inf bucket equal to its count.
func TestMetricsConcurrent(t *testing.T) {
	const workers, scrapes = 8, 20
	m := NewMetrics()
	_ = m.RegisterStoreSize("replay", func() int { return 1 })

	// The workers record until the scraper has done its scrapes, so the two
	// overlap however fast either is.
	done := make(chan struct{})
	recorded := make([]int, workers) // observations per worker
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			route := []string{"/auth", "/sso"}[w%2]
			for i := 0; ; i++ {
				select {
				case <-done:
					recorded[w] = i
					return
				default:
				}
				m.observe("portal", route, 200, float64(i%20)/1000)
				m.Handoff("portal", "accepted", "")
			}
		})
	}
	for n := range scrapes {
		// Not scrape: a failure here must still close done.
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		mfs, err := parse(rec.Body.String())
		if err != nil {
			t.Error(err)
			break
		}
		for _, s := range mfs["ssoctl_http_request_duration_seconds"].GetMetric() {
			h := s.GetHistogram()
			if inf := h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount(); inf != h.GetSampleCount() {
				t.Errorf("scrape %d, %s: +Inf bucket %d, count %d", n, labelKey(s), inf, h.GetSampleCount())
			}
		}
	}
	close(done)
	wg.Wait()

	want := map[string]struct {
		count int
		sum   float64
	}{}
	total := 0
	for w, n := range recorded {
		labels := "role=portal,route=" + []string{"/auth", "/sso"}[w%2]
		e := want[labels]
		e.count += n
		for i := range n {
			e.sum += float64(i%20) / 1000
		}
		want[labels] = e
		total += n
	}
	t.Logf("%d observations during %d scrapes", total, scrapes)
	for _, s := range scrape(t, m)["ssoctl_http_request_duration_seconds"].GetMetric() {
		h, w := s.GetHistogram(), want[labelKey(s)]
		if h.GetSampleCount() != uint64(w.count) {
			t.Errorf("%s: count %d, want %d", labelKey(s), h.GetSampleCount(), w.count)
		}
		if math.Abs(h.GetSampleSum()-w.sum) > 1e-6*max(1, w.sum) {
			t.Errorf("%s: sum %v, want %v", labelKey(s), h.GetSampleSum(), w.sum)
		}
	}
	if got := series(t, m, "ssoctl_handoffs_total")["reason=,result=accepted,role=portal"]; got != float64(total) {
		t.Errorf("handoffs %v, want %d", got, total)
	}
}

// TestMetricsRecordingDoesNotAllocate holds the hot path to its promise:
// once a label set has been seen, recording allocates nothing.
func TestMetricsRecordingDoesNotAllocate(t *testing.T) {
	m := NewMetrics()
	tests := []struct {
		name   string
		record func()
	}{
		{name: "observe", record: func() { m.observe("portal", "/auth", 200, 0.0003) }},
		{name: "observe, an uncommon status", record: func() { m.observe("portal", "/auth", 418, 0.0003) }},
		{name: "handoff", record: func() { m.Handoff("portal", "refused", "token_replayed") }},
		{name: "handoff, a message folded to other", record: func() { m.Handoff("portal", "refused", "jti was used") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.record() // first sight creates the series
			if n := testing.AllocsPerRun(100, tt.record); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

// TestMetricsRecentSlots checks the series cache against what it stands
// in for: label sets sharing a slot are counted apart however they
// alternate, and a role counted as "other" stays "other" on every request,
// not only on the first.
func TestMetricsRecentSlots(t *testing.T) {
	count := func(m *Metrics, code, role, route string) uint64 {
		s, ok := m.requests.series.Load(labelValues{code, role, route})
		if !ok {
			return 0
		}
		return s.(*requestSeries).count.Load()
	}

	// For each label, two label sets that share a slot and differ only
	// in that label, observed in turn.
	type labels struct {
		role, route string
		code        int
	}
	routes := []string{"/auth", "/sso", "/whoami", "/logout", "/healthz", "/readyz", "/metrics", "/", "other", "/login", "/callback"}
	roles := []string{"portal", "dashboard", "issuer", "app", "hub", "shop", "accounts"}
	codes := []int{200, 204, 302, 303, 400, 401, 403, 404, 500, 503}
	for i := 100; i < 1000; i += 64 {
		codes = append(codes, i)
	}
	var pairs [][2]labels
	find := func(differ func(x, y labels) bool, all []labels) {
		for _, x := range all {
			for _, y := range all {
				if differ(x, y) && recentSlot(x.role, x.route, x.code) == recentSlot(y.role, y.route, y.code) {
					pairs = append(pairs, [2]labels{x, y})
					return
				}
			}
		}
		t.Fatal("no two label sets share a slot; widen the candidates")
	}
	var byRoute, byRole, byCode []labels
	for _, r := range routes {
		byRoute = append(byRoute, labels{"portal", r, 200})
	}
	for _, r := range roles {
		byRole = append(byRole, labels{r, "/auth", 200})
	}
	for _, c := range codes {
		byCode = append(byCode, labels{"portal", "/auth", c})
	}
	find(func(x, y labels) bool { return x.route != y.route }, byRoute)
	find(func(x, y labels) bool { return x.role != y.role }, byRole)
	find(func(x, y labels) bool { return x.code != y.code }, byCode)
	for _, p := range pairs {
		m := NewMetrics()
		for i := range 10 {
			m.observe(p[0].role, p[0].route, p[0].code, 0.001)
			if i%3 == 0 {
				m.observe(p[1].role, p[1].route, p[1].code, 0.001)
			}
		}
		for j, want := range []uint64{10, 4} {
			l := p[j]
			if got := count(m, statusLabel(l.code), l.role, l.route); got != want {
				t.Errorf("%+v sharing a slot with %+v: counted %d, want %d", l, p[1-j], got, want)
			}
		}
	}

	// Fill the role bound; the roles past it are "other", every time.
	m := NewMetrics()
	for i := range maxRoles {
		m.observe(fmt.Sprintf("r%d", i), "/auth", 200, 0.001)
	}
	other := count(m, "200", "other", "/auth")
	for range 3 {
		m.observe("late", "/auth", 200, 0.001)
		m.observe("not a code!", "/auth", 200, 0.001)
	}
	if got := count(m, "200", "other", "/auth") - other; got != 6 {
		t.Errorf("other /auth 200 grew by %d, want 6", got)
	}
	if got := count(m, "200", "late", "/auth"); got != 0 {
		t.Errorf("a role past the bound has its own series (%d requests)", got)
	}
}

// BenchmarkMetricsObserve is the metrics' share of every request: the
// series from Metrics.recent and the atomic updates, from every P at once
// (-cpu 1 for one core's cost without the contention).
func BenchmarkMetricsObserve(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.observe("portal", "/auth", 200, 0.0003)
		}
	})
}
