package serve

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Metrics is a role's Prometheus instruments. Every label it writes comes
// from a bounded set, so no request, however crafted, can grow the series
// count: routes are the paths the roles serve (anything else is "other"),
// and free-form labels such as a handoff's reason are kept to short codes
// and a fixed number of distinct values.
//
// A nil *Metrics is valid and records nothing, so handlers need no check.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	handoffs *prometheus.CounterVec
	reg      prometheus.Registerer
	gatherer prometheus.Gatherer

	roles, results, reasons *labelSet
}

// NewMetrics registers the chain's instruments with reg and returns them.
// reg is normally a fresh *prometheus.Registry per role (never the global
// default, which would mix roles run in one process); nil makes one. When
// reg already holds them (two roles sharing a registry) they are reused, so
// calling NewMetrics twice on one registry is safe.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		reg: reg,
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssoctl_http_requests_total",
			Help: "HTTP requests served, by role, route (a known path or \"other\") and status code.",
		}, []string{"role", "route", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ssoctl_http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by role and route.",
			// Forward auth answers in well under a millisecond; a hop that
			// asks the IdP takes tens of milliseconds; an IdP outage hits
			// the client timeout.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"role", "route"})),
		handoffs: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssoctl_handoffs_total",
			Help: "Handoffs minted, accepted or refused, by role, result and reason code.",
		}, []string{"role", "result", "reason"})),
		roles:   newLabelSet(maxRoles),
		results: newLabelSet(maxResults),
		reasons: newLabelSet(maxReasons, tokenReasonCodes()...),
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	}
	return m
}

// Bounds on the distinct values of the free-form labels. A chain has a
// handful of roles; results are a verb or two per role; reasons are the
// token package's codes plus a few per role. Past the bound, new values are
// counted as "other".
const (
	maxRoles   = 64
	maxResults = 16
	maxReasons = 96
)

// register registers c with reg, or returns the collector reg already holds
// under the same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("serve: registering metrics: " + err.Error())
	}
	return c
}

// Handler serves the registry's metrics in the Prometheus exposition
// format, for /metrics. Concurrent scrapes share one gathering. When the
// registry given to NewMetrics cannot be gathered (a Registerer that is not
// a *prometheus.Registry), it answers 501.
func (m *Metrics) Handler() http.Handler {
	if m == nil || m.gatherer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics are not gathered here", http.StatusNotImplemented)
		})
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{CoalesceGather: true})
}

// Handoff counts one handoff outcome: role is the issuer or a receiver's
// name, result what happened ("minted", "accepted", "refused",
// "unavailable"), reason a stable code (a pkg/token reason code such as
// "token_replayed", or a role's own such as "idp_unavailable"; "" when
// there is none).
func (m *Metrics) Handoff(role, result, reason string) {
	if m == nil {
		return
	}
	m.handoffs.WithLabelValues(m.roles.get(role), m.results.get(result), m.reasons.get(reason)).Inc()
}

// RegisterStoreSize publishes f as the gauge ssoctl_store_entries with the
// label store=name, read at each scrape (a store's Len). It fails when the
// name is already registered.
func (m *Metrics) RegisterStoreSize(name string, f func() int) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "ssoctl_store_entries",
		Help:        "Live entries in a bounded store (replay jtis, revoked sessions).",
		ConstLabels: prometheus.Labels{"store": name},
	}, func() float64 { return float64(f()) }))
}

// observe records one served request.
func (m *Metrics) observe(role, route string, code int, seconds float64) {
	role = m.roles.get(role)
	m.requests.WithLabelValues(role, route, statusLabel(code)).Inc()
	m.duration.WithLabelValues(role, route).Observe(seconds)
}

// statusLabel spells a status code without allocating for the common ones.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 302:
		return "302"
	case 303:
		return "303"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	return strconv.Itoa(code)
}

// knownRoutes are the paths the roles serve, labelled as themselves. Paths
// a handler registered on an http.ServeMux are labelled by their pattern
// even when not listed here.
var knownRoutes = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{
		"/", chain.LoginPath, chain.CallbackPath, chain.ContinuePath, chain.SSOPath,
		"/sso/introspect", "/auth", "/whoami", "/logout", "/logout/continue",
		"/backchannel-logout", "/.well-known/jwks.json",
		"/healthz", "/readyz", "/metrics",
		// the development IdP's subset of the Kratos API
		"/sessions/whoami", chain.KratosLoginPath, "/self-service/login",
		"/self-service/logout/browser", "/health/alive", "/health/ready",
	} {
		m[p] = true
	}
	return m
}()

// knownPrefixes label paths that carry an id.
var knownPrefixes = []struct{ prefix, route string }{
	{"/admin/sessions/", "/admin/sessions/{id}"},
}

// routeOf names the route of a served request for the route label: a known
// path, else the ServeMux pattern that matched it (a bounded set: what the
// code registered), else a known prefix, else "other".
func routeOf(path, pattern string) string {
	if knownRoutes[path] {
		return path
	}
	if pattern != "" {
		if _, p, ok := strings.Cut(pattern, " "); ok {
			return p // "GET /auth" → "/auth"
		}
		return pattern
	}
	for _, k := range knownPrefixes {
		if strings.HasPrefix(path, k.prefix) {
			return k.route
		}
	}
	return "other"
}

// labelSet admits at most max distinct label values, each a short code of
// letters, digits, '_', '-' and '.', and maps anything else to
// "other". Values seen before are answered from a read lock.
type labelSet struct {
	mu   sync.RWMutex
	seen map[string]string // value → the interned copy
	max  int
}

func newLabelSet(max int, seed ...string) *labelSet {
	s := &labelSet{seen: map[string]string{"": "", "other": "other"}, max: max + 2}
	for _, v := range seed {
		s.seen[v] = v
	}
	s.max += len(seed)
	return s
}

func (s *labelSet) get(v string) string {
	s.mu.RLock()
	got, ok := s.seen[v]
	s.mu.RUnlock()
	if ok {
		return got
	}
	if !isCode(v) {
		return "other"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.seen[v]; ok {
		return got
	}
	if len(s.seen) >= s.max {
		return "other"
	}
	v = strings.Clone(v) // the caller's string may pin a larger buffer
	s.seen[v] = v
	return v
}

// isCode reports whether v looks like a stable code rather than a message.
func isCode(v string) bool {
	if len(v) > 48 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func tokenReasonCodes() []string {
	var codes []string
	for _, r := range token.Reasons() {
		codes = append(codes, r.Code)
	}
	return codes
}
