package token

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Token is a handoff token split into its parts. A Token returned by Parse is
// unverified: nothing in it can be trusted until Verify has accepted it.
type Token struct {
	Raw       string // the compact serialization as given
	Header    Header
	Claims    Claims
	RawHeader []byte // the decoded header JSON, byte for byte
	RawClaims []byte // the decoded claims JSON, byte for byte
	Signature []byte

	signingInput string // Raw up to the second dot: what the signature covers
}

// b64 is the only encoding accepted: unpadded base64url with the unused
// trailing bits zero, so every token has exactly one spelling (RFC 7515 §2).
var b64 = base64.RawURLEncoding.Strict()

// Parse splits and decodes a compact JWS without verifying it. It is strict:
// oversized input, characters outside base64url, padding, non-canonical
// trailing bits, duplicate JSON member names and invalid UTF-8 are refused,
// as are mistyped header members. Mistyped claims are reported as
// claim_invalid failures alongside a Token whose other claims are set, so a
// caller can still show what the token says. The error, if any, is an
// *InvalidError.
func Parse(raw string) (*Token, error) {
	t, fs := parse(raw, false)
	if t == nil {
		return nil, fs.err()
	}
	return t, fs.err()
}

// maxInspectSize bounds what Inspect reads, so that a pasted log file is not
// decoded as one huge token.
const maxInspectSize = 1 << 20

// parse returns a nil Token when the structure cannot be read at all, and a
// Token plus claim failures when only some claims are mistyped. In lenient
// mode (Inspect) oversized tokens and duplicate member names become failures
// next to a Token rather than stopping the parse.
func parse(raw string, lenient bool) (*Token, failures) {
	var fs failures
	if len(raw) > MaxSize {
		fs.add(ErrTooLarge, fmt.Sprintf("token is %d bytes; a handoff is at most %d", len(raw), MaxSize))
		if !lenient || len(raw) > maxInspectSize {
			return nil, fs
		}
	}
	first := strings.IndexByte(raw, '.')
	second := -1
	if first >= 0 {
		if i := strings.IndexByte(raw[first+1:], '.'); i >= 0 {
			second = first + 1 + i
		}
	}
	if first < 0 || second < 0 || strings.IndexByte(raw[second+1:], '.') >= 0 {
		fs.add(ErrMalformed, fmt.Sprintf("token has %d dot-separated parts; a compact JWS has exactly 3 (a JWE has 5 and is not a handoff)", strings.Count(raw, ".")+1))
		return nil, fs
	}
	if i := badCharIndex(raw); i >= 0 {
		fs.add(ErrBadEncoding, fmt.Sprintf("byte %d is %q; a token holds only base64url characters and two dots", i, raw[i]))
		return nil, fs
	}
	t := &Token{Raw: raw, signingInput: raw[:second]}
	var err error
	if t.RawHeader, err = b64.DecodeString(raw[:first]); err != nil {
		fs.add(ErrBadEncoding, "header: "+err.Error())
		return nil, fs
	}
	if t.RawClaims, err = b64.DecodeString(raw[first+1 : second]); err != nil {
		fs.add(ErrBadEncoding, "claims: "+err.Error())
		return nil, fs
	}
	if t.Signature, err = b64.DecodeString(raw[second+1:]); err != nil {
		fs.add(ErrBadEncoding, "signature: "+err.Error())
		return nil, fs
	}
	if f := decodeHeader(t.RawHeader, &t.Header); f != nil {
		if !lenient || f.Reason != ErrDuplicateKey {
			return nil, append(fs, f)
		}
		fs = append(fs, f)
		t.Header = Header{}
		if f := decodeHeader(t.RawHeader, &t.Header, allowDuplicates); f != nil {
			return nil, append(fs, f)
		}
	}
	claimFailures := decodeClaims(t.RawClaims, &t.Claims)
	if lenient && len(claimFailures) == 1 && claimFailures[0].Reason == ErrDuplicateKey {
		fs = append(fs, claimFailures[0])
		t.Claims = Claims{}
		claimFailures = decodeClaims(t.RawClaims, &t.Claims, allowDuplicates)
	}
	fs = append(fs, claimFailures...)
	for _, f := range fs {
		switch {
		case f.Reason == ErrClaimInvalid:
		case lenient && (f.Reason == ErrDuplicateKey || f.Reason == ErrTooLarge):
		default:
			return nil, fs
		}
	}
	return t, fs
}

// allowDuplicates lets Inspect show a token that Verify refuses for
// duplicate member names; the last occurrence wins, as in most parsers.
var allowDuplicates = jsontext.AllowDuplicateNames(true)

// badCharIndex returns the index of the first byte that is neither base64url
// nor a dot, or -1. Go's base64 decoder skips CR and LF even in strict mode,
// so they are caught here.
func badCharIndex(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return i
		}
	}
	return -1
}

func sortFailures(fs []*Failure) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Detail < fs[j].Detail })
}
