package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/idna"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// The hostile HTTP suite (issue 10, DESIGN §9): every endpoint of the
// chain, fed what an attacker would send. Each refusal must answer with
// the right status, log a specific reason, set no session cookie, write
// nothing to a store, and keep every token, cookie and secret out of the
// log (hostileChain.run).

// tokenCase is one hostile token of DESIGN §9.
type tokenCase struct {
	name   string
	reason string
	// tok builds the token; it may use the chain first (a replay).
	tok func(h *hostileChain) string
	// consumes: see hostileCase.consumes.
	consumes bool
}

// hostileHandoffs are the tokens /sso must refuse. Every one fails exactly
// one check, so the reason logged is that check's.
func hostileHandoffs() []tokenCase {
	edit := func(f func(h *hostileChain, hd, cl map[string]any)) func(h *hostileChain) string {
		return func(h *hostileChain) string {
			return h.handoff("portal", func(hd, cl map[string]any) { f(h, hd, cl) })
		}
	}
	return []tokenCase{
		{name: "alg none", reason: "alg_none", tok: func(h *hostileChain) string {
			hd := h.header(token.Type)
			hd["alg"] = "none"
			return b64url(mustJSON(hd)) + "." + b64url(mustJSON(h.claims("portal"))) + "."
		}},
		{name: "alg NoNe", reason: "alg_none", tok: func(h *hostileChain) string {
			hd := h.header(token.Type)
			hd["alg"] = "NoNe"
			return b64url(mustJSON(hd)) + "." + b64url(mustJSON(h.claims("portal"))) + "."
		}},
		{name: "HS/RS confusion: RS256 header over an HMAC", reason: "alg_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["alg"] = "RS256" })},
		{name: "HS/RS confusion: EdDSA header", reason: "alg_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["alg"] = "EdDSA" })},
		{name: "unknown kid", reason: "kid_unknown", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["kid"] = "rotated-away" })},
		{name: "path-like kid", reason: "kid_invalid", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["kid"] = "../../../../dev/null" })},
		{name: "kid with a URL", reason: "kid_invalid", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["kid"] = "https://evil.example/k" })},
		{name: "jku header", reason: "header_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["jku"] = "https://evil.example/jwks.json" })},
		{name: "x5u header", reason: "header_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["x5u"] = "https://evil.example/cert.pem" })},
		{name: "jwk header", reason: "header_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) {
			hd["jwk"] = map[string]any{"kty": "oct", "k": b64url(hostileSecret)}
		})},
		{name: "crit", reason: "crit_unsupported", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["crit"] = []string{"exp"} })},
		{name: "typ JWT", reason: "typ_mismatch", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["typ"] = "JWT" })},
		{name: "typ of a logout token", reason: "typ_mismatch", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["typ"] = token.LogoutType })},
		{name: "typ missing", reason: "typ_missing", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { delete(hd, "typ") })},
		{name: "exp missing", reason: "exp_missing", tok: edit(func(_ *hostileChain, _, cl map[string]any) { delete(cl, "exp") })},
		{name: "expired beyond leeway", reason: "token_expired", tok: edit(func(h *hostileChain, _, cl map[string]any) {
			now := h.clock.Now()
			cl["iat"], cl["exp"] = now.Add(-40*time.Second).Unix(), now.Add(-10*time.Second).Unix()
		})},
		{name: "nbf in the future beyond leeway", reason: "token_not_yet_valid", tok: edit(func(h *hostileChain, _, cl map[string]any) {
			cl["nbf"] = h.clock.Now().Add(20 * time.Second).Unix()
		})},
		{name: "iat in the future beyond leeway", reason: "iat_in_future", tok: edit(func(h *hostileChain, _, cl map[string]any) {
			now := h.clock.Now()
			cl["iat"], cl["exp"] = now.Add(10*time.Second).Unix(), now.Add(30*time.Second).Unix()
		})},
		{name: "lifetime over the maximum", reason: "lifetime_too_long", tok: edit(func(h *hostileChain, _, cl map[string]any) {
			cl["exp"] = h.clock.Now().Add(time.Hour).Unix()
		})},
		{name: "wrong aud", reason: "audience_mismatch", tok: func(h *hostileChain) string { return h.handoff("dashboard", nil) }},
		{name: "aud naming two receivers", reason: "audience_not_single", tok: edit(func(_ *hostileChain, _, cl map[string]any) {
			cl["aud"] = []string{"portal", "dashboard"}
		})},
		{name: "wrong iss", reason: "issuer_mismatch", tok: edit(func(_ *hostileChain, _, cl map[string]any) { cl["iss"] = "http://evil.example" })},
		{name: "replayed jti", reason: "token_replayed", tok: func(h *hostileChain) string {
			raw := h.handoff("portal", nil)
			if rec := serveOnce(h, "portal", get(portalURL+chain.SSOPath+"?"+url.Values{chain.TokenParam: {raw}}.Encode())); rec.Code != http.StatusSeeOther {
				h.t.Fatalf("the first use of the token = %d, want 303", rec.Code)
			}
			return raw
		}},
		{name: "bad signature", reason: "signature_invalid", tok: func(h *hostileChain) string {
			raw := []byte(h.handoff("portal", nil))
			i := len(raw) - 5
			raw[i] = map[bool]byte{true: 'B', false: 'A'}[raw[i] == 'A']
			return string(raw)
		}},
		{name: "malformed base64", reason: "base64_invalid", tok: func(h *hostileChain) string {
			return "eyJ!!!." + strings.Split(h.handoff("portal", nil), ".")[1] + ".sig"
		}},
		{name: "padded base64", reason: "base64_invalid", tok: func(h *hostileChain) string {
			p := strings.Split(h.handoff("portal", nil), ".")
			return p[0] + "=." + p[1] + "." + p[2]
		}},
		{name: "two parts", reason: "token_malformed", tok: func(h *hostileChain) string {
			p := strings.Split(h.handoff("portal", nil), ".")
			return p[0] + "." + p[1]
		}},
		{name: "malformed JSON", reason: "json_invalid", tok: func(h *hostileChain) string {
			return h.sign(`{"alg":"HS256","typ":"`+token.Type+`"`, mustJSON(h.claims("portal")))
		}},
		{name: "claims not an object", reason: "json_invalid", tok: func(h *hostileChain) string {
			return h.sign(mustJSON(h.header(token.Type)), `["portal"]`)
		}},
		{name: "duplicate header key", reason: "duplicate_key", tok: func(h *hostileChain) string {
			hd := mustJSON(h.header(token.Type))
			return h.sign(strings.TrimSuffix(hd, "}")+`,"alg":"none"}`, mustJSON(h.claims("portal")))
		}},
		{name: "duplicate claim key", reason: "duplicate_key", tok: func(h *hostileChain) string {
			cl := mustJSON(h.claims("portal"))
			return h.sign(mustJSON(h.header(token.Type)), strings.TrimSuffix(cl, "}")+`,"aud":"dashboard"}`)
		}},
		{name: "oversized token", reason: "token_too_large", tok: edit(func(_ *hostileChain, _, cl map[string]any) {
			cl["pad"] = strings.Repeat("A", token.MaxSize)
		})},
		{name: "ret outside the allowlist", reason: "ret_not_allowed", tok: edit(func(_ *hostileChain, _, cl map[string]any) { cl["ret"] = "https://evil.example/" })},
		{name: "ret not http(s)", reason: "ret_invalid", tok: edit(func(_ *hostileChain, _, cl map[string]any) { cl["ret"] = "javascript:alert(1)" })},
		{name: "revoked IdP session", reason: "idp_session_inactive", consumes: true, tok: func(h *hostileChain) string {
			// A session of alice's that has ended at the IdP.
			raw := h.otherSession(true)
			return h.handoff("portal", func(_, cl map[string]any) { cl["sid"] = raw })
		}},
		{name: "IdP session the IdP never had", reason: "idp_session_inactive", consumes: true, tok: edit(func(_ *hostileChain, _, cl map[string]any) {
			cl["sid"] = "00000000-0000-4000-8000-000000000000"
		})},
		{name: "sub of another identity", reason: "idp_session_mismatch", consumes: true, tok: edit(func(_ *hostileChain, _, cl map[string]any) {
			cl["sub"] = "someone-else"
		})},
	}
}

func serveOnce(h *hostileChain, role string, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.handler(role).ServeHTTP(rec, r)
	return rec
}

// otherSession signs alice in a second time in a browser of its own and
// returns that session's id, revoked at the IdP when revoked.
func (h *hostileChain) otherSession(revoked bool) string {
	h.t.Helper()
	sid, _ := h.freshSession()
	if revoked {
		if err := h.idp.IdentityProvider.Revoke(h.t.Context(), sid); err != nil {
			h.t.Fatal(err)
		}
	}
	return sid
}

func ssoGet(raw string) *http.Request {
	return get(portalURL + chain.SSOPath + "?" + url.Values{chain.TokenParam: {raw}}.Encode())
}

func ssoPost(raw string) *http.Request {
	return postForm(portalURL+chain.SSOPath, url.Values{chain.TokenParam: {raw}}, "Origin", "null")
}

func TestHostileSSO(t *testing.T) {
	h := startHostileChain(t)
	var cases []hostileCase
	for _, tc := range hostileHandoffs() {
		for _, via := range []struct {
			name string
			req  func(string) *http.Request
		}{{"GET", ssoGet}, {"POST", ssoPost}} {
			cases = append(cases, hostileCase{
				name: tc.name + " via " + via.name, role: "portal", status: http.StatusUnauthorized,
				reasons: []string{tc.reason}, consumes: tc.consumes,
				req: func(h *hostileChain) *http.Request { return via.req(tc.tok(h)) },
			})
		}
	}
	cases = append(cases,
		hostileCase{name: "no token via GET", role: "portal", status: http.StatusBadRequest, reasons: []string{"token_missing"},
			req: func(*hostileChain) *http.Request { return get(portalURL + chain.SSOPath) }},
		hostileCase{name: "no token via POST", role: "portal", status: http.StatusBadRequest, reasons: []string{"token_missing"},
			req: func(*hostileChain) *http.Request { return postForm(portalURL+chain.SSOPath, nil) }},
		hostileCase{name: "oversized query", role: "portal", status: http.StatusUnauthorized, reasons: []string{"token_too_large"},
			req: func(*hostileChain) *http.Request { return ssoGet(strings.Repeat("A", 512<<10)) }},
		hostileCase{name: "oversized body", role: "portal", status: http.StatusRequestEntityTooLarge, reasons: []string{"body_too_large"},
			req: func(*hostileChain) *http.Request {
				return postForm(portalURL+chain.SSOPath, url.Values{chain.TokenParam: {strings.Repeat("A", 4<<20)}})
			}},
		hostileCase{name: "token in a multipart body", role: "portal", status: http.StatusBadRequest, reasons: []string{"token_missing"},
			req: func(h *hostileChain) *http.Request {
				r := postForm(portalURL+chain.SSOPath, nil)
				r.Body = http.NoBody
				r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
				return r
			}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.run(t, c) })
	}
}

// hostileLogoutTokens are the tokens a receiver's back-channel endpoint
// must refuse (400, OIDC Back-Channel Logout 1.0 §2.8), revoking nothing.
func hostileLogoutTokens() []tokenCase {
	edit := func(f func(h *hostileChain, hd, cl map[string]any)) func(h *hostileChain) string {
		return func(h *hostileChain) string {
			return h.logoutToken("portal", func(hd, cl map[string]any) { f(h, hd, cl) })
		}
	}
	return []tokenCase{
		{name: "alg none", reason: "alg_none", tok: func(h *hostileChain) string {
			hd := h.header(token.LogoutType)
			hd["alg"] = "none"
			return b64url(mustJSON(hd)) + "." + b64url(mustJSON(h.logoutClaims("portal"))) + "."
		}},
		{name: "HS/RS confusion", reason: "alg_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["alg"] = "RS256" })},
		{name: "unknown kid", reason: "kid_unknown", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["kid"] = "rotated-away" })},
		{name: "path-like kid", reason: "kid_invalid", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["kid"] = "../keys/other" })},
		{name: "jku header", reason: "header_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["jku"] = "https://evil.example/jwks.json" })},
		{name: "x5u header", reason: "header_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["x5u"] = "https://evil.example/c.pem" })},
		{name: "jwk header", reason: "header_not_allowed", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["jwk"] = map[string]any{"kty": "oct"} })},
		{name: "crit", reason: "crit_unsupported", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { hd["crit"] = []string{"b64"} })},
		{name: "a handoff is not a logout token", reason: "typ_mismatch", tok: func(h *hostileChain) string { return h.handoff("portal", nil) }},
		{name: "typ missing", reason: "typ_missing", tok: edit(func(_ *hostileChain, hd, _ map[string]any) { delete(hd, "typ") })},
		{name: "exp missing", reason: "exp_missing", tok: edit(func(_ *hostileChain, _, cl map[string]any) { delete(cl, "exp") })},
		{name: "expired", reason: "token_expired", tok: edit(func(h *hostileChain, _, cl map[string]any) {
			now := h.clock.Now()
			cl["iat"], cl["exp"] = now.Add(-40*time.Second).Unix(), now.Add(-10*time.Second).Unix()
		})},
		{name: "nbf in the future", reason: "token_not_yet_valid", tok: edit(func(h *hostileChain, _, cl map[string]any) { cl["nbf"] = h.clock.Now().Add(time.Minute).Unix() })},
		{name: "iat in the future", reason: "iat_in_future", tok: edit(func(h *hostileChain, _, cl map[string]any) {
			now := h.clock.Now()
			cl["iat"], cl["exp"] = now.Add(10*time.Second).Unix(), now.Add(30*time.Second).Unix()
		})},
		{name: "lifetime over the maximum", reason: "lifetime_too_long", tok: edit(func(h *hostileChain, _, cl map[string]any) { cl["exp"] = h.clock.Now().Add(24 * time.Hour).Unix() })},
		{name: "wrong aud", reason: "audience_mismatch", tok: func(h *hostileChain) string { return h.logoutToken("dashboard", nil) }},
		{name: "wrong iss", reason: "issuer_mismatch", tok: edit(func(_ *hostileChain, _, cl map[string]any) { cl["iss"] = portalURL })},
		{name: "replayed jti", reason: "token_replayed", tok: func(h *hostileChain) string {
			// The first use revokes a session of its own, not alice's.
			sid, sub := h.freshSession()
			raw := h.logoutToken("portal", func(_, cl map[string]any) { cl["sid"], cl["sub"] = sid, sub })
			if rec := serveOnce(h, "portal", postForm(portalURL+chain.BackchannelLogoutPath, url.Values{chain.LogoutTokenParam: {raw}})); rec.Code != http.StatusOK {
				h.t.Fatalf("the first use of the logout token = %d, want 200", rec.Code)
			}
			return raw
		}},
		{name: "bad signature", reason: "signature_invalid", tok: func(h *hostileChain) string {
			p := strings.Split(h.logoutToken("portal", nil), ".")
			return p[0] + "." + p[1] + "." + b64url(strings.Repeat("x", 32))
		}},
		{name: "malformed base64", reason: "base64_invalid", tok: func(*hostileChain) string { return "eyJ%%.e30.sig" }},
		{name: "malformed JSON", reason: "json_invalid", tok: func(h *hostileChain) string { return h.sign(`{"alg":`, mustJSON(h.logoutClaims("portal"))) }},
		{name: "duplicate claim key", reason: "duplicate_key", tok: func(h *hostileChain) string {
			cl := mustJSON(h.logoutClaims("portal"))
			return h.sign(mustJSON(h.header(token.LogoutType)), strings.TrimSuffix(cl, "}")+`,"sid":"someone-elses"}`)
		}},
		{name: "oversized token", reason: "token_too_large", tok: edit(func(_ *hostileChain, _, cl map[string]any) { cl["pad"] = strings.Repeat("A", token.MaxSize) })},
		{name: "events missing", reason: "logout_events_missing", tok: edit(func(_ *hostileChain, _, cl map[string]any) { delete(cl, "events") })},
		{name: "nonce present", reason: "logout_nonce_present", tok: edit(func(_ *hostileChain, _, cl map[string]any) { cl["nonce"] = "n-0S6_WzA2Mj" })},
	}
}

func TestHostileBackchannelLogout(t *testing.T) {
	h := startHostileChain(t)
	target := portalURL + chain.BackchannelLogoutPath
	var cases []hostileCase
	for _, tc := range hostileLogoutTokens() {
		cases = append(cases, hostileCase{
			name: tc.name, role: "portal", status: http.StatusBadRequest, reasons: []string{tc.reason},
			req: func(h *hostileChain) *http.Request {
				return postForm(target, url.Values{chain.LogoutTokenParam: {tc.tok(h)}})
			},
		})
	}
	cases = append(cases,
		hostileCase{name: "no logout_token", role: "portal", status: http.StatusBadRequest, reasons: []string{"logout_token_missing"},
			req: func(*hostileChain) *http.Request { return postForm(target, nil) }},
		hostileCase{name: "logout_token in the query only", role: "portal", status: http.StatusBadRequest, reasons: []string{"logout_token_missing"},
			req: func(h *hostileChain) *http.Request {
				return postForm(target+"?"+url.Values{chain.LogoutTokenParam: {h.logoutToken("portal", nil)}}.Encode(), nil)
			}},
		hostileCase{name: "oversized body", role: "portal", status: http.StatusRequestEntityTooLarge, reasons: []string{"body_too_large"},
			req: func(*hostileChain) *http.Request {
				return postForm(target, url.Values{chain.LogoutTokenParam: {strings.Repeat("A", 1<<20)}})
			}},
		hostileCase{name: "malformed form", role: "portal", status: http.StatusBadRequest, reasons: []string{"form_invalid"},
			req: func(*hostileChain) *http.Request {
				r := postForm(target, nil)
				r.Body = io.NopCloser(strings.NewReader("logout_token=%zz"))
				return r
			}},
		hostileCase{name: "cross-site form without a token (CSRF)", role: "portal", status: http.StatusBadRequest, reasons: []string{"logout_token_missing"},
			req: func(h *hostileChain) *http.Request {
				r := postForm(target, url.Values{"sid": {h.sid}}, crossSite...)
				r.AddCookie(h.cookies["portal"])
				return r
			}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.run(t, c) })
	}
}

// Open-redirect payloads (DESIGN §9). Where a browser's WHATWG parser and
// the allowlist agree that a spelling names an allowed origin (ASCII case,
// one trailing dot of a fully qualified name, UTS #46 width mapping), it
// is accepted and the redirect goes to the canonical form, never to the
// spelling as sent; everything else is refused.
var refusedRedirects = []struct{ name, raw string }{
	{"scheme-relative", "//evil.example/"},
	{"scheme without slashes", "https:evil.example"},
	{"backslash path", `/\evil.example`},
	{"backslash after the allowed origin", `http://portal.company2.localhost:8081\@evil.example/`},
	{"userinfo", "http://portal.company2.localhost:8081@evil.example/"},
	{"allowed host as a subdomain of evil", "http://portal.company2.localhost.evil.example:8081/"},
	{"encoded slashes", "%2F%2Fevil.example"},
	{"double-encoded slashes", "%252F%252Fevil.example"},
	{"encoded CR LF", "http://portal.company2.localhost:8081/%0d%0aSet-Cookie:%20portal_session=x"},
	{"double-encoded CR LF", "http://portal.company2.localhost:8081/%250d%250aLocation:%20http://evil.example"},
	{"javascript", "javascript:alert(document.domain)//http://portal.company2.localhost:8081/"},
	{"data", "data:text/html,<script>alert(1)</script>"},
	{"mixed-case scheme to evil", "HtTpS://evil.example/"},
	{"https where http is allowed", "https://portal.company2.localhost:8081/"},
	{"IDN look-alike (Cyrillic р, о)", "http://роrtal.company2.localhost:8081/"},
	{"IDN look-alike as punycode", "http://" + mustPunycode("роrtal.company2.localhost") + ":8081/"},
	{"dot look-alike", "http://portal。company2.localhost:8081/"},
	{"evil with a trailing dot", "http://evil.example./"},
	{"port outside the allowlist", "http://portal.company2.localhost:9999/"},
	{"default port where 8081 is allowed", "http://portal.company2.localhost/"},
	{"two labels under a one-label wildcard", "http://a.b.company.localhost:8080/"},
	{"the wildcard's parent itself", "http://company.localhost:8080/"},
	{"tab inside the scheme", "jav\tascript:alert(1)"},
	{"dot segment", "http://portal.company2.localhost:8081/a/../../evil"},
	{"IPv4 in hex", "http://0x7f.1:8081/"},
	{"raw CR LF", "http://portal.company2.localhost:8081/\r\nLocation: http://evil.example/"},
	{"raw NUL", "http://portal.company2.localhost:8081/\x00.evil.example"},
	{"zero-width space in the host", "http://portal\u200b.company2.localhost:8081/"},
}

var acceptedRedirects = []struct{ name, raw, canonical string }{
	{"mixed-case scheme and allowed host", "HtTp://PoRtAl.CoMpAnY2.LoCaLhOsT:8081/x", portalURL + "/x"},
	{"allowed host with a trailing dot", "http://portal.company2.localhost.:8081/x", portalURL + "/x"},
	{"fullwidth spelling of the allowed host", "http://ｐｏｒｔａｌ.company2.localhost:8081/x", portalURL + "/x"},
	{"port with a leading zero", "http://portal.company2.localhost:08081/x", portalURL + "/x"},
}

func mustPunycode(host string) string {
	a, err := idna.Lookup.ToASCII(host)
	if err != nil {
		panic(err)
	}
	return a
}

func TestHostileRedirects(t *testing.T) {
	h := startHostileChain(t)
	withReturnTo := func(path, param, raw string) string {
		return issuerURL + path + "?" + url.Values{param: {raw}}.Encode()
	}
	var cases []hostileCase
	for _, p := range refusedRedirects {
		cases = append(cases,
			hostileCase{name: "/login return_to " + p.name, role: "issuer", status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
				req: func(*hostileChain) *http.Request {
					return get(withReturnTo(chain.LoginPath, chain.ReturnToParam, p.raw))
				}},
			hostileCase{name: "/login signed in, return_to " + p.name, role: "issuer", status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
				req: func(h *hostileChain) *http.Request {
					r := get(withReturnTo(chain.LoginPath, chain.ReturnToParam, p.raw))
					r.AddCookie(h.cookies["issuer"])
					return r
				}},
			hostileCase{name: "/sso/check return_to " + p.name, role: "issuer", status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
				req: func(*hostileChain) *http.Request {
					return get(withReturnTo(chain.CheckPath, chain.ReturnToParam, p.raw))
				}},
			hostileCase{name: "/sso/check signed in, return_to " + p.name, role: "issuer", status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
				req: func(h *hostileChain) *http.Request {
					r := get(withReturnTo(chain.CheckPath, chain.ReturnToParam, p.raw))
					r.AddCookie(h.cookies["issuer"])
					return r
				}},
			hostileCase{name: "/logout post_logout_redirect " + p.name, role: "issuer", status: http.StatusBadRequest, reasons: []string{"post_logout_redirect_refused"},
				req: func(h *hostileChain) *http.Request {
					r := get(withReturnTo(chain.LogoutPath, chain.PostLogoutRedirectParam, p.raw))
					r.AddCookie(h.cookies["issuer"])
					return r
				}},
			hostileCase{name: "/sso ret " + p.name + " via GET", role: "portal", status: http.StatusUnauthorized, reasons: []string{"ret_invalid", "ret_not_allowed"},
				req: func(h *hostileChain) *http.Request {
					return ssoGet(h.handoff("portal", func(_, cl map[string]any) { cl["ret"] = p.raw }))
				}},
			hostileCase{name: "/sso ret " + p.name + " via POST", role: "portal", status: http.StatusUnauthorized, reasons: []string{"ret_invalid", "ret_not_allowed"},
				req: func(h *hostileChain) *http.Request {
					return ssoPost(h.handoff("portal", func(_, cl map[string]any) { cl["ret"] = p.raw }))
				}},
		)
	}
	cases = append(cases,
		hostileCase{name: "/login oversized return_to", role: "issuer", status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
			req: func(*hostileChain) *http.Request {
				return get(withReturnTo(chain.LoginPath, chain.ReturnToParam, portalURL+"/"+strings.Repeat("a", 256<<10)))
			}},
		hostileCase{name: "/sso/check oversized return_to", role: "issuer", status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
			req: func(*hostileChain) *http.Request {
				return get(withReturnTo(chain.CheckPath, chain.ReturnToParam, portalURL+"/"+strings.Repeat("a", 256<<10)))
			}},
		hostileCase{name: "/logout oversized post_logout_redirect", role: "issuer", status: http.StatusBadRequest, reasons: []string{"post_logout_redirect_refused"},
			req: func(h *hostileChain) *http.Request {
				r := get(withReturnTo(chain.LogoutPath, chain.PostLogoutRedirectParam, portalURL+"/"+strings.Repeat("a", 256<<10)))
				r.AddCookie(h.cookies["issuer"])
				return r
			}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.run(t, c) })
	}

	// Accepted spellings redirect to the canonical URL, never to raw.
	for _, p := range acceptedRedirects {
		t.Run("/sso/check return_to "+p.name+" is canonicalised", func(t *testing.T) {
			rec := serveOnce(h, "issuer", get(withReturnTo(chain.CheckPath, chain.ReturnToParam, p.raw)))
			if want := p.canonical + "?error=login_required"; rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != want {
				t.Errorf("= %d Location %q, want 303 to %q", rec.Code, rec.Header().Get("Location"), want)
			}
		})
		t.Run("/sso ret "+p.name+" is canonicalised", func(t *testing.T) {
			rec := serveOnce(h, "portal", ssoGet(h.handoff("portal", func(_, cl map[string]any) { cl["ret"] = p.raw })))
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != p.canonical {
				t.Errorf("= %d Location %q, want 303 to %q", rec.Code, rec.Header().Get("Location"), p.canonical)
			}
		})
	}
}

// TestHostileRepeatedRedirects: a redirect target given twice is refused,
// whichever copy the allowlist would take. net/url reads the first copy,
// PHP and Rails the last, so a proxy, a WAF or the app that built the link
// may vet another URL than the one the issuer would send the browser to;
// OAuth 2.0 (RFC 6749 §3.1) forbids repeating a parameter for that reason,
// and the dev IdP refuses a second return_to too. As for every refusal,
// nothing changes: no login cookie, no sign-out.
func TestHostileRepeatedRedirects(t *testing.T) {
	h := startHostileChain(t)
	const evil = "https://evil.example/"
	repeated := []struct {
		name   string
		values []string
	}{
		{"allowed copy first", []string{portalURL + "/", evil}},
		{"allowed copy last", []string{evil, portalURL + "/"}},
		{"empty copy first", []string{"", evil}},
		{"the same allowed URL twice", []string{portalURL + "/", portalURL + "/"}},
	}
	target := func(path, param string, values []string) string {
		return issuerURL + path + "?" + url.Values{param: values}.Encode()
	}
	signedIn := func(h *hostileChain, r *http.Request) *http.Request {
		r.AddCookie(h.cookies["issuer"])
		return r
	}
	var cases []hostileCase
	for _, p := range repeated {
		cases = append(cases,
			hostileCase{name: "/login return_to: " + p.name, status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
				req: func(*hostileChain) *http.Request { return get(target(chain.LoginPath, chain.ReturnToParam, p.values)) }},
			hostileCase{name: "/login signed in, return_to: " + p.name, status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
				req: func(h *hostileChain) *http.Request {
					return signedIn(h, get(target(chain.LoginPath, chain.ReturnToParam, p.values)))
				}},
			hostileCase{name: "/sso/check return_to: " + p.name, status: http.StatusBadRequest, reasons: []string{"return_to_refused"},
				req: func(*hostileChain) *http.Request { return get(target(chain.CheckPath, chain.ReturnToParam, p.values)) }},
			hostileCase{name: "GET /logout post_logout_redirect: " + p.name, status: http.StatusBadRequest, reasons: []string{"post_logout_redirect_refused"},
				req: func(h *hostileChain) *http.Request {
					return signedIn(h, get(target(chain.LogoutPath, chain.PostLogoutRedirectParam, p.values)))
				}},
			hostileCase{name: "POST /logout post_logout_redirect: " + p.name, status: http.StatusBadRequest, reasons: []string{"post_logout_redirect_refused"},
				req: func(h *hostileChain) *http.Request {
					return signedIn(h, postForm(target(chain.LogoutPath, chain.PostLogoutRedirectParam, p.values), nil, "Sec-Fetch-Site", "same-origin"))
				}},
		)
	}
	for _, c := range cases {
		c.role = "issuer"
		t.Run(c.name, func(t *testing.T) {
			h.run(t, c)
			if body := serveOnce(h, "issuer", c.req(h)).Body.String(); !strings.Contains(body, "more than once") {
				t.Errorf("the page does not say the parameter was repeated:\n%.800s", body)
			}
		})
	}
	if _, err := h.idp.Session(t.Context(), h.sid); err != nil {
		t.Errorf("alice's IdP session after the repeated post_logout_redirect: %v", err)
	}
}

// TestHostileCheckKeepsReturnToQuery: /sso/check sends the browser back to
// return_to as the allowlist approved it, with only error= put first in
// its query. Parsing the query and encoding it again would drop what
// net/url cannot parse (a pair with ";", which PHP and Rails apps read)
// and re-encode the rest, so the app would get another URL than it sent.
func TestHostileCheckKeepsReturnToQuery(t *testing.T) {
	h := startHostileChain(t)
	tests := []struct{ name, returnTo, want string }{
		{"a pair with a semicolon", portalURL + "/app?x=1;y=2&z=3", portalURL + "/app?error=login_required&x=1;y=2&z=3"},
		{"escapes as sent", portalURL + "/app?q=%41%2F+b&r=%20", portalURL + "/app?error=login_required&q=%41%2F+b&r=%20"},
		{"a key without a value", portalURL + "/app?flag&x=1", portalURL + "/app?error=login_required&flag&x=1"},
		{"an error of its own is replaced", portalURL + "/app?error=spoofed&x=1", portalURL + "/app?error=login_required&x=1"},
		{"an escaped error key is replaced", portalURL + "/app?x=1&%65rror=spoofed", portalURL + "/app?error=login_required&x=1"},
		{"a fragment stays last", portalURL + "/app?x=1#top", portalURL + "/app?error=login_required&x=1#top"},
		{"an empty query", portalURL + "/app?", portalURL + "/app?error=login_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveOnce(h, "issuer", get(issuerURL+chain.CheckPath+"?"+url.Values{chain.ReturnToParam: {tt.returnTo}}.Encode()))
			if got := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || got != tt.want {
				t.Errorf("= %d Location %q, want 303 to %q", rec.Code, got, tt.want)
			}
		})
	}
}

// flipMiddle changes one character in the middle of s, keeping it base64url.
func flipMiddle(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func withCookie(r *http.Request, name, value string) *http.Request {
	r.AddCookie(&http.Cookie{Name: name, Value: value})
	return r
}

func TestHostileContinue(t *testing.T) {
	h := startHostileChain(t)
	seal := func(h *hostileChain, purpose string, ttl time.Duration, fields ...string) string {
		return h.sealers["issuer"].Seal(purpose, h.clock.Now().Add(ttl), fields...)
	}
	continueURL := func(state string) string {
		return issuerURL + chain.ContinuePath + "?" + url.Values{"state": {state}}.Encode()
	}
	// A state as the issuer would seal it for alice's walk, next hop 1.
	valid := func(h *hostileChain) string {
		return seal(h, "state:continue", time.Minute, "chn", h.sid, h.sub, portalURL+"/", "1")
	}
	signedIn := func(h *hostileChain, state string) *http.Request {
		return withCookie(get(continueURL(state)), "accounts_session", h.cookies["issuer"].Value)
	}
	cases := []hostileCase{
		{name: "no state", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request { return signedIn(h, "") }},
		{name: "tampered state", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request { return signedIn(h, flipMiddle(valid(h))) }},
		{name: "truncated state", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request { s := valid(h); return signedIn(h, s[:len(s)-3]) }},
		{name: "state with a line break", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request { s := valid(h); return signedIn(h, s[:5]+"\n"+s[5:]) }},
		{name: "expired state", reasons: []string{"walk_state_expired"},
			req: func(h *hostileChain) *http.Request {
				return signedIn(h, seal(h, "state:continue", -time.Second, "chn", h.sid, h.sub, portalURL+"/", "1"))
			}},
		{name: "state of another session", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request {
				return signedIn(h, seal(h, "state:continue", time.Minute, "chn", "another-session", h.sub, portalURL+"/", "1"))
			}},
		{name: "login state as a continue state", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request {
				return signedIn(h, seal(h, "state:login", time.Minute, portalURL+"/", "nonce"))
			}},
		{name: "a cookie as a state", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request { return signedIn(h, h.cookies["issuer"].Value) }},
		{name: "next hop out of range", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request {
				return signedIn(h, seal(h, "state:continue", time.Minute, "chn", h.sid, h.sub, portalURL+"/", "99"))
			}},
		{name: "next hop not a number", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request {
				return signedIn(h, seal(h, "state:continue", time.Minute, "chn", h.sid, h.sub, portalURL+"/", "1; drop"))
			}},
		{name: "valid state, no issuer cookie", reasons: []string{"issuer_cookie_missing"},
			req: func(h *hostileChain) *http.Request { return get(continueURL(valid(h))) }},
		{name: "valid state, tampered issuer cookie", reasons: []string{"issuer_cookie_missing"},
			req: func(h *hostileChain) *http.Request {
				return withCookie(get(continueURL(valid(h))), "accounts_session", flipMiddle(h.cookies["issuer"].Value))
			}},
		{name: "valid state, portal's cookie under the issuer's name", reasons: []string{"issuer_cookie_missing"},
			req: func(h *hostileChain) *http.Request {
				return withCookie(get(continueURL(valid(h))), "accounts_session", h.cookies["portal"].Value)
			}},
		{name: "oversized state", reasons: []string{"walk_state_invalid"},
			req: func(h *hostileChain) *http.Request { return signedIn(h, strings.Repeat("A", 256<<10)) }},
	}
	for _, c := range cases {
		c.role, c.status = "issuer", http.StatusBadRequest
		t.Run(c.name, func(t *testing.T) { h.run(t, c) })
	}
}

func TestHostileAuthCookies(t *testing.T) {
	h := startHostileChain(t)
	auth := func(method string, cookieHeader string, header ...string) *http.Request {
		r := get(portalURL + "/auth")
		r.Method = method
		if cookieHeader != "" {
			r.Header.Set("Cookie", cookieHeader)
		}
		setHeaders(r, header)
		return r
	}
	portal := func(h *hostileChain) string { return h.cookies["portal"].Value }
	forged := func(h *hostileChain, sealer, name string, expires time.Time) string {
		return h.sealers[sealer].SealSession(name, serveCookieSession(h.sid, h.sub, expires))
	}
	cases := []hostileCase{
		{name: "no cookie", req: func(*hostileChain) *http.Request { return auth(http.MethodGet, "") }},
		{name: "flipped byte", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+flipMiddle(portal(h)))
		}},
		{name: "flipped byte in the tag", req: func(h *hostileChain) *http.Request {
			v := portal(h)
			return auth(http.MethodGet, "portal_session="+v[:len(v)-2]+map[bool]string{true: "B", false: "A"}[v[len(v)-2] == 'A']+v[len(v)-1:])
		}},
		{name: "truncated", req: func(h *hostileChain) *http.Request {
			v := portal(h)
			return auth(http.MethodGet, "portal_session="+v[:len(v)/2])
		}},
		{name: "tag removed", req: func(h *hostileChain) *http.Request {
			v := portal(h)
			return auth(http.MethodGet, "portal_session="+v[:len(v)-22]) // 16 bytes: 21⅓ characters
		}},
		{name: "dashboard's cookie swapped in", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+h.cookies["dashboard"].Value)
		}},
		{name: "the issuer's cookie swapped in", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+h.cookies["issuer"].Value)
		}},
		{name: "sealed by dashboard for portal's name", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+forged(h, "dashboard", "portal_session", h.clock.Now().Add(time.Hour)))
		}},
		{name: "expired", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+forged(h, "portal", "portal_session", h.clock.Now().Add(-time.Second)))
		}},
		{name: "cookie tossing: forged cookies only, from the parent domain", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+flipMiddle(portal(h))+"; portal_session="+h.cookies["dashboard"].Value)
		}},
		{name: "oversized cookie", req: func(*hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+strings.Repeat("A", 64<<10))
		}},
		{name: "many cookies", req: func(h *hostileChain) *http.Request {
			var b strings.Builder
			for i := range 2000 {
				fmt.Fprintf(&b, "c%d=%d; ", i, i)
			}
			return auth(http.MethodGet, b.String()+"portal_session="+flipMiddle(portal(h)))
		}},
		{name: "forged cookie with DELETE", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodDelete, "portal_session="+flipMiddle(portal(h)))
		}},
		{name: "forged cookie with PUT", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodPut, "portal_session="+flipMiddle(portal(h)))
		}},
		{name: "identity headers sent by the client", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "", "X-Auth-Subject", h.sub, "X-Auth-Session", h.sid)
		}},
	}
	for _, c := range cases {
		c.role, c.status, c.reasons = "portal", http.StatusUnauthorized, []string{"not signed in"}
		t.Run(c.name, func(t *testing.T) {
			h.run(t, c)
			// Nor does it take the client's identity headers.
			rec := serveOnce(h, "portal", c.req(h))
			if rec.Header().Get("X-Auth-Subject") != "" || rec.Header().Get("X-Auth-Session") != "" {
				t.Errorf("a refused /auth answered with identity headers %v", rec.Header())
			}
		})
	}
	// Cookie tossing (RFC 6265 §8.6): a sibling subdomain sets a cookie of
	// portal's name for the parent domain, and the browser sends both, in
	// an order the attacker can influence. A copy that does not open is
	// ignored whichever comes first, so tossing cannot sign alice out.
	for name, header := range map[string]func(h *hostileChain) string{
		"forged first": func(h *hostileChain) string {
			return "portal_session=" + flipMiddle(portal(h)) + "; portal_session=" + portal(h)
		},
		"forged last": func(h *hostileChain) string {
			return "portal_session=" + portal(h) + "; portal_session=" + flipMiddle(portal(h))
		},
		"dashboard's cookie first": func(h *hostileChain) string {
			return "portal_session=" + h.cookies["dashboard"].Value + "; portal_session=" + portal(h)
		},
	} {
		t.Run("cookie tossing: "+name+", the forged copy is ignored", func(t *testing.T) {
			rec := serveOnce(h, "portal", auth(http.MethodGet, header(h)))
			if rec.Code != http.StatusOK || rec.Header().Get("X-Auth-Session") != h.sid {
				t.Errorf("= %d session %q, want 200 for alice's own session", rec.Code, rec.Header().Get("X-Auth-Session"))
			}
		})
	}
	// A tossed cookie that does open (the attacker's own session, sealed
	// with the same key) cannot sign alice in as the attacker: two valid
	// copies for different sessions are refused, whichever comes first.
	for _, c := range []hostileCase{
		{name: "cookie tossing: a valid cookie of another session first", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+malloryCookie(h)+"; portal_session="+portal(h))
		}},
		{name: "cookie tossing: a valid cookie of another session last", req: func(h *hostileChain) *http.Request {
			return auth(http.MethodGet, "portal_session="+portal(h)+"; portal_session="+malloryCookie(h))
		}},
	} {
		c.role, c.status, c.reasons = "portal", http.StatusUnauthorized, []string{"not signed in: two session cookies of the same name for different sessions"}
		t.Run(c.name, func(t *testing.T) {
			h.run(t, c)
			if rec := serveOnce(h, "portal", c.req(h)); rec.Header().Get("X-Auth-Session") != "" {
				t.Errorf("a refused /auth answered with identity headers %v", rec.Header())
			}
		})
	}
}

// malloryCookie is a portal cookie sealed with portal's key for another
// identity and session, as the attacker's own login would have it.
func malloryCookie(h *hostileChain) string {
	return h.sealers["portal"].SealSession("portal_session", serveCookieSession(
		"6a1f0d8e-3b2c-4e5f-9a7b-1c2d3e4f5a6b", "mallory-identity", h.clock.Now().Add(time.Hour)))
}

func TestHostileIntrospect(t *testing.T) {
	h := startHostileChain(t)
	target := issuerURL + chain.IntrospectPath
	post := func(contentType, body string, header ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		setHeaders(r, header)
		return r
	}
	body := func(v map[string]string) string { return mustJSON(v) }
	const wrongSecret = "wrong-secret-guessed-0123456789-abcdefghijkl"
	cases := []hostileCase{
		{name: "cross-site form post (CSRF)", status: http.StatusUnsupportedMediaType, reasons: []string{"content_type_unsupported"},
			req: func(h *hostileChain) *http.Request {
				return post("application/x-www-form-urlencoded", url.Values{"cookie": {h.cookies["issuer"].Value}}.Encode(), crossSite...)
			}},
		{name: "cross-site text/plain JSON (CSRF)", status: http.StatusUnsupportedMediaType, reasons: []string{"content_type_unsupported"},
			req: func(h *hostileChain) *http.Request {
				return post("text/plain", body(map[string]string{"key": "wiki-app", "secret": hostileAppSecret, "cookie": h.cookies["issuer"].Value}), crossSite...)
			}},
		{name: "cross-site JSON without credentials (CSRF)", status: http.StatusUnauthorized, reasons: []string{"client_auth_failed"},
			req: func(h *hostileChain) *http.Request {
				r := post("application/json", body(map[string]string{"cookie": h.cookies["issuer"].Value}), crossSite...)
				r.AddCookie(h.cookies["issuer"])
				return r
			}},
		{name: "wrong secret", status: http.StatusUnauthorized, reasons: []string{"client_auth_failed"}, secrets: []string{wrongSecret},
			req: func(h *hostileChain) *http.Request {
				return post("application/json", body(map[string]string{"key": "wiki-app", "secret": wrongSecret, "cookie": h.cookies["issuer"].Value}))
			}},
		{name: "wrong secret by Basic", status: http.StatusUnauthorized, reasons: []string{"client_auth_failed"}, secrets: []string{wrongSecret},
			req: func(h *hostileChain) *http.Request {
				r := post("application/json", body(map[string]string{"cookie": h.cookies["issuer"].Value}))
				r.SetBasicAuth("wiki-app", wrongSecret)
				return r
			}},
		{name: "Basic and body credentials at once", status: http.StatusBadRequest, reasons: []string{"two_client_auth_methods"},
			req: func(h *hostileChain) *http.Request {
				r := post("application/json", body(map[string]string{"key": "wiki-app", "secret": hostileAppSecret, "cookie": h.cookies["issuer"].Value}))
				r.SetBasicAuth("wiki-app", hostileAppSecret)
				return r
			}},
		{name: "malformed JSON", status: http.StatusBadRequest, reasons: []string{"request_invalid"},
			req: func(*hostileChain) *http.Request { return post("application/json", `{"key":`) }},
		{name: "duplicate JSON keys", status: http.StatusBadRequest, reasons: []string{"request_invalid"},
			req: func(h *hostileChain) *http.Request {
				return post("application/json", `{"key":"wiki-app","secret":"`+hostileAppSecret+`","cookie":"x","cookie":"`+h.cookies["issuer"].Value+`"}`)
			}},
		{name: "unknown member", status: http.StatusBadRequest, reasons: []string{"request_invalid"},
			req: func(*hostileChain) *http.Request { return post("application/json", `{"key":"wiki-app","admin":true}`) }},
		{name: "two documents", status: http.StatusBadRequest, reasons: []string{"request_invalid"},
			req: func(*hostileChain) *http.Request { return post("application/json", `{"key":"a"}{"key":"b"}`) }},
		{name: "oversized body", status: http.StatusRequestEntityTooLarge, reasons: []string{"body_too_large"},
			req: func(*hostileChain) *http.Request {
				return post("application/json", `{"cookie":"`+strings.Repeat("A", 1<<20)+`"}`)
			}},
		{name: "no cookie", status: http.StatusBadRequest, reasons: []string{"no_cookie"},
			req: func(*hostileChain) *http.Request {
				return post("application/json", body(map[string]string{"key": "wiki-app", "secret": hostileAppSecret}))
			}},
	}
	for _, c := range cases {
		c.role = "issuer"
		t.Run(c.name, func(t *testing.T) {
			h.run(t, c)
			if rec := serveOnce(h, "issuer", c.req(h)); strings.Contains(rec.Body.String(), h.sid) {
				t.Errorf("a refused introspection named the session: %s", rec.Body.String())
			}
		})
	}
	// A tampered or swapped cookie with good credentials is inactive and
	// says nothing more.
	for name, cookie := range map[string]func(h *hostileChain) string{
		"tampered cookie": func(h *hostileChain) string { return flipMiddle(h.cookies["issuer"].Value) },
		"portal's cookie": func(h *hostileChain) string { return h.cookies["portal"].Value },
		"expired cookie": func(h *hostileChain) string {
			return h.sealers["issuer"].SealSession("accounts_session", serveCookieSession(h.sid, h.sub, h.clock.Now().Add(-time.Second)))
		},
	} {
		t.Run(name+" is inactive", func(t *testing.T) {
			r := post("application/json", body(map[string]string{"key": "wiki-app", "secret": hostileAppSecret, "cookie": cookie(h)}))
			rec := serveOnce(h, "issuer", r)
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil || len(got) != 1 || got["active"] != false {
				t.Errorf("= %d %s, want 200 {\"active\":false}", rec.Code, rec.Body.String())
			}
		})
	}
}

func TestHostileLogoutCSRF(t *testing.T) {
	h := startHostileChain(t)
	withSession := func(r *http.Request, h *hostileChain, role string) *http.Request {
		r.AddCookie(h.cookies[role])
		return r
	}
	cases := []hostileCase{
		{name: "issuer: cross-site POST /logout", role: "issuer", status: http.StatusForbidden, reasons: []string{"logout_cross_site"},
			req: func(h *hostileChain) *http.Request {
				return withSession(postForm(issuerURL+chain.LogoutPath, url.Values{"csrf_token": {"guess"}}, crossSite...), h, "issuer")
			}},
		{name: "issuer: POST /logout from another origin, without Fetch Metadata", role: "issuer", status: http.StatusForbidden, reasons: []string{"logout_cross_site"},
			req: func(h *hostileChain) *http.Request {
				return withSession(postForm(issuerURL+chain.LogoutPath, nil, "Origin", "http://evil.example"), h, "issuer")
			}},
		{name: "issuer: same-site POST /logout", role: "issuer", status: http.StatusForbidden, reasons: []string{"logout_cross_site"},
			req: func(h *hostileChain) *http.Request {
				return withSession(postForm(issuerURL+chain.LogoutPath, nil, "Sec-Fetch-Site", "same-site", "Origin", portalURL), h, "issuer")
			}},
		{name: "issuer: cross-site GET /logout asks first", role: "issuer", status: http.StatusOK, reasons: []string{""},
			req: func(h *hostileChain) *http.Request {
				return withSession(get(issuerURL+chain.LogoutPath, crossSite...), h, "issuer")
			}},
		{name: "issuer: same-site GET /logout asks first", role: "issuer", status: http.StatusOK, reasons: []string{""},
			req: func(h *hostileChain) *http.Request {
				return withSession(get(issuerURL+chain.LogoutPath, "Sec-Fetch-Site", "same-site"), h, "issuer")
			}},
		{name: "issuer: cross-site GET /logout with another session's hint asks first", role: "issuer", status: http.StatusOK, reasons: []string{""},
			req: func(h *hostileChain) *http.Request {
				return withSession(get(issuerURL+chain.LogoutPath+"?"+chain.SessionHintParam+"=LHiB5P4uy4xWNWHFVVLTzA", crossSite...), h, "issuer")
			}},
		{name: "issuer: cross-site GET /logout with the session id itself as hint asks first", role: "issuer", status: http.StatusOK, reasons: []string{""},
			req: func(h *hostileChain) *http.Request {
				return withSession(get(issuerURL+chain.LogoutPath+"?"+chain.SessionHintParam+"="+url.QueryEscape(h.sid), crossSite...), h, "issuer")
			}},
		{name: "receiver: cross-site GET /logout asks first", role: "portal", status: http.StatusOK, reasons: []string{""},
			req: func(h *hostileChain) *http.Request {
				return withSession(get(portalURL+chain.LogoutPath, crossSite...), h, "portal")
			}},
		{name: "issuer: cross-site POST /logout/continue", role: "issuer", status: http.StatusMethodNotAllowed, reasons: []string{"method_not_allowed"},
			req: func(h *hostileChain) *http.Request {
				return withSession(postForm(issuerURL+chain.LogoutContinuePath, nil, crossSite...), h, "issuer")
			}},
		{name: "issuer: cross-site GET /logout to a foreign post_logout_redirect", role: "issuer", status: http.StatusBadRequest, reasons: []string{"post_logout_redirect_refused"},
			req: func(h *hostileChain) *http.Request {
				return withSession(get(issuerURL+chain.LogoutPath+"?post_logout_redirect=https%3A%2F%2Fevil.example%2F", crossSite...), h, "issuer")
			}},
		{name: "issuer: forged logout walk state", role: "issuer", status: http.StatusSeeOther, reasons: []string{"logout_state_invalid"}, location: issuerURL + "/",
			req: func(h *hostileChain) *http.Request {
				state := h.sealers["portal"].Seal("state:logout", h.clock.Now().Add(time.Minute), "https://evil.example/", "1")
				return get(issuerURL + chain.LogoutContinuePath + "?state=" + url.QueryEscape(state))
			}},
		{name: "issuer: oversized logout walk state", role: "issuer", status: http.StatusSeeOther, reasons: []string{"logout_state_invalid"}, location: issuerURL + "/",
			req: func(*hostileChain) *http.Request {
				return get(issuerURL + chain.LogoutContinuePath + "?state=" + strings.Repeat("A", 256<<10))
			}},
		{name: "receiver: cross-site POST /logout", role: "portal", status: http.StatusForbidden, reasons: []string{"logout_cross_site"},
			req: func(h *hostileChain) *http.Request {
				return withSession(postForm(portalURL+chain.LogoutPath, nil, crossSite...), h, "portal")
			}},
		{name: "receiver: cross-site POST /logout/frontchannel", role: "portal", status: http.StatusMethodNotAllowed, reasons: []string{"method_not_allowed"},
			req: func(h *hostileChain) *http.Request {
				return withSession(postForm(portalURL+chain.FrontchannelLogoutPath, nil, crossSite...), h, "portal")
			}},
		{name: "receiver: oversized front-channel state", role: "portal", status: http.StatusSeeOther, reasons: []string{"logout_state_missing"},
			location: portalURL + "/", clears: "portal_session",
			req: func(h *hostileChain) *http.Request {
				return withSession(get(portalURL+chain.FrontchannelLogoutPath+"?state="+strings.Repeat("A", 64<<10)), h, "portal")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.run(t, c) })
	}
	// None of it signed alice out anywhere.
	if rec := serveOnce(h, "portal", withSession(get(portalURL+"/auth"), h, "portal")); rec.Code != http.StatusOK {
		t.Errorf("portal /auth after the CSRF attempts = %d, want 200", rec.Code)
	}
	if _, err := h.idp.Session(t.Context(), h.sid); err != nil {
		t.Errorf("alice's IdP session after the CSRF attempts: %v", err)
	}
}

// hostileRoutes are every endpoint of the chain with the methods it serves.
var hostileRoutes = []struct {
	role, path string
	allow      string
}{
	{"issuer", chain.LoginPath, "GET, HEAD"},
	{"issuer", chain.ContinuePath, "GET, HEAD"},
	{"issuer", chain.CheckPath, "GET, HEAD"},
	{"issuer", chain.CallbackPath, "GET, HEAD"},
	{"issuer", chain.LogoutPath, "GET, POST"}, // HEAD would end the session
	{"issuer", chain.LogoutContinuePath, "GET, HEAD"},
	{"issuer", chain.IntrospectPath, "POST"},
	{"portal", chain.SSOPath, "GET, POST"}, // HEAD would spend the token
	{"portal", chain.LogoutPath, "GET, POST"},
	{"portal", chain.FrontchannelLogoutPath, "GET"},
	{"portal", chain.BackchannelLogoutPath, "POST"},
	{"portal", "/whoami", "GET, HEAD"},
}

func TestHostileMethods(t *testing.T) {
	h := startHostileChain(t)
	for _, rt := range hostileRoutes {
		methods := []string{http.MethodDelete, http.MethodPut, http.MethodPatch, "PROPFIND"}
		if !strings.Contains(rt.allow, http.MethodHead) {
			// A link checker's HEAD must not spend a handoff or end a
			// session: the token rides in the query, where a GET reads it.
			methods = append(methods, http.MethodHead)
		}
		for _, method := range methods {
			c := hostileCase{name: method + " " + rt.role + " " + rt.path, role: rt.role, status: http.StatusMethodNotAllowed,
				reasons: []string{"method_not_allowed"},
				req: func(h *hostileChain) *http.Request {
					origin := map[string]string{"issuer": issuerURL, "portal": portalURL}[rt.role]
					tok := h.handoff("portal", nil)
					r := postForm(origin+rt.path+"?"+url.Values{chain.TokenParam: {tok}}.Encode(), url.Values{chain.TokenParam: {tok}})
					r.Method = method
					r.AddCookie(h.cookies[rt.role])
					return r
				}}
			t.Run(c.name, func(t *testing.T) {
				h.run(t, c)
				rec := serveOnce(h, rt.role, c.req(h))
				if got := rec.Header().Get("Allow"); got != rt.allow {
					t.Errorf("Allow %q, want %q", got, rt.allow)
				}
			})
		}
	}
}

// TestHostileOversizedHeaders sends headers over net/http's 1 MiB limit to
// every endpoint through a real listener: the server answers 431 before
// any role runs, so there is no request line to log and nothing changes.
func TestHostileOversizedHeaders(t *testing.T) {
	h := startHostileChain(t)
	routes := append(hostileRoutes, struct{ role, path, allow string }{"portal", "/auth", ""})
	for _, rt := range routes {
		t.Run(rt.role+" "+rt.path, func(t *testing.T) {
			origin := map[string]string{"issuer": issuerURL, "portal": portalURL}[rt.role]
			before, logStart := h.state(), len(h.logs.String())
			req, _ := http.NewRequest(http.MethodGet, origin+rt.path, nil)
			req.Header.Set("X-Padding", strings.Repeat("A", 2<<20))
			req.AddCookie(h.cookies[rt.role])
			resp, err := h.net.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || len(resp.Cookies()) != 0 {
				t.Errorf("= %d cookies %v, want 431 and no cookie", resp.StatusCode, resp.Cookies())
			}
			if logs := h.logs.String()[logStart:]; strings.Contains(logs, h.cookies[rt.role].Value) {
				t.Errorf("the log holds the cookie:\n%s", logs)
			}
			if after := h.state(); after != before {
				t.Errorf("state changed: %+v → %+v", before, after)
			}
		})
	}
}

// TestHostileSSOExpiredIdPSession hands portal a token that passes every
// check of the profile for a session the IdP let expire: refused, and no
// cookie. (Its own chain: the clock moves a day.)
func TestHostileSSOExpiredIdPSession(t *testing.T) {
	h := startHostileChain(t)
	h.clock.Advance(25 * time.Hour) // the dev IdP's sessions last 24h
	for _, via := range []struct {
		name string
		req  func(string) *http.Request
	}{{"GET", ssoGet}, {"POST", ssoPost}} {
		t.Run("via "+via.name, func(t *testing.T) {
			h.run(t, hostileCase{role: "portal", status: http.StatusUnauthorized, reasons: []string{"idp_session_inactive"}, consumes: true,
				req: func(h *hostileChain) *http.Request { return via.req(h.handoff("portal", nil)) }})
		})
	}
}
