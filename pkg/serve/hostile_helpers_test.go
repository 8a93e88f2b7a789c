package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// The hostile suite (issue 10) stands the DESIGN §12 chain up by hand
// rather than through NewRoles, so that it holds what NewRoles keeps to
// itself: the chain secret (to sign hostile tokens the minting API refuses
// to make), each role's sealer (to open and forge cookies), and the
// receivers' stores and the IdP client behind counters (to prove a refusal
// wrote nothing).

// Secrets of the hostile chain. None may ever reach a log line.
const (
	hostileSecret    = "hostile-chain-secret-0123456789-abcdefghij"
	hostileAppSecret = "hostile-app-secret-0123456789-abcdefghijkl"
)

var hostileChainYAML = strings.NewReplacer(
	"  alg: HS256\n", "  alg: HS256\n  secret: {env: HOSTILE_SSO_SECRET}\n",
	"    - http://dashboard.company3.localhost:8082\n",
	"    - http://dashboard.company3.localhost:8082\napps:\n  - {name: wiki, key: wiki-app, secret: {env: HOSTILE_APP_SECRET}, permissions: [wiki:read]}\n",
).Replace(localChain)

// countingReplay and countingRevocations are a receiver's memory stores,
// counting every entry written.
type countingReplay struct {
	store.ReplayStore
	written atomic.Int64
}

func (s *countingReplay) Consume(ctx context.Context, jti string, until time.Time) (bool, error) {
	fresh, err := s.ReplayStore.Consume(ctx, jti, until)
	if fresh && err == nil {
		s.written.Add(1)
	}
	return fresh, err
}

type countingRevocations struct {
	store.RevocationStore
	written atomic.Int64
}

func (s *countingRevocations) Revoke(ctx context.Context, id string, until time.Time) error {
	s.written.Add(1)
	return s.RevocationStore.Revoke(ctx, id, until)
}

// countingIdP counts the sessions the roles end at the IdP.
type countingIdP struct {
	serve.IdentityProvider
	revoked atomic.Int64
}

func (p *countingIdP) Revoke(ctx context.Context, id string) error {
	p.revoked.Add(1)
	return p.IdentityProvider.Revoke(ctx, id)
}

type hostileChain struct {
	t         *testing.T
	net       *browsertest.Net
	clock     *clock
	logs      *testenv.Buffer
	key       *token.Key
	kid       string
	idp       *countingIdP
	issuer    http.Handler
	receivers map[string]http.Handler
	sealers   map[string]*serve.Sealer // by role: "issuer", "portal", "dashboard"
	replay    map[string]*countingReplay
	revoked   map[string]*countingRevocations
	// alice's signed-in session, and her cookies on every role.
	sid, sub string
	cookies  map[string]*http.Cookie // by role
}

func startHostileChain(t *testing.T) *hostileChain {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(hostileChainYAML))
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileChain{
		t: t, net: browsertest.NewNet(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, logs: &testenv.Buffer{},
		receivers: map[string]http.Handler{}, sealers: map[string]*serve.Sealer{},
		replay: map[string]*countingReplay{}, revoked: map[string]*countingRevocations{}, cookies: map[string]*http.Cookie{},
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := serve.Env{
		HTTPClient: h.net.Client(), Now: h.clock.Now, Logger: logger,
		LookupEnv: func(name string) (string, bool) {
			switch name {
			case "HOSTILE_SSO_SECRET":
				return hostileSecret, true
			case "HOSTILE_APP_SECRET":
				return hostileAppSecret, true
			}
			return "", false
		},
	}
	dev, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	h.net.Serve(t, idpPublic, dev.Public())
	h.net.Serve(t, idpAdmin, dev.Admin())
	keys, err := serve.ResolveKeys(c, env, true)
	if err != nil {
		t.Fatal(err)
	}
	h.key, h.kid = keys.Signing, token.DeriveHMACKeyID([]byte(hostileSecret))
	idp, err := serve.NewIdentityProvider(c, env)
	if err != nil {
		t.Fatal(err)
	}
	h.idp = &countingIdP{IdentityProvider: idp}
	if h.sealers["issuer"], err = keys.Sealer("issuer", c.Issuer.Cookie, env); err != nil {
		t.Fatal(err)
	}
	apps, err := serve.ResolveApps(c, env)
	if err != nil {
		t.Fatal(err)
	}
	is, err := serve.NewIssuer(serve.IssuerConfig{
		Chain: c, IdP: h.idp, Key: keys.Signing, Sealer: h.sealers["issuer"], Now: h.clock.Now,
		Logger: logger, BackchannelClient: env.HTTPClient, Apps: apps,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.issuer = serve.Observe("issuer", is, serve.ObserveOptions{Logger: logger, Now: h.clock.Now})
	h.net.Serve(t, issuerURL, h.issuer)
	for _, r := range c.Receivers {
		if h.sealers[r.Name], err = keys.Sealer(r.Name, r.Cookie, env); err != nil {
			t.Fatal(err)
		}
		h.replay[r.Name] = &countingReplay{ReplayStore: store.NewMemoryReplay(store.MemoryOptions{Now: h.clock.Now})}
		h.revoked[r.Name] = &countingRevocations{RevocationStore: store.NewMemoryRevocations(store.MemoryOptions{Now: h.clock.Now})}
		rc, err := serve.NewReceiver(serve.ReceiverConfig{
			Chain: c, Name: r.Name, IdP: h.idp, Keys: keys.Verify, Sealer: h.sealers[r.Name],
			Replay: h.replay[r.Name], Revocations: h.revoked[r.Name], RecheckInterval: time.Minute,
			Now: h.clock.Now, Logger: logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		h.receivers[r.Name] = serve.Observe(r.Name, rc, serve.ObserveOptions{Logger: logger, Now: h.clock.Now})
		h.net.Serve(t, r.URL, h.receivers[r.Name])
	}

	// alice signs in once, through the whole walk.
	b := browsertest.New(t, h.net)
	b.Email, b.Password = "alice@example.com", "wonderland"
	if p := b.Visit(loginURL(issuerURL + "/")); p.Status != http.StatusOK || p.URL != issuerURL+"/" {
		t.Fatalf("alice's login ended at %s with %d", p.URL, p.Status)
	}
	for role, origin := range map[string]string{"issuer": issuerURL, "portal": portalURL, "dashboard": dashboardURL} {
		u, _ := url.Parse(origin)
		for _, ck := range b.Jar().Cookies(u) {
			if strings.HasSuffix(ck.Name, "_session") && ck.Name != "ory_kratos_session" {
				h.cookies[role] = ck
			}
		}
		if h.cookies[role] == nil {
			t.Fatalf("alice has no %s cookie after the walk", role)
		}
	}
	cs, err := h.sealers["issuer"].OpenSession("accounts_session", h.cookies["issuer"].Value, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.sid, h.sub = cs.SessionID, cs.Subject
	return h
}

// handler returns the role's handler: "issuer" or a receiver's name.
func (h *hostileChain) handler(role string) http.Handler {
	if role == "issuer" {
		return h.issuer
	}
	return h.receivers[role]
}

// claims is a valid handoff's claim set for aud, minted now.
func (h *hostileChain) claims(aud string) map[string]any {
	now := h.clock.Now()
	return map[string]any{
		"iss": issuerURL, "aud": aud, "sub": h.sub, "sid": h.sid, "jti": token.NewID(),
		"iat": now.Unix(), "exp": now.Add(30 * time.Second).Unix(), "chn": "hostile-chn", "ret": portalURL + "/",
	}
}

// logoutClaims is a valid logout token's claim set for aud.
func (h *hostileChain) logoutClaims(aud string) map[string]any {
	c := h.claims(aud)
	delete(c, "chn")
	delete(c, "ret")
	c["events"] = map[string]any{token.BackchannelLogoutEvent: map[string]any{}}
	return c
}

func (h *hostileChain) header(typ string) map[string]any {
	return map[string]any{"alg": "HS256", "kid": h.kid, "typ": typ}
}

// sign builds a compact JWS by hand from header and claims JSON, HMAC'd
// with the chain's secret whatever the header says.
func (h *hostileChain) sign(header, claims string) string {
	input := b64url(header) + "." + b64url(claims)
	m := hmac.New(sha256.New, []byte(hostileSecret))
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// handoff is a hand-signed handoff for aud after edit changes its header
// and claims.
func (h *hostileChain) handoff(aud string, edit func(hd, cl map[string]any)) string {
	hd, cl := h.header(token.Type), h.claims(aud)
	if edit != nil {
		edit(hd, cl)
	}
	return h.sign(mustJSON(hd), mustJSON(cl))
}

func (h *hostileChain) logoutToken(aud string, edit func(hd, cl map[string]any)) string {
	hd, cl := h.header(token.LogoutType), h.logoutClaims(aud)
	if edit != nil {
		edit(hd, cl)
	}
	return h.sign(mustJSON(hd), mustJSON(cl))
}

// state is what a hostile request may change: entries in every receiver's
// replay and revocation stores, and sessions ended at the IdP.
type hostileState struct{ replay, revoked, idpRevoked int64 }

func (h *hostileChain) state() hostileState {
	var s hostileState
	for _, r := range h.replay {
		s.replay += r.written.Load()
	}
	for _, r := range h.revoked {
		s.revoked += r.written.Load()
	}
	s.idpRevoked = h.idp.revoked.Load()
	return s
}

// hostileCase is one hostile request and what a refusal must look like.
type hostileCase struct {
	name string
	role string // "issuer" or a receiver's name
	// req builds the request; it runs before the state is measured, so it
	// may prepare (use a token once, advance the clock).
	req    func(h *hostileChain) *http.Request
	status int
	// reasons are the log line's acceptable reason values; one of them
	// must be there.
	reasons []string
	// location: "" means no redirect; otherwise the exact Location.
	location string
	// clears is the cookie the answer may delete (a logout's intent).
	clears string
	// consumes: the token passed every check of the profile and is spent
	// before the IdP refused its session (receiver.go: the jti is
	// consumed only by a token that passed them all).
	consumes bool
	// secrets must not reach the log, besides the chain's own.
	secrets []string
}

// requestLine is the Observe log line of one request.
type requestLine map[string]any

// run sends c's request to its role in process and checks every property of
// a refusal.
func (h *hostileChain) run(t *testing.T, c hostileCase) {
	t.Helper()
	req := c.req(h)
	secrets := append(requestSecrets(t, req), hostileSecret, hostileAppSecret)
	before, logStart := h.state(), len(h.logs.String())
	rec := httptest.NewRecorder()
	h.handler(c.role).ServeHTTP(rec, req)
	resp := rec.Result()
	after, logs := h.state(), h.logs.String()[logStart:]

	if resp.StatusCode != c.status {
		t.Errorf("status %d, want %d; body:\n%.600s", resp.StatusCode, c.status, rec.Body.String())
	}
	if resp.StatusCode >= 500 && c.status < 500 {
		t.Errorf("a hostile request got %d", resp.StatusCode)
	}
	line := lastRequestLine(t, logs)
	if reason, _ := line["reason"].(string); !contains(c.reasons, reason) {
		t.Errorf("log reason %q, want one of %q; line %v", reason, c.reasons, line)
	}
	if got := resp.Header.Get("Location"); got != c.location {
		t.Errorf("Location %q, want %q", got, c.location)
	}
	for _, ck := range resp.Cookies() {
		switch {
		case ck.Value != "" && ck.MaxAge >= 0:
			t.Errorf("the refusal sets a cookie: %s", ck.Name)
		case ck.Name != c.clears:
			t.Errorf("the refusal deletes the cookie %s", ck.Name)
		}
	}
	want := before
	if c.consumes {
		want.replay++
	}
	if after != want {
		t.Errorf("state changed: %+v → %+v (want %+v)", before, after, want)
	}
	secrets = append(secrets, c.secrets...)
	for _, ck := range h.cookies {
		secrets = append(secrets, ck.Value)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the log holds a secret (%.24s…):\n%s", s, logs)
		}
	}
}

// requestSecrets are the bearer values a request carries: long query and
// form values (tokens, states), their signature segments, and cookies.
func requestSecrets(t *testing.T, r *http.Request) []string {
	t.Helper()
	values := r.URL.Query()
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range form {
				values[k] = append(values[k], v...)
			}
		} else {
			values.Add("body", string(body))
		}
	}
	var out []string
	add := func(v string) {
		if len(v) >= 20 && strings.Trim(v, "A") != "" {
			out = append(out, v)
		}
		if i := strings.LastIndexByte(v, '.'); i >= 0 && len(v)-i > 20 {
			out = append(out, v[i+1:])
		}
	}
	for _, vs := range values {
		for _, v := range vs {
			add(v)
		}
	}
	for _, ck := range r.Cookies() {
		add(ck.Value)
	}
	return out
}

// freshSession signs alice in again in a browser of its own and returns
// that session's id and subject.
func (h *hostileChain) freshSession() (sid, sub string) {
	h.t.Helper()
	b := browsertest.New(h.t, h.net)
	b.Email, b.Password = "alice@example.com", "wonderland"
	if p := b.Visit(loginURL(issuerURL + "/")); p.Status != http.StatusOK {
		h.t.Fatalf("second login ended at %s with %d", p.URL, p.Status)
	}
	u, _ := url.Parse(issuerURL)
	for _, ck := range b.Jar().Cookies(u) {
		if ck.Name == "accounts_session" {
			cs, err := h.sealers["issuer"].OpenSession(ck.Name, ck.Value, h.clock.Now())
			if err != nil {
				h.t.Fatal(err)
			}
			return cs.SessionID, cs.Subject
		}
	}
	h.t.Fatal("no issuer cookie after the second login")
	return "", ""
}

// lastRequestLine parses the last "request" line written to logs.
func lastRequestLine(t *testing.T, logs string) requestLine {
	t.Helper()
	var last requestLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l requestLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "request" {
			last = l
		}
	}
	if last == nil {
		t.Fatalf("no request line in the log:\n%s", logs)
	}
	return last
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// get and postForm build requests to an origin's path.
func get(rawURL string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, rawURL, nil)
	setHeaders(r, header)
	return r
}

func postForm(rawURL string, form url.Values, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	setHeaders(r, header)
	return r
}

func setHeaders(r *http.Request, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
}

// crossSite is what a browser sends with a request another site started.
var crossSite = []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}

// serveCookieSession is alice's cookie session as a role would seal it.
func serveCookieSession(sid, sub string, expires time.Time) serve.CookieSession {
	return serve.CookieSession{SessionID: sid, Subject: sub, Email: "alice@example.com", Role: "admin",
		AuthenticatedAt: expires.Add(-time.Hour), Expires: expires}
}
