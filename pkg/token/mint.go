package token

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// NewID returns a random 128-bit identifier, base64url without padding: the
// form of jti and chn.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MintOptions describes one handoff. Issuer, Audience, Subject and SessionID
// are required; the rest have defaults.
type MintOptions struct {
	Issuer    string
	Audience  string
	Subject   string
	SessionID string
	TTL       time.Duration // default DefaultTTL
	ID        string        // jti; default NewID()
	Chain     string        // chn; default NewID()
	Return    string        // ret; optional, must pass CheckReturnURL
	Extra     map[string]jsontext.Value
	Now       func() time.Time // default time.Now
}

// Mint signs a handoff token with key. The header is {alg, kid, typ}; iat is
// now truncated to the second and exp is iat + TTL. Mint refuses what a
// verifier would refuse for reasons of shape (missing claims, a ret that is
// not a plain absolute URL, reserved names in Extra) but lets a caller mint
// a TTL above the default maximum, since testing that receivers refuse it is
// a legitimate use.
func Mint(key *Key, o MintOptions) (string, *Claims, error) {
	c, err := newClaims(key, o.Issuer, o.Audience, o.Subject, o.SessionID, o.ID, o.TTL, o.Now)
	if err != nil {
		return "", nil, err
	}
	if o.Return != "" {
		if err := CheckReturnURL(o.Return); err != nil {
			return "", nil, fmt.Errorf("ret %w", err)
		}
	}
	for name := range o.Extra {
		if IsReservedClaim(name) {
			return "", nil, fmt.Errorf("claim %q is part of the profile; set it through its own option", name)
		}
	}
	if o.Chain == "" {
		o.Chain = NewID()
	}
	c.Chain, c.Return, c.Extra = o.Chain, o.Return, o.Extra
	tok, err := Sign(key, c)
	if err != nil {
		return "", nil, err
	}
	return tok, c, nil
}

// newClaims checks what every token ssoctl mints needs (a key that can
// sign; iss, aud, sub and sid; a ttl of at least 1s, DefaultTTL when zero)
// and returns those claims with iat now (to the second), exp iat + ttl, and
// jti id or a fresh one.
func newClaims(key *Key, iss, aud, sub, sid, id string, ttl time.Duration, now func() time.Time) (*Claims, error) {
	if key == nil {
		return nil, errors.New("no signing key")
	}
	if !key.CanSign() {
		return nil, fmt.Errorf("key %q is a public key and cannot sign; pass the private key", key.id)
	}
	for _, req := range []struct{ name, value string }{
		{"iss", iss}, {"aud", aud}, {"sub", sub}, {"sid", sid},
	} {
		if req.value == "" {
			return nil, fmt.Errorf("claim %s is required", req.name)
		}
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("ttl %s is too short; it must be at least 1s", ttl)
	}
	if now == nil {
		now = time.Now
	}
	if id == "" {
		id = NewID()
	}
	iat := NewNumericDate(now())
	return &Claims{
		Issuer: iss, Audience: Audience{aud}, Subject: sub, SessionID: sid,
		ID: id, IssuedAt: iat, Expiry: NumericDate{iat.Add(ttl.Truncate(time.Second))},
	}, nil
}

// Sign serializes claims under the header {alg, kid, typ} and signs them
// with key. It does no validation of the claims; use Mint for handoffs.
func Sign(key *Key, c *Claims) (string, error) { return signTyped(key, c, Type) }

// signTyped is Sign with the header's typ given.
func signTyped(key *Key, c *Claims, typ string) (string, error) {
	h := Header{Alg: string(key.alg), Kid: key.id, Typ: typ}
	hb, err := json.Marshal(&h, json.Deterministic(true))
	if err != nil {
		return "", fmt.Errorf("encoding header: %w", err)
	}
	cb, err := json.Marshal(c, json.Deterministic(true))
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	sig, err := key.sign(input)
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}
