package chain_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// testKey signs the fake provider's ID tokens; one for the package, as
// RSA key generation is slow under -race.
var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

// fakeOP is an OpenID Connect provider small enough to misbehave on
// demand: a login form, then an answer at the redirect_uri as the request
// asks, or as the test tells it to (tokens in the fragment, an error,
// redirect URIs matched loosely). Real providers (see the Hydra test in
// cmd/ssoctl/internal/tracecmd) do not produce these edge cases.
type fakeOP struct {
	registered string // the client's redirect_uri
	// match is how redirect_uri is compared: "exact" (the default),
	// "prefix" or "any".
	match string
	// deny answers error=access_denied; leakFragment adds an access_token
	// in the fragment to a code answer.
	deny, leakFragment bool
	// codes counts the codes issued, so a probe that gets one is seen.
	codes atomic.Int32

	// The token endpoint, for code_replay: issuer is the provider's URL,
	// key is the one it publishes; signWith, when set, signs its ID tokens
	// instead. replayable redeems a code any number of times; noNonce and
	// aud change the ID token.
	issuer     string
	key        *rsa.PrivateKey
	signWith   *rsa.PrivateKey
	replayable bool
	noNonce    bool
	aud        string
	mu         sync.Mutex
	grants     map[string]*grant
}

// grant is what a code was issued for.
type grant struct {
	client, nonce, challenge string
	used                     bool
}

const opClientSecret = "rp-secret-not-shown"

const (
	opUser     = "alice@example.com"
	opPassword = "op-password-not-shown"
	opCode     = "code-value-not-shown"
	opState    = "state-value-not-shown"
	opNonce    = "nonce-value-not-shown"
	opVerifier = "challenge-value-not-shown"
)

func (op *fakeOP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		if r.Method == http.MethodPost {
			if r.PostFormValue("email") != opUser || r.PostFormValue("password") != opPassword {
				http.Error(w, "wrong password", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "op_session", Value: "s", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, r.PostFormValue("return"), http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="post" action="/login"><input type="hidden" name="return" value="%s">
<input name="email" type="email" autocomplete="username"><input name="password" type="password"><button>Sign in</button></form>`,
			html.EscapeString(r.URL.Query().Get("return")))
	case "/authorize":
		q := r.URL.Query()
		if _, err := r.Cookie("op_session"); err != nil {
			http.Redirect(w, r, "/login?"+url.Values{"return": {r.URL.String()}}.Encode(), http.StatusFound)
			return
		}
		ru := q.Get("redirect_uri")
		ok := ru == op.registered
		switch op.match {
		case "prefix":
			ok = strings.HasPrefix(ru, op.registered)
		case "any":
			ok = ru != ""
		}
		if !ok {
			http.Error(w, "invalid_request: redirect_uri is not registered", http.StatusBadRequest)
			return
		}
		answer := url.Values{}
		if s := q.Get("state"); s != "" {
			answer.Set("state", s)
		}
		rts := strings.Fields(q.Get("response_type"))
		switch {
		case op.deny:
			answer.Set("error", "access_denied")
			answer.Set("error_description", "the user said no")
		case slices.Contains(rts, "code"):
			n := op.codes.Add(1)
			code := fmt.Sprintf("%s-%d", opCode, n)
			op.mu.Lock()
			if op.grants == nil {
				op.grants = map[string]*grant{}
			}
			op.grants[code] = &grant{client: q.Get("client_id"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
			op.mu.Unlock()
			answer.Set("code", code)
		}
		if slices.Contains(rts, "token") {
			answer.Set("access_token", "opaque-access-token-not-shown")
		}
		if slices.Contains(rts, "id_token") {
			answer.Set("id_token", fakeIDToken(q.Get("client_id")))
		}
		switch {
		case q.Get("response_mode") == "form_post":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<form method="post" action="%s">`, html.EscapeString(ru))
			for k := range answer {
				fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s">`, k, html.EscapeString(answer.Get(k)))
			}
			fmt.Fprint(w, `</form><script>document.forms[0].submit()</script>`)
		case slices.Contains(rts, "token") || slices.Contains(rts, "id_token"):
			http.Redirect(w, r, ru+"#"+answer.Encode(), http.StatusFound)
		case op.leakFragment:
			http.Redirect(w, r, ru+"?"+answer.Encode()+"#access_token=opaque-access-token-not-shown", http.StatusFound)
		default:
			http.Redirect(w, r, ru+"?"+answer.Encode(), http.StatusFound)
		}
	case "/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": op.issuer, "authorization_endpoint": op.issuer + "/authorize", "token_endpoint": op.issuer + "/token",
			"jwks_uri": op.issuer + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	case "/jwks":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	case "/token":
		op.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

// token redeems a code (RFC 6749 §4.1.3) with the client's secret and the
// PKCE verifier, once unless replayable.
func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	fail := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, code)
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	op.mu.Lock()
	g := op.grants[r.PostFormValue("code")]
	replay := g != nil && g.used
	if g != nil {
		g.used = true
	}
	op.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case secret != opClientSecret:
		fail("invalid_client")
		return
	case g == nil || g.client != id || replay && !op.replayable:
		fail("invalid_grant")
		return
	case g.challenge != "" && base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		fail("invalid_grant")
		return
	}
	claims := map[string]any{"iss": op.issuer, "sub": "alice", "aud": id, "iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()}
	if !op.noNonce {
		claims["nonce"] = g.nonce
	}
	if op.aud != "" {
		claims["aud"] = op.aud
	}
	key := op.key
	if op.signWith != nil {
		key = op.signWith
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	raw, _ := obj.CompactSerialize()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque-access-token-not-shown", "token_type": "Bearer", "expires_in": 300, "id_token": raw})
}

// fakeIDToken is an unsigned ID token: the walk decodes without a key.
func fakeIDToken(aud string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "RS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": "http://op", "aud": aud, "sub": "alice", "nonce": "n", "iat": 1, "exp": 2}) + ".c2ln"
}

// fakeRP is a relying party: /login starts the authorization request with
// the parameters it is given, /callback shows a page.
type fakeRP struct {
	authorize string     // the provider's authorization endpoint
	params    url.Values // the request's, redirect_uri included
}

func (rp *fakeRP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		http.Redirect(w, r, rp.authorize+"?"+rp.params.Encode(), http.StatusFound)
	case "/callback":
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<p>signed in</p>")
	default:
		http.NotFound(w, r)
	}
}

// oidcWorld is a provider and a relying party on their own *.localhost
// names, which the Dialer sends to loopback.
type oidcWorld struct {
	op       *fakeOP
	opURL    string
	rpURL    string
	callback string
}

func startOIDC(t *testing.T, op *fakeOP, params func(callback string) url.Values) *oidcWorld {
	t.Helper()
	opSrv := httptest.NewServer(op)
	t.Cleanup(opSrv.Close)
	rp := &fakeRP{}
	rpSrv := httptest.NewServer(rp)
	t.Cleanup(rpSrv.Close)
	w := &oidcWorld{
		op:    op,
		opURL: "http://op.example.localhost:" + port(t, opSrv.Listener.Addr()),
		rpURL: "http://rp.app.localhost:" + port(t, rpSrv.Listener.Addr()),
	}
	w.callback = w.rpURL + "/callback"
	if op.registered == "" {
		op.registered = w.callback
	}
	op.issuer = w.opURL
	if op.key == nil {
		op.key = testKey
	}
	rp.authorize = w.opURL + "/authorize"
	rp.params = params(w.callback)
	return w
}

func port(t *testing.T, a net.Addr) string {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *oidcWorld) browser(t *testing.T) *chain.Browser {
	t.Helper()
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: &chain.Dialer{Strict: true}, User: opUser, Password: opPassword})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authParams are a relying party's authorization request parameters;
// change drops or sets some.
func authParams(change map[string]string) func(string) url.Values {
	return func(callback string) url.Values {
		v := url.Values{
			"response_type": {"code"}, "client_id": {"rp"}, "redirect_uri": {callback}, "scope": {"openid email"},
			"state": {opState}, "nonce": {opNonce}, "code_challenge": {opVerifier}, "code_challenge_method": {"S256"},
		}
		for k, val := range change {
			if val == "" {
				v.Del(k)
			} else {
				v.Set(k, val)
			}
		}
		return v
	}
}

// oidcHops are a walk's steps as "kind METHOD path", hosts left out.
func oidcHops(tr *chain.Trace) []string {
	var out []string
	for _, st := range tr.Steps {
		u, _ := url.Parse(st.URL)
		out = append(out, fmt.Sprintf("%d %s %s %s", st.Status, st.Kind, st.Method, u.Path))
	}
	return out
}

func TestWalkOIDC(t *testing.T) {
	loginHops := []string{
		"302  GET /login",
		"302 oidc_auth GET /authorize",
		"200  GET /login",
		"303  POST /login",
	}
	tests := []struct {
		description string
		op          *fakeOP // nil: one that does as asked
		change      map[string]string
		hops        []string // after loginHops
		findings    []string
		// check looks at the steps further.
		check func(t *testing.T, tr *chain.Trace)
	}{
		{
			description: "code flow with PKCE S256, state and nonce: the hops, no finding",
			hops:        []string{"302 oidc_auth GET /authorize", "200 oidc_callback GET /callback"},
			check: func(t *testing.T, tr *chain.Trace) {
				want := chain.OIDCSummary{
					Kind: chain.OIDCAuthorizationRequest, ClientID: "rp", Scope: []string{"openid", "email"}, ResponseType: "code",
					CodeChallengeMethod: "S256", State: true, Nonce: true, RedirectURI: "http://" + tr.Steps[0].URL[len("http://"):strings.Index(tr.Steps[0].URL, "/login")] + "/callback",
				}
				got := *tr.Steps[1].OIDC
				if !equalJSON(got, want) {
					t.Errorf("authorization request:\n got %+v\nwant %+v", got, want)
				}
				cb := tr.Steps[len(tr.Steps)-1].OIDC
				if cb == nil || !equalJSON(*cb, chain.OIDCSummary{Kind: chain.OIDCCallback, ClientID: "rp", In: "query", State: true, Code: true}) {
					t.Errorf("callback: %+v", cb)
				}
			},
		},
		{
			description: "no state and no PKCE: SSO501 and SSO502, once for the walk",
			change:      map[string]string{"state": "", "code_challenge": "", "code_challenge_method": ""},
			hops:        []string{"302 oidc_auth GET /authorize", "200 oidc_callback GET /callback"},
			findings:    []string{"SSO501", "SSO502"},
			check: func(t *testing.T, tr *chain.Trace) {
				if o := tr.Steps[1].OIDC; o.State || o.CodeChallengeMethod != "" {
					t.Errorf("%+v", o)
				}
				if got := codes(tr.Steps[1].Findings); !slices.Equal(got, []string{"SSO501", "SSO502"}) {
					t.Errorf("step 2 findings %v", got)
				}
				if got := tr.Steps[4].Findings; len(got) != 0 {
					t.Errorf("the resumed request repeats findings: %v", codes(got))
				}
			},
		},
		{
			description: "PKCE plain",
			change:      map[string]string{"code_challenge_method": "plain"},
			hops:        []string{"302 oidc_auth GET /authorize", "200 oidc_callback GET /callback"},
			findings:    []string{"SSO502"},
		},
		{
			description: "a code_challenge without a method is plain",
			change:      map[string]string{"code_challenge_method": ""},
			hops:        []string{"302 oidc_auth GET /authorize", "200 oidc_callback GET /callback"},
			findings:    []string{"SSO502"},
			check: func(t *testing.T, tr *chain.Trace) {
				if m := tr.Steps[1].OIDC.CodeChallengeMethod; m != chain.PKCEPlain {
					t.Errorf("method %q", m)
				}
			},
		},
		{
			description: "implicit flow: SSO506 at the request, the ID token in the fragment is no handoff",
			change:      map[string]string{"response_type": "id_token token", "code_challenge": "", "code_challenge_method": ""},
			hops:        []string{"302 oidc_auth GET /authorize", "200 oidc_callback GET /callback"},
			findings:    []string{"SSO506"},
			check: func(t *testing.T, tr *chain.Trace) {
				cb := tr.Steps[len(tr.Steps)-1]
				if cb.OIDC == nil || cb.OIDC.In != "fragment" || !slices.Equal(cb.OIDC.Tokens, []string{"access_token", "id_token"}) {
					t.Errorf("callback %+v", cb.OIDC)
				}
				if cb.Token == nil || len(cb.Token.Audience) != 1 || cb.Token.Audience[0] != "rp" {
					t.Errorf("the ID token is not decoded: %+v", cb.Token)
				}
			},
		},
		{
			description: "form_post: the callback is a POST, nothing in a URL",
			change:      map[string]string{"response_mode": "form_post", "response_type": "code id_token"},
			hops:        []string{"200 oidc_auth GET /authorize", "200 oidc_callback POST /callback"},
			check: func(t *testing.T, tr *chain.Trace) {
				cb := tr.Steps[len(tr.Steps)-1]
				if cb.OIDC == nil || cb.OIDC.In != "form" || !cb.OIDC.Code || !slices.Equal(cb.OIDC.Tokens, []string{"id_token"}) {
					t.Errorf("callback %+v", cb.OIDC)
				}
			},
		},
		{
			description: "an error answer",
			op:          &fakeOP{deny: true},
			hops:        []string{"302 oidc_auth GET /authorize", "200 oidc_callback GET /callback"},
			check: func(t *testing.T, tr *chain.Trace) {
				cb := tr.Steps[len(tr.Steps)-1].OIDC
				if cb == nil || cb.Kind != chain.OIDCError || cb.Error != "access_denied" || cb.ErrorDescription != "the user said no" || cb.Code {
					t.Errorf("callback %+v", cb)
				}
			},
		},
		{
			description: "a provider that puts a token in the fragment of a code answer: SSO506 at its redirect",
			op:          &fakeOP{leakFragment: true},
			hops:        []string{"302 oidc_auth GET /authorize", "200 oidc_callback GET /callback"},
			findings:    []string{"SSO506"},
			check: func(t *testing.T, tr *chain.Trace) {
				if got := codes(tr.Steps[4].Findings); !slices.Equal(got, []string{"SSO506"}) {
					t.Errorf("SSO506 not at the provider's redirect: %v", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			op := tt.op
			if op == nil {
				op = &fakeOP{}
			}
			w := startOIDC(t, op, authParams(tt.change))
			tr := walk(t, w.browser(t), w.rpURL+"/login")
			equalLists(t, "hops", oidcHops(tr), append(slices.Clone(loginHops), tt.hops...))
			equalLists(t, "findings", codes(tr.Findings), tt.findings)
			if tt.check != nil {
				tt.check(t, tr)
			}
			for _, st := range tr.Steps {
				if st.OIDC == nil {
					continue
				}
				js, _ := json.Marshal(st.OIDC)
				for _, s := range []string{opCode, opState, opNonce, opVerifier, "opaque-access-token"} {
					if strings.Contains(string(js), s) {
						t.Errorf("step %d's oidc record holds %q: %s", st.N, s, js)
					}
				}
				if testenv.JWT.Match(js) {
					t.Errorf("step %d's oidc record holds a token: %s", st.N, js)
				}
			}
			secretsAbsent(t, tr, opPassword, "opaque-access-token-not-shown")
		})
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestProbeOIDCRedirectURI: --probe replays the walk's authorization
// request with its redirect_uri moved to another host and to another path;
// a provider that sends a code there is SSO503, and nothing is ever sent
// to the changed URI.
func TestProbeOIDCRedirectURI(t *testing.T) {
	tests := []struct {
		match    string
		refused  map[string]bool
		findings []string
	}{
		{match: "exact", refused: map[string]bool{chain.ProbeRedirectURIHost: true, chain.ProbeRedirectURIPath: true}},
		{match: "prefix", refused: map[string]bool{chain.ProbeRedirectURIHost: true, chain.ProbeRedirectURIPath: false}, findings: []string{"SSO503"}},
		{match: "any", refused: map[string]bool{chain.ProbeRedirectURIHost: false, chain.ProbeRedirectURIPath: false}, findings: []string{"SSO503", "SSO503"}},
	}
	for _, tt := range tests {
		t.Run(tt.match, func(t *testing.T) {
			w := startOIDC(t, &fakeOP{match: tt.match}, authParams(nil))
			b := w.browser(t)
			tr := walk(t, b, w.rpURL+"/login")
			if len(tr.Findings) != 0 {
				t.Fatalf("the walk: %v", codes(tr.Findings))
			}
			walked := w.op.codes.Load()
			b.Probe(context.Background(), tr, chain.ProbeOptions{})
			if len(tr.Probes) != 2 {
				t.Fatalf("probes %+v", tr.Probes)
			}
			accepted := int32(0)
			for _, p := range tr.Probes {
				if p.Skipped != "" || p.Refused != tt.refused[p.Name] || p.Target != strings.TrimPrefix(w.opURL, "http://") {
					t.Errorf("%+v; want refused %v", p, tt.refused[p.Name])
				}
				if !p.Refused {
					accepted++
					if p.Finding != "SSO503" || strings.Contains(p.Location, opCode) || !strings.Contains(p.Location, "code=<code>") {
						t.Errorf("%+v", p)
					}
				}
			}
			if got := w.op.codes.Load() - walked; got != accepted {
				t.Errorf("the provider issued %d codes to the probes, %d accepted", got, accepted)
			}
			equalLists(t, "findings", codes(tr.Findings), tt.findings)
			if tr.Failed() != (len(tt.findings) > 0) {
				t.Errorf("Failed() = %v", tr.Failed())
			}
		})
	}
}

// TestProbeOIDCCodeReplay: with the client's credentials, code_replay plays
// the client: a code of its own, redeemed, its ID token verified (SSO505),
// and redeemed again, which the provider must refuse (SSO504).
func TestProbeOIDCCodeReplay(t *testing.T) {
	tests := []struct {
		description string
		op          *fakeOP
		secret      string
		refused     bool
		skipped     string // a part of the reason
		findings    []string
		detail      string // a part of the finding's detail
	}{
		{description: "a provider that does everything right", op: &fakeOP{}, refused: true},
		{description: "a code redeemed twice", op: &fakeOP{replayable: true}, findings: []string{"SSO504"}, detail: "twice"},
		{description: "an ID token without the nonce", op: &fakeOP{noNonce: true}, refused: true, findings: []string{"SSO505"}, detail: "nonce"},
		{description: "an ID token for another audience", op: &fakeOP{aud: "someone-else"}, refused: true, findings: []string{"SSO505"}, detail: "audience"},
		{description: "an ID token signed by another key", op: &fakeOP{signWith: otherKey(t)}, refused: true, findings: []string{"SSO505"}, detail: "signature"},
		{description: "the wrong client secret", op: &fakeOP{}, secret: "wrong", skipped: "400 invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			w := startOIDC(t, tt.op, authParams(nil))
			b := w.browser(t)
			tr := walk(t, b, w.rpURL+"/login")
			secret := opClientSecret
			if tt.secret != "" {
				secret = tt.secret
			}
			b.Probe(context.Background(), tr, chain.ProbeOptions{OIDCClients: []chain.OIDCClient{{ID: "rp", Secret: secret}}})
			var p *chain.ProbeResult
			for i := range tr.Probes {
				if tr.Probes[i].Name == chain.ProbeCodeReplay {
					p = &tr.Probes[i]
				}
			}
			if p == nil {
				t.Fatalf("no code_replay probe: %+v", tr.Probes)
			}
			switch {
			case tt.skipped != "":
				if !strings.Contains(p.Skipped, tt.skipped) {
					t.Errorf("skipped %q, want it to say %q", p.Skipped, tt.skipped)
				}
			case p.Skipped != "" || p.Refused != tt.refused:
				t.Errorf("%+v; want refused %v", p, tt.refused)
			case p.Token == nil || len(p.Token.Audience) != 1 || p.Token.Alg != "RS256":
				t.Errorf("the ID token is not shown: %+v", p.Token)
			}
			equalLists(t, "findings", codes(tr.Findings), tt.findings)
			for _, f := range tr.Findings {
				if !strings.Contains(f.Detail, tt.detail) {
					t.Errorf("%s: %s; want it to say %q", f.Code, f.Detail, tt.detail)
				}
			}
			// The walk's code shows in its URLs (-1); the probe's own (-2)
			// nowhere.
			secretsAbsent(t, tr, opClientSecret, "opaque-access-token-not-shown", opCode+"-2")
		})
	}
}

func otherKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
