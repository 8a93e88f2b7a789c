package serve

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// series returns every series of the metric family name in g, keyed by its
// labels spelled "k=v,k=v" in sorted order, with its value (a histogram's
// sample count).
func series(t *testing.T, g prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			out[strings.Join(ls, ",")] = value(m)
		}
	}
	return out
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
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Handoff("issuer", "minted", "")
	m.Handoff("issuer", "minted", "")
	m.Handoff("portal", "refused", "token_replayed")
	m.Handoff("portal", "refused", "jti \"x\" was already used") // a message, not a code
	// A caller gone wrong, inventing reasons.
	for i := range 200 {
		m.Handoff("portal", "refused", fmt.Sprintf("made_up_%d", i))
	}

	got := series(t, reg, "ssoctl_handoffs_total")
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
	nilMetrics.Handoff("portal", "accepted", "") // must not panic
	if err := nilMetrics.RegisterStoreSize("replay", func() int { return 1 }); err != nil {
		t.Errorf("nil Metrics RegisterStoreSize: %v", err)
	}
}

func TestMetricsStoreSize(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	size := 3
	if err := m.RegisterStoreSize("replay", func() int { return size }); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterStoreSize("revocations", func() int { return 7 }); err != nil {
		t.Fatal(err)
	}
	size = 5 // read at scrape time, not at registration
	got := series(t, reg, "ssoctl_store_entries")
	if got["store=replay"] != 5 || got["store=revocations"] != 7 {
		t.Errorf("store gauges = %v, want replay 5, revocations 7", got)
	}
	if err := m.RegisterStoreSize("replay", func() int { return 0 }); err == nil {
		t.Error("registering store replay twice succeeded")
	}
}

func TestMetricsRequestsThroughObserve(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
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
	got := series(t, reg, "ssoctl_http_requests_total")
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
	if d := series(t, reg, "ssoctl_http_request_duration_seconds")["role=portal,route=/auth"]; d != 2 {
		t.Errorf("duration samples for /auth = %v, want 2", d)
	}
}

func TestMetricsHandler(t *testing.T) {
	tests := []struct {
		name     string
		reg      func() prometheus.Registerer
		twice    bool // NewMetrics twice on the same registry
		wantCode int
		wantBody []string
	}{
		{
			name:     "a registry is served in the text format",
			reg:      func() prometheus.Registerer { return prometheus.NewRegistry() },
			wantCode: 200,
			wantBody: []string{`ssoctl_handoffs_total{reason="",result="accepted",role="portal"} 1`, "# TYPE ssoctl_handoffs_total counter"},
		},
		{
			name:     "two roles on one registry share the instruments",
			reg:      func() prometheus.Registerer { return prometheus.NewRegistry() },
			twice:    true,
			wantCode: 200,
			wantBody: []string{`ssoctl_handoffs_total{reason="",result="accepted",role="portal"} 2`},
		},
		{
			name: "a registerer that cannot be gathered says so",
			reg: func() prometheus.Registerer {
				return prometheus.WrapRegistererWith(prometheus.Labels{"x": "y"}, prometheus.NewRegistry())
			},
			wantCode: 501,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := tt.reg()
			m := NewMetrics(reg)
			m.Handoff("portal", "accepted", "")
			if tt.twice {
				m2 := NewMetrics(reg)
				m2.Handoff("portal", "accepted", "")
			}
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantCode, body)
			}
			for _, s := range tt.wantBody {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
		})
	}
}
