package chain

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCClient is a relying party's credentials, which let the probes play
// that client at its provider (ProbeOptions.OIDCClients): the chain file's
// idp.client_id and client_secret, or trace chain's --client-id with a
// secret from the environment or a file.
type OIDCClient struct {
	ID     string
	Secret string
}

// ProbeCodeReplay is the probe that redeems one authorization code twice.
const ProbeCodeReplay = "code_replay"

// providerMetadata is what the probes read of a provider's discovery
// document (OpenID Connect Discovery 1.0 §3).
type providerMetadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
}

// codeExchange plays client c at the provider of a, the walk's
// authorization request: a fresh request of its own (its own state,
// nonce and PKCE S256 verifier, the walk's redirect_uri and scope) from
// the signed-in browser, the code taken from the redirect before it
// reaches the relying party, and redeemed at the token endpoint. The ID
// token that comes back is verified (SSO505: signature with the
// provider's keys and an algorithm it announces, iss, aud, exp, nonce);
// then the same code is redeemed again, which the provider must refuse
// (SSO504).
func (p *prober) codeExchange(a *oidcAuth, c OIDCClient) {
	now := p.b.now()
	res := ProbeResult{Name: ProbeCodeReplay, Target: a.url.Host}
	client := placeholderSafe(c.ID)
	if a.redirect == nil {
		res.Skipped = "the authorization request of client " + client + " names no redirect_uri to use"
		p.result(res)
		return
	}
	meta, why := p.discover(a.url)
	if why != "" {
		res.Skipped = why
		p.result(res)
		return
	}
	verifier, state, nonce := oauth2.GenerateVerifier(), rand.Text(), rand.Text()
	scope := a.params.Get("scope")
	if scope == "" {
		scope = "openid"
	}
	start := *a.url
	start.RawQuery = url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {a.params.Get("redirect_uri")}, "scope": {scope},
		"state": {state}, "nonce": {nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {PKCES256},
	}.Encode()
	start.Fragment, start.RawFragment = "", ""
	code, why := p.fetchCode(&start, a.redirect, state)
	if why != "" {
		res.Skipped = why
		p.result(res)
		return
	}
	cfg := oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: a.params.Get("redirect_uri"),
		Endpoint: oauth2.Endpoint{AuthURL: meta.AuthorizationEndpoint, TokenURL: meta.TokenEndpoint},
	}
	ctx := context.WithValue(p.ctx, oauth2.HTTPClient, p.bare)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		res.Skipped = fmt.Sprintf("the provider did not redeem a fresh code for client %s (%s): check the client's credentials", client, exchangeError(err, now))
		p.result(res)
		return
	}
	res.Token = p.checkIDToken(ctx, meta, c, nonce, scope, tok)
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	res.Status = exchangeStatus(err)
	if err == nil {
		res.Finding = FindingOIDCCodeReplay.Code
		res.Detail = fmt.Sprintf("redeemed a code of client %s at %s, then the same code again: tokens both times", client, meta.TokenEndpoint)
		p.result(res)
		p.add(FindingOIDCCodeReplay.New(0, cookieHost(a.url),
			"%s redeemed the same authorization code of client %s twice (probe %s)", a.url.Host, client, ProbeCodeReplay))
		return
	}
	res.Refused = true
	res.Detail = fmt.Sprintf("redeemed a code of client %s at %s, then the same code again: refused (%s)", client, meta.TokenEndpoint, exchangeError(err, now))
	p.result(res)
}

// discover reads the discovery document of the provider whose
// authorization endpoint is auth: at the issuers that endpoint may sit
// under, longest path first, the one that names auth as its
// authorization_endpoint and itself as issuer.
func (p *prober) discover(auth *url.URL) (*providerMetadata, string) {
	endpoint := originOf(auth) + auth.EscapedPath()
	segs := strings.Split(strings.Trim(auth.EscapedPath(), "/"), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		issuer := originOf(auth)
		if i > 0 {
			issuer += "/" + strings.Join(segs[:i], "/")
		}
		m, err := p.metadata(issuer)
		if err != nil || strings.TrimSuffix(m.AuthorizationEndpoint, "/") != strings.TrimSuffix(endpoint, "/") {
			continue
		}
		if strings.TrimSuffix(m.Issuer, "/") != issuer || m.TokenEndpoint == "" || m.JWKSURI == "" {
			return nil, fmt.Sprintf("the discovery document at %s names issuer %q, or no token_endpoint or jwks_uri", issuer, placeholderSafe(m.Issuer))
		}
		return m, ""
	}
	return nil, "no discovery document (/.well-known/openid-configuration) names " + endpoint + " as its authorization endpoint"
}

func (p *prober) metadata(issuer string) (*providerMetadata, error) {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.bare.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%d", resp.StatusCode)
	}
	var m providerMetadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// fetchCode follows start with the walk's cookies (and credentials, at a
// login form) until the provider redirects to redirect, and returns the
// code there, which never reaches the relying party.
func (p *prober) fetchCode(start, redirect *url.URL, state string) (string, string) {
	now := p.b.now()
	w := p.walker(nil)
	r := &request{method: http.MethodGet, url: start}
	for n := 1; n <= p.b.maxSteps; n++ {
		x, loc, err := p.send(w, r)
		if err != nil {
			return "", "the provider did not answer: " + transportError(r, err, now)
		}
		if loc != nil && sameEndpoint(loc, redirect) {
			v := callbackValues(loc)
			switch {
			case v.Get("error") != "":
				return "", fmt.Sprintf("the provider answered a fresh authorization request with error=%s", placeholderSafe(v.Get("error")))
			case v.Get("code") == "":
				return "", "the provider answered a fresh authorization request without a code"
			case v.Get("state") != state:
				return "", "the provider answered a fresh authorization request with another state"
			}
			return v.Get("code"), ""
		}
		next := nextRequest(w, r, x, loc)
		if next == nil || isForeign(next.url) || !p.onChain(next.url) {
			return "", fmt.Sprintf("a fresh authorization request stopped at %s (%d), before the provider sent a code", redactURL(r.url.String(), now), x.resp.StatusCode)
		}
		r = next
	}
	return "", fmt.Sprintf("a fresh authorization request was still being sent on after %d requests", p.b.maxSteps)
}

// checkIDToken verifies the ID token of a token response as a relying
// party must (OpenID Connect Core 1.0 §3.1.3.7) and raises SSO505 for
// each problem; it returns the token decoded, for the probe result.
func (p *prober) checkIDToken(ctx context.Context, m *providerMetadata, c OIDCClient, nonce, scope string, tok *oauth2.Token) *TokenSummary {
	now := p.b.now()
	host := hostOf(m.Issuer)
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		if slices.Contains(strings.Fields(scope), "openid") {
			p.add(FindingOIDCIDToken.New(0, host, "the token response to client %s holds no id_token though the request asked for scope openid", placeholderSafe(c.ID)))
		}
		return nil
	}
	sum := summarize(&carriedToken{raw: raw, in: "token response", param: "id_token"}, now)
	algs := m.IDTokenAlgs
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // Discovery 1.0 §3: RS256 must be among them
	}
	algs = slices.DeleteFunc(slices.Clone(algs), func(a string) bool { return a == "none" || strings.HasPrefix(a, "HS") })
	v := oidc.NewVerifier(m.Issuer, oidc.NewRemoteKeySet(oidc.ClientContext(ctx, p.bare), m.JWKSURI), &oidc.Config{
		ClientID: c.ID, SupportedSigningAlgs: algs, Now: p.b.now,
	})
	idt, err := v.Verify(oidc.ClientContext(ctx, p.bare), raw)
	switch {
	case err != nil:
		p.add(FindingOIDCIDToken.New(0, host, "the ID token issued to client %s does not verify (alg %s): %s",
			placeholderSafe(c.ID), placeholderSafe(sum.Alg), redactText(err.Error(), now)))
	case idt.Nonce != nonce:
		p.add(FindingOIDCIDToken.New(0, host, "the ID token issued to client %s does not carry the nonce of its authorization request, so a relying party cannot tell it from a replayed one",
			placeholderSafe(c.ID)))
	}
	return sum
}

// exchangeError is a token endpoint's refusal in a line: its OAuth error
// code, or what went wrong.
func exchangeError(err error, now time.Time) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Sprintf("%d %s", re.Response.StatusCode, placeholderSafe(re.ErrorCode))
		}
		return fmt.Sprintf("%d", re.Response.StatusCode)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return redactText(err.Error(), now)
}

func exchangeStatus(err error) int {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	if err == nil {
		return http.StatusOK
	}
	return 0
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return cookieHost(u)
}
