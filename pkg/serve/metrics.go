package serve

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Metrics is a role's Prometheus instruments, served by Handler in the text
// exposition format 0.0.4. Every label it writes comes from a bounded set,
// so no request, however crafted, can grow the series count: routes are the
// paths the roles serve (anything else is "other"), and free-form labels
// such as a handoff's reason are kept to short codes and a fixed number of
// distinct values.
//
// The format is written here rather than by client_golang because ssoctl is
// one binary: the library's init (default collectors, protobuf descriptors)
// would be paid by every command's cold start, `ssoctl token decode`
// included, to serve a handful of counters that only the serve roles use.
//
// A nil *Metrics is valid and records nothing, so handlers need no check.
type Metrics struct {
	requests  vec[requestSeries] // code, role, route
	durations vec[histogram]     // role, route
	handoffs  vec[atomic.Uint64] // reason, result, role

	storesMu sync.Mutex
	stores   map[string]func() int
	mirror   func() bool // nil: no revocation mirror (memory stores)

	roles, results, reasons *labelSet

	backchannel backchannelCounts // receiver, result (see logout.go)

	// recent holds request series by a cheap hash of their labels, so a
	// request usually finds its series without the two sync.Map lookups
	// (the role's label, then the series by all three): those cost a
	// forward-auth check about 1 % of its throughput. A slot holds
	// whichever series used it last; a miss only costs the lookups.
	recent [64]atomic.Pointer[requestSeries]
}

// NewMetrics returns a role's instruments, empty. Each role has its own, so
// roles run in one process (serve dev) keep their series apart.
func NewMetrics() *Metrics {
	return &Metrics{
		stores:  map[string]func() int{},
		roles:   newLabelSet(maxRoles),
		results: newLabelSet(maxResults),
		reasons: newLabelSet(maxReasons, tokenReasonCodes()...),
	}
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

// durationBuckets are the upper bounds of the request duration histogram.
// Forward auth answers in well under a millisecond; a hop that asks the IdP
// takes tens of milliseconds; an IdP outage hits the client timeout.
var durationBuckets = [...]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// processStart stands in for the process's start time: package variables
// are set before main runs.
var processStart = time.Now()

// The metric families, in the sorted order Handler writes them. Label names
// are sorted too, and a series' labelValues follow the same order.
var (
	familyGoroutines = family{name: "go_goroutines", typ: "gauge",
		help: "Number of goroutines that currently exist."}
	familyStart = family{name: "process_start_time_seconds", typ: "gauge",
		help: "Start time of the process since unix epoch in seconds."}
	familyHandoffs = family{name: "ssoctl_handoffs_total", typ: "counter",
		help:   "Handoffs minted, accepted or refused, by role, result and reason code.",
		labels: []string{"reason", "result", "role"}}
	familyDurations = family{name: "ssoctl_http_request_duration_seconds", typ: "histogram",
		help:   "Time to serve an HTTP request, by role and route.",
		labels: []string{"role", "route"}}
	familyRequests = family{name: "ssoctl_http_requests_total", typ: "counter",
		help:   "HTTP requests served, by role, route (a known path or \"other\") and status code.",
		labels: []string{"code", "role", "route"}}
	familyMirror = family{name: "ssoctl_revocation_mirror_current", typ: "gauge",
		help: "1 while a receiver answers revocation checks from its in-memory mirror of the shared (Redis) revoked set, 0 while each check asks Redis; absent with memory stores."}
	familyStores = family{name: "ssoctl_store_entries", typ: "gauge",
		help:   "Live entries in a bounded store (replay jtis, revoked sessions).",
		labels: []string{"store"}}
)

// metricsContentType is the Prometheus text exposition format, version
// 0.0.4, which every Prometheus server accepts.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves the role's metrics in the Prometheus text exposition
// format, for /metrics, with go_goroutines and process_start_time_seconds
// beside the role's own. A nil *Metrics answers 501.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics are not gathered here", http.StatusNotImplemented)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := m.appendText(make([]byte, 0, 8<<10))
		h := w.Header()
		h.Set("Content-Type", metricsContentType)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
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
	m.handoffs.with(labelValues{m.reasons.get(reason), m.results.get(result), m.roles.get(role)}, nil).Add(1)
}

// ErrStoreRegistered is a store size registered twice under one name.
var ErrStoreRegistered = errors.New("store size is already registered")

// RegisterStoreSize publishes f as the gauge ssoctl_store_entries with the
// label store=name, read at each scrape (a store's Len). It fails when the
// name is already registered.
func (m *Metrics) RegisterStoreSize(name string, f func() int) error {
	if m == nil {
		return nil
	}
	if f == nil {
		return fmt.Errorf("store %q: nil size function", name)
	}
	name = strings.ToValidUTF8(name, "\uFFFD") // the format requires UTF-8
	m.storesMu.Lock()
	defer m.storesMu.Unlock()
	if _, dup := m.stores[name]; dup {
		return fmt.Errorf("store %q: %w", name, ErrStoreRegistered)
	}
	m.stores[name] = f
	return nil
}

// ErrMirrorRegistered is a second revocation mirror registered on one
// Metrics: a receiver has one revocation store.
var ErrMirrorRegistered = errors.New("revocation mirror is already registered")

// RegisterRevocationMirror publishes current as the gauge
// ssoctl_revocation_mirror_current, 1 or 0, read at each scrape (a Redis
// revocation store's Current). Without it the family is left out. It fails
// when a mirror is already registered.
func (m *Metrics) RegisterRevocationMirror(current func() bool) error {
	if m == nil {
		return nil
	}
	if current == nil {
		return errors.New("revocation mirror: nil function")
	}
	m.storesMu.Lock()
	defer m.storesMu.Unlock()
	if m.mirror != nil {
		return ErrMirrorRegistered
	}
	m.mirror = current
	return nil
}

// observe records one served request. It runs on every request, /auth
// included, so once a label set has been seen it is a slot of recent and
// atomic adds (two lock-free lookups when the slot holds another series),
// and allocates nothing.
func (m *Metrics) observe(role, route string, code int, seconds float64) {
	if m == nil {
		return
	}
	slot := &m.recent[recentSlot(role, route, code)]
	r := slot.Load()
	// The role is compared with the series' label: a role counted as
	// "other" (past maxRoles, or not a code) never matches and always
	// takes the lookups, which map it.
	if r == nil || r.code != code || r.role != role || r.route != route {
		label := m.roles.get(role)
		r = m.requests.with(labelValues{statusLabel(code), label, route}, func() *requestSeries {
			return &requestSeries{
				code: code, role: label, route: strings.Clone(route),
				duration: m.durations.with(labelValues{label, route}, nil),
			}
		})
		slot.Store(r)
	}
	r.count.Add(1)
	r.duration.observe(seconds)
}

// recentSlot picks a slot of Metrics.recent for a label set from its
// lengths, the route's last byte and the status code.
func recentSlot(role, route string, code int) int {
	h := uint(code)*37 + uint(len(role))*11 + uint(len(route))*5
	if route != "" {
		h += uint(route[len(route)-1])
	}
	return int(h % uint(len(Metrics{}.recent)))
}

// requestSeries is the request counter of one role, route and status code,
// with the duration histogram of its role and route, so a request costs one
// series lookup rather than two. It keeps its labels (the role's as
// counted) for Metrics.recent.
type requestSeries struct {
	code        int
	role, route string
	count       atomic.Uint64
	duration    *histogram // shared by the route's status codes
}

// labelValues are a series' label values in its family's label order;
// unused trailing slots are "". A fixed-size array is a map key that costs
// no allocation to build.
type labelValues [3]string

// vec is one labelled family's series, created on first use and never
// removed; the label bounds keep their number small. A sync.Map suits a
// set that only grows and is read far more than written: a lookup takes no
// lock, so requests on different CPUs do not contend for one.
type vec[V any] struct {
	series sync.Map // labelValues → *V
}

// with returns the series for lv, creating it with newV (nil: new(V)) if
// need be. Concurrent first uses agree on one series.
func (v *vec[V]) with(lv labelValues, newV func() *V) *V {
	if s, ok := v.series.Load(lv); ok {
		return s.(*V)
	}
	for i := range lv {
		lv[i] = strings.Clone(lv[i]) // a value may be a slice of a request's path
	}
	var s *V
	if newV != nil {
		s = newV()
	} else {
		s = new(V)
	}
	got, _ := v.series.LoadOrStore(lv, s)
	return got.(*V)
}

// sorted returns the series ordered by their label values.
func (v *vec[V]) sorted() []entry[V] {
	var out []entry[V]
	v.series.Range(func(k, s any) bool {
		out = append(out, entry[V]{k.(labelValues), s.(*V)})
		return true
	})
	slices.SortFunc(out, func(a, b entry[V]) int { return slices.Compare(a.lv[:], b.lv[:]) })
	return out
}

type entry[V any] struct {
	lv labelValues
	s  *V
}

// histogram counts observations per bucket of durationBuckets, the last
// slot holding those above every bound. The count is the sum of the slots,
// so a scrape always sees a +Inf bucket equal to _count, without the
// double buffering a separate count would need.
type histogram struct {
	counts  [len(durationBuckets) + 1]atomic.Uint64
	sumBits atomic.Uint64 // math.Float64bits of the sum
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(durationBuckets) && !(v <= durationBuckets[i]) { // NaN lands in +Inf
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// family is a metric family's metadata.
type family struct {
	name, typ, help string
	labels          []string
}

// appendText appends the exposition of every family that has a series, in
// the family order above, each family's series sorted by label values.
func (m *Metrics) appendText(b []byte) []byte {
	b = familyGoroutines.appendHeader(b)
	b = appendSample(b, familyGoroutines.name, "", nil, labelValues{}, "", "", strconv.Itoa(runtime.NumGoroutine()))

	b = familyStart.appendHeader(b)
	start := float64(processStart.UnixNano()) / 1e9
	b = appendSample(b, familyStart.name, "", nil, labelValues{}, "", "", formatFloat(start))

	b = appendCounters(b, familyBackchannel, &m.backchannel, (*atomic.Uint64).Load)
	b = appendCounters(b, familyHandoffs, &m.handoffs, (*atomic.Uint64).Load)
	b = appendHistograms(b, familyDurations, &m.durations)
	b = appendCounters(b, familyRequests, &m.requests, func(r *requestSeries) uint64 { return r.count.Load() })

	type store struct {
		name string
		size func() int
	}
	m.storesMu.Lock()
	stores := make([]store, 0, len(m.stores))
	for name, size := range m.stores {
		stores = append(stores, store{name, size})
	}
	mirror := m.mirror
	m.storesMu.Unlock()
	if mirror != nil {
		v := "0"
		if mirror() {
			v = "1"
		}
		b = familyMirror.appendHeader(b)
		b = appendSample(b, familyMirror.name, "", nil, labelValues{}, "", "", v)
	}
	if len(stores) > 0 {
		slices.SortFunc(stores, func(a, b store) int { return strings.Compare(a.name, b.name) })
		b = familyStores.appendHeader(b)
		for _, s := range stores {
			// Called outside storesMu: a store's Len takes its own lock.
			b = appendSample(b, familyStores.name, "", familyStores.labels, labelValues{s.name}, "", "", strconv.Itoa(s.size()))
		}
	}
	return b
}

func appendCounters[V any](b []byte, f family, v *vec[V], count func(*V) uint64) []byte {
	series := v.sorted()
	if len(series) == 0 {
		return b
	}
	b = f.appendHeader(b)
	for _, e := range series {
		b = appendSample(b, f.name, "", f.labels, e.lv, "", "", strconv.FormatUint(count(e.s), 10))
	}
	return b
}

func appendHistograms(b []byte, f family, v *vec[histogram]) []byte {
	series := v.sorted()
	if len(series) == 0 {
		return b
	}
	b = f.appendHeader(b)
	for _, e := range series {
		var cumulative uint64
		for i := range e.s.counts {
			cumulative += e.s.counts[i].Load()
			le := "+Inf"
			if i < len(durationBuckets) {
				le = formatFloat(durationBuckets[i])
			}
			b = appendSample(b, f.name, "_bucket", f.labels, e.lv, "le", le, strconv.FormatUint(cumulative, 10))
		}
		sum := math.Float64frombits(e.s.sumBits.Load())
		b = appendSample(b, f.name, "_sum", f.labels, e.lv, "", "", formatFloat(sum))
		b = appendSample(b, f.name, "_count", f.labels, e.lv, "", "", strconv.FormatUint(cumulative, 10))
	}
	return b
}

// appendHeader appends the family's # HELP and # TYPE lines.
func (f family) appendHeader(b []byte) []byte {
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.typ...)
	return append(b, '\n')
}

// appendSample appends one sample line: name+suffix, the labels (names with
// their values in lv, then extra=extraValue when extra is set) and value.
func appendSample(b []byte, name, suffix string, names []string, lv labelValues, extra, extraValue, value string) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(names) > 0 || extra != "" {
		b = append(b, '{')
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLabel(b, n, lv[i])
		}
		if extra != "" {
			if len(names) > 0 {
				b = append(b, ',')
			}
			b = appendLabel(b, extra, extraValue)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = append(b, value...)
	return append(b, '\n')
}

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, `="`...)
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped escapes s as the text format asks: a backslash and a line
// feed everywhere, a double quote only inside a label value.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// formatFloat spells a float as the text format (and client_golang) does;
// infinities come out as "+Inf" and "-Inf", as the format wants.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// statusLabel spells a status code without allocating: every code
// net/http lets a handler send (100 to 999) is a slice of one string.
func statusLabel(code int) string {
	if 100 <= code && code <= 999 {
		i := (code - 100) * 3
		return statusLabels()[i : i+3]
	}
	return strconv.Itoa(code)
}

// statusLabels is "100101102…999", built on first use rather than at init.
var statusLabels = sync.OnceValue(func() string {
	b := make([]byte, 0, 900*3)
	for code := 100; code <= 999; code++ {
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return string(b)
})

// knownRoute reports whether path is one the roles serve, labelled as
// itself. A switch rather than a map: nothing to build at init. Paths a
// handler registered on an http.ServeMux are labelled by their pattern
// even when not listed here.
func knownRoute(path string) bool {
	switch path {
	case "/", chain.LoginPath, chain.CallbackPath, chain.ContinuePath, chain.SSOPath,
		"/sso/introspect", "/auth", "/whoami", "/logout", "/logout/continue",
		"/backchannel-logout", "/.well-known/jwks.json",
		"/healthz", "/readyz", "/metrics",
		// the development IdP's subset of the Kratos API
		"/sessions/whoami", chain.KratosLoginPath, "/self-service/login",
		"/self-service/logout/browser", "/health/alive", "/health/ready":
		return true
	}
	return false
}

// knownPrefixes label paths that carry an id.
var knownPrefixes = [...]struct{ prefix, route string }{
	{"/admin/sessions/", "/admin/sessions/{id}"},
}

// routeOf names the route of a served request for the route label: a known
// path, else the ServeMux pattern that matched it (a bounded set: what the
// code registered), else a known prefix, else "other".
func routeOf(path, pattern string) string {
	if knownRoute(path) {
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
// letters, digits, '_', '-' and '.', and maps anything else to "other".
// Values seen before are answered without a lock.
type labelSet struct {
	seen sync.Map // value → the interned copy, both strings

	mu  sync.Mutex // serializes admissions, so n stays within max
	n   int
	max int
}

func newLabelSet(max int, seed ...string) *labelSet {
	s := &labelSet{max: max}
	for _, v := range append([]string{"", "other"}, seed...) {
		s.seen.Store(v, v)
	}
	return s
}

func (s *labelSet) get(v string) string {
	if got, ok := s.seen.Load(v); ok {
		return got.(string)
	}
	if !isCode(v) {
		return "other"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.seen.Load(v); ok {
		return got.(string)
	}
	if s.n >= s.max {
		return "other"
	}
	v = strings.Clone(v) // the caller's string may pin a larger buffer
	s.seen.Store(v, v)
	s.n++
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
