package token

import (
	"errors"
	"strings"
)

// Reason is one stable cause for refusing a handoff token. Each Reason is a
// sentinel: Verify wraps it in a Failure with details, and errors.Is matches it.
// Codes never change once released; tools and dashboards key on them.
type Reason struct {
	Code    string // stable snake_case identifier, e.g. "token_expired"
	Summary string // one line for people, e.g. "token is expired"
}

func (r *Reason) Error() string { return r.Summary }

func newReason(code, summary string) *Reason {
	r := &Reason{Code: code, Summary: summary}
	reasons = append(reasons, r)
	return r
}

var reasons []*Reason

// Reasons lists every reason Verify and Inspect can report, in declaration
// order, so documentation and tests can enumerate them.
func Reasons() []*Reason { return append([]*Reason(nil), reasons...) }

// Structure: the token cannot be read at all.
var (
	ErrTooLarge     = newReason("token_too_large", "token is larger than the 8 KiB a handoff may be")
	ErrMalformed    = newReason("token_malformed", "token is not a compact JWS (header.claims.signature)")
	ErrBadEncoding  = newReason("base64_invalid", "a token segment is not canonical unpadded base64url")
	ErrBadJSON      = newReason("json_invalid", "a token segment is not a JSON object")
	ErrDuplicateKey = newReason("duplicate_key", "a JSON member name appears twice")
)

// Header: the token asks to be verified in a way the profile forbids.
var (
	ErrAlgNone          = newReason("alg_none", `alg "none" means unsigned; it is never accepted`)
	ErrAlgNotAllowed    = newReason("alg_not_allowed", "alg is not the one pinned for this key")
	ErrKidMissing       = newReason("kid_missing", "no kid header and more than one key could verify it")
	ErrKidInvalid       = newReason("kid_invalid", "kid is not a plain key name")
	ErrKidUnknown       = newReason("kid_unknown", "kid names no key this verifier holds")
	ErrHeaderNotAllowed = newReason("header_not_allowed", "header carries or points to key material, or is not a JWS")
	ErrCritUnsupported  = newReason("crit_unsupported", "crit lists extensions this verifier does not implement")
	ErrTypMissing       = newReason("typ_missing", "no typ header; explicit typing (RFC 8725 §3.11) is missing")
	ErrTypMismatch      = newReason("typ_mismatch", `typ is not "sso-handoff+jwt"`)
	ErrSignatureInvalid = newReason("signature_invalid", "signature does not verify with the key")
)

// Claims: the token is well formed and signed but not acceptable here.
var (
	ErrClaimInvalid      = newReason("claim_invalid", "a claim has the wrong JSON type or an impossible value")
	ErrExpMissing        = newReason("exp_missing", "no exp claim; a handoff must expire")
	ErrIatMissing        = newReason("iat_missing", "no iat claim")
	ErrIssMissing        = newReason("iss_missing", "no iss claim")
	ErrAudMissing        = newReason("aud_missing", "no aud claim")
	ErrJtiMissing        = newReason("jti_missing", "no jti claim; single use cannot be enforced")
	ErrSidMissing        = newReason("sid_missing", "no sid claim; the IdP session cannot be re-checked")
	ErrExpired           = newReason("token_expired", "token is expired")
	ErrNotYetValid       = newReason("token_not_yet_valid", "nbf is in the future")
	ErrIssuedInFuture    = newReason("iat_in_future", "iat is in the future")
	ErrLifetimeTooLong   = newReason("lifetime_too_long", "lifetime (exp - iat) is over the maximum")
	ErrLifetimeInvalid   = newReason("lifetime_invalid", "exp is not after iat")
	ErrIssuerMismatch    = newReason("issuer_mismatch", "iss is not the expected issuer")
	ErrAudienceMismatch  = newReason("audience_mismatch", "aud is not this receiver")
	ErrAudienceNotSingle = newReason("audience_not_single", "aud names more than one audience")
	ErrReturnInvalid     = newReason("ret_invalid", "ret is not an absolute http(s) URL")
	ErrReturnNotAllowed  = newReason("ret_not_allowed", "ret is outside the return allowlist")
	ErrReplayed          = newReason("token_replayed", "jti was already used; a handoff is single use")
)

// Logout tokens (OIDC Back-Channel Logout 1.0 §2.6): what a logout token
// must and must not carry besides the claims of a handoff.
var (
	ErrEventsMissing = newReason("logout_events_missing", `no events claim with the back-channel-logout member; this is not a logout token`)
	ErrNoncePresent  = newReason("logout_nonce_present", "a logout token carries a nonce; it must not (it would be an ID token)")
)

// Failure is one failed check: the Reason plus what this token got wrong.
type Failure struct {
	Reason *Reason
	Detail string // specific to this token; never contains key material

	claim string // the claim a claim_invalid failure is about
}

func (f *Failure) Error() string {
	if f.Detail == "" {
		return f.Reason.Summary
	}
	return f.Detail
}

// Unwrap lets errors.Is match the Reason sentinel.
func (f *Failure) Unwrap() error { return f.Reason }

// InvalidError is returned by Verify for a token that failed one or more
// checks. It lists every failure found, not only the first, so that one run
// explains everything wrong with a token.
type InvalidError struct {
	Failures []*Failure
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString("invalid token: ")
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Reason.Code)
		b.WriteString(": ")
		b.WriteString(f.Error())
	}
	return b.String()
}

// Unwrap returns each failure so errors.Is(err, ErrExpired) and friends work.
func (e *InvalidError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}

// Codes returns the reason codes in the order they were found.
func (e *InvalidError) Codes() []string {
	codes := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		codes[i] = f.Reason.Code
	}
	return codes
}

// ErrKeysUnavailable marks a failure to obtain verification keys (a JWKS URL
// that cannot be fetched, say). It is not a verdict on the token: callers map
// it to "dependency unreachable" and fail closed.
var ErrKeysUnavailable = errors.New("verification keys unavailable")

// ErrReplayStoreUnavailable marks a replay store that could not answer. The
// token is refused (fail closed) but the jti is not known to be used.
var ErrReplayStoreUnavailable = errors.New("replay store unavailable")

// failures collects Failures during one verification.
type failures []*Failure

func (fs *failures) add(r *Reason, detail string) {
	*fs = append(*fs, &Failure{Reason: r, Detail: detail})
}

func (fs failures) err() error {
	if len(fs) == 0 {
		return nil
	}
	return &InvalidError{Failures: fs}
}
