package token

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Type is the explicit JWT type of a handoff token (RFC 8725 §3.11), so no
// other JWT (an ID token, an access token) is ever accepted as a handoff.
const Type = "sso-handoff+jwt"

// MaxSize is the largest compact token accepted, in bytes.
const MaxSize = 8 << 10

// Header is the JOSE header of a handoff token. Members outside the profile
// land in Extra, where Verify looks for forbidden ones (jku, jwk, …).
type Header struct {
	Alg   string                    `json:"alg"`
	Kid   string                    `json:"kid,omitempty"`
	Typ   string                    `json:"typ,omitempty"`
	Crit  jsontext.Value            `json:"crit,omitempty"`
	Extra map[string]jsontext.Value `json:",embed"`
}

// Claims is the claim set of the handoff profile (DESIGN §4). Claims outside
// the profile are kept in Extra in their original JSON.
type Claims struct {
	Issuer    string                    `json:"iss,omitempty"`
	Audience  Audience                  `json:"aud,omitzero"`
	Subject   string                    `json:"sub,omitempty"`
	SessionID string                    `json:"sid,omitempty"`
	ID        string                    `json:"jti,omitempty"`
	IssuedAt  NumericDate               `json:"iat,omitzero"`
	NotBefore NumericDate               `json:"nbf,omitzero"`
	Expiry    NumericDate               `json:"exp,omitzero"`
	Chain     string                    `json:"chn,omitempty"`
	Return    string                    `json:"ret,omitempty"`
	Extra     map[string]jsontext.Value `json:",embed"`
}

// Lifetime is exp - iat, or 0 when either is missing.
func (c *Claims) Lifetime() time.Duration {
	if c.IssuedAt.IsZero() || c.Expiry.IsZero() {
		return 0
	}
	return c.Expiry.Sub(c.IssuedAt.Time)
}

// reservedClaims are set through Claims fields, never through Extra.
var reservedClaims = map[string]bool{
	"iss": true, "aud": true, "sub": true, "sid": true, "jti": true,
	"iat": true, "nbf": true, "exp": true, "chn": true, "ret": true,
}

// IsReservedClaim reports whether name is a claim of the profile, which
// callers must set through the Claims fields rather than Extra.
func IsReservedClaim(name string) bool { return reservedClaims[name] }

// Audience is the aud claim. RFC 7519 §4.1.3 allows a string or an array;
// the profile requires exactly one value, which Verify enforces.
type Audience []string

// MarshalJSONTo writes a single audience as a plain string, the common form.
func (a Audience) MarshalJSONTo(enc *jsontext.Encoder) error {
	if len(a) == 1 {
		return enc.WriteToken(jsontext.String(a[0]))
	}
	return json.MarshalEncode(enc, []string(a))
}

// UnmarshalJSONFrom accepts a string or an array of strings.
func (a *Audience) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*a = Audience{tok.String()}
		return nil
	case '[':
		var list []string
		if err := json.UnmarshalDecode(dec, &list); err != nil {
			return errors.New("want a string or an array of strings")
		}
		*a = list
		return nil
	}
	if _, err := dec.ReadValue(); err != nil {
		return err
	}
	return errors.New("want a string or an array of strings")
}

// NumericDate is a JWT time: seconds since the epoch as a JSON number, which
// may have a fraction or an exponent (RFC 7519 §2). The zero value means the
// claim is absent.
type NumericDate struct{ time.Time }

// NewNumericDate truncates t to whole seconds, the form tokens are minted in.
func NewNumericDate(t time.Time) NumericDate { return NumericDate{t.Truncate(time.Second)} }

// maxNumericDate is 9999-12-31T23:59:59Z; later dates are refused as
// impossible rather than risking overflow in time arithmetic.
const maxNumericDate = 253402300799

// MarshalJSONTo writes whole seconds as an integer, else a decimal.
func (d NumericDate) MarshalJSONTo(enc *jsontext.Encoder) error {
	if d.Nanosecond() == 0 {
		return enc.WriteToken(jsontext.Int(d.Unix()))
	}
	// Not UnixNano: it overflows after 2262, and dates up to 9999 are valid.
	return enc.WriteToken(jsontext.Float(float64(d.Unix()) + float64(d.Nanosecond())/1e9))
}

// UnmarshalJSONFrom reads a JSON number of seconds.
func (d *NumericDate) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() != '0' {
		if _, err := dec.ReadValue(); err != nil {
			return err
		}
		return errors.New("want a number of seconds since 1970-01-01T00:00:00Z")
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	f, err := tok.Float()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return fmt.Errorf("%s is not a date between 1970 and 9999", strconv.FormatFloat(f, 'g', -1, 64))
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	return nil
}

// decodeHeader decodes the header strictly: duplicate names, invalid UTF-8
// and wrong member types are refused.
func decodeHeader(b []byte, h *Header, opts ...json.Options) *Failure {
	if f := notObject("header", b); f != nil {
		return f
	}
	if err := json.Unmarshal(b, h, opts...); err != nil {
		return jsonFailure("header", err)
	}
	return nil
}

// decodeClaims decodes the claims strictly. A claim of the wrong type does not
// stop the others from being read: each such claim becomes its own
// claim_invalid failure and stays unset, so Verify can report everything.
func decodeClaims(b []byte, c *Claims, opts ...json.Options) []*Failure {
	if f := notObject("claims", b); f != nil {
		return []*Failure{f}
	}
	err := json.Unmarshal(b, c, opts...)
	if err == nil {
		return nil
	}
	var serr *json.SemanticError
	if !errors.As(err, &serr) || serr.JSONPointer == "" {
		return []*Failure{jsonFailure("claims", err)}
	}
	// Slow path, only for tokens with a mistyped claim: decode the members
	// one by one into c (json/v2 merges into an existing struct), so every
	// bad one is named and the good ones are still set.
	*c = Claims{}
	var members map[string]jsontext.Value
	if err := json.Unmarshal(b, &members, opts...); err != nil {
		return []*Failure{jsonFailure("claims", err)}
	}
	var fs []*Failure
	for name, raw := range members {
		obj, _ := json.Marshal(map[string]jsontext.Value{name: raw})
		if err := json.Unmarshal(obj, c); err != nil {
			fs = append(fs, &Failure{Reason: ErrClaimInvalid, Detail: fmt.Sprintf("claim %q: %s", name, claimDetail(err)), claim: name})
		}
	}
	sortFailures(fs)
	return fs
}

// notObject refuses a segment that is a JSON value other than an object.
// json.Unmarshal reads null into a struct as "no members", which would let
// a header or claim set of null pass for an empty object.
func notObject(part string, b []byte) *Failure {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return nil // let the decoder describe it
	}
	var kind jsontext.Kind
	switch c := b[0]; {
	case c == '{':
		return nil
	case c == 'n' || c == 't' || c == 'f' || c == '"' || c == '[':
		kind = jsontext.Kind(c)
	case c == '-' || '0' <= c && c <= '9':
		kind = '0'
	default:
		return nil // not JSON at all; let the decoder describe it
	}
	return &Failure{Reason: ErrBadJSON, Detail: fmt.Sprintf("%s is not a valid JSON object: got JSON %s, want object", part, kindName(kind))}
}

// mergeClaim copies the one member decoded into single over to c.
func mergeClaim(c *Claims, name string, single *Claims) {
	switch name {
	case "iss":
		c.Issuer = single.Issuer
	case "aud":
		c.Audience = single.Audience
	case "sub":
		c.Subject = single.Subject
	case "sid":
		c.SessionID = single.SessionID
	case "jti":
		c.ID = single.ID
	case "iat":
		c.IssuedAt = single.IssuedAt
	case "nbf":
		c.NotBefore = single.NotBefore
	case "exp":
		c.Expiry = single.Expiry
	case "chn":
		c.Chain = single.Chain
	case "ret":
		c.Return = single.Return
	default:
		if c.Extra == nil {
			c.Extra = map[string]jsontext.Value{}
		}
		c.Extra[name] = single.Extra[name]
	}
}

// jsonFailure turns a decode error into the most specific failure.
func jsonFailure(part string, err error) *Failure {
	var serr *jsontext.SyntacticError
	if errors.As(err, &serr) && errors.Is(serr.Err, jsontext.ErrDuplicateName) {
		return &Failure{Reason: ErrDuplicateKey, Detail: fmt.Sprintf("%s has member %s twice; a parser that keeps the other copy would see a different token", part, pointerName(string(serr.JSONPointer)))}
	}
	return &Failure{Reason: ErrBadJSON, Detail: fmt.Sprintf("%s is not a valid JSON object: %s", part, semanticDetail(err))}
}

// claimDetail is semanticDetail without the member name, for messages that
// already name the claim.
func claimDetail(err error) string {
	var serr *json.SemanticError
	if errors.As(err, &serr) {
		if serr.Err != nil {
			return serr.Err.Error()
		}
		if serr.GoType != nil {
			return fmt.Sprintf("got JSON %s, want %s", kindName(serr.JSONKind), serr.GoType.Kind())
		}
	}
	return semanticDetail(err)
}

// semanticDetail shortens json errors to the part that names the problem.
func semanticDetail(err error) string {
	var serr *json.SemanticError
	if errors.As(err, &serr) {
		name := pointerName(string(serr.JSONPointer))
		if serr.Err != nil {
			if name != "" {
				return fmt.Sprintf("member %s: %v", name, serr.Err)
			}
			return serr.Err.Error()
		}
		if serr.GoType != nil {
			want := serr.GoType.Kind().String()
			if name != "" {
				return fmt.Sprintf("member %s: got JSON %s, want %s", name, kindName(serr.JSONKind), want)
			}
			return fmt.Sprintf("got JSON %s, want object", kindName(serr.JSONKind))
		}
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%v at byte %d", syn.Err, syn.ByteOffset)
	}
	return err.Error()
}

func pointerName(ptr string) string {
	if ptr == "" {
		return ""
	}
	name := ptr
	if name[0] == '/' {
		name = name[1:]
	}
	return strconv.Quote(name)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}
