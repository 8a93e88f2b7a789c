// Package token implements ssoctl's handoff-token profile (v1): the short
// lived, single-use, signed JWT that carries an identity-provider session
// from the issuer to each receiver of a propagating SSO chain.
//
// A handoff is a compact JWS (RFC 7515) with header {alg, kid, typ:
// "sso-handoff+jwt"} and claims iss, aud (exactly one receiver), sub, sid
// (the IdP session id), jti (single use), iat, exp (30 s by default), chn
// (one propagation id per login) and ret (where the receiver sends the
// browser next).
//
// Verification follows RFC 8725 (JWT Best Current Practices): the algorithm
// is pinned per key, never taken from the token; alg "none", key-bearing
// headers (jku, jwk, x5u, x5c) and crit are refused; typ is checked; the
// issuer, audience, expiry and lifetime are required and checked; JSON with
// duplicate member names is refused, so every parser reads a token the same
// way. Verify reports every failed check at once, each a Failure wrapping a
// stable Reason sentinel matchable with errors.Is.
//
// Keys are HS256 secrets (at least 32 bytes), Ed25519 (EdDSA), ECDSA P-256
// (ES256) or RSA ≥ 2048 bits (RS256), read from PEM, JWK or JWK Set, and
// held in a KeyRing (mint with the active key, verify with any) or fetched
// from a published JWKS by RemoteJWKS.
//
// Signature maths is golang-jwt's; JSON is the encoding/json/v2 semantics of
// github.com/go-json-experiment/json (strict by default); JWK parsing is
// go-jose's. This package decides only what the profile accepts.
package token
