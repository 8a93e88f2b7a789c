package chain

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// errHost is the reason every host problem wraps.
var errHost = errors.New("invalid host")

// canonicalHost returns the ASCII form a browser would connect to, for
// comparing hosts: lower case, one trailing dot dropped, non-ASCII labels as
// punycode ("xn--…"), IPv6 in brackets in RFC 5952 form. It refuses what it
// cannot compare safely rather than guess.
//
// Non-ASCII labels go through the UTS #46 lookup mapping browsers apply
// (golang.org/x/net/idna), so a fullwidth or mixed-case Unicode spelling
// compares equal to the host a browser would connect to. Dot look-alikes,
// which UTS #46 turns into label separators, are refused outright: a pattern
// author never means them.
func canonicalHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("%w: empty host", errHost)
	}
	if strings.HasPrefix(h, "[") {
		if !strings.HasSuffix(h, "]") {
			return "", fmt.Errorf("%w: IPv6 literal without closing bracket", errHost)
		}
		inner := h[1 : len(h)-1]
		if strings.Contains(inner, "%") {
			return "", fmt.Errorf("%w: IPv6 zone identifiers are not allowed", errHost)
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() {
			// Not repeated, like every part of a host that did not parse:
			// https://[ops:pw]/@host puts a password there.
			return "", fmt.Errorf("%w: the bracketed part is not an IPv6 address", errHost)
		}
		return "[" + a.String() + "]", nil
	}
	if strings.ContainsAny(h, "%") {
		return "", fmt.Errorf("%w: percent-encoding in the host", errHost)
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return "", fmt.Errorf("%w: empty host", errHost)
	}
	labels := strings.Split(h, ".")
	for i, l := range labels {
		if l == "" {
			return "", fmt.Errorf("%w: empty label (\"..\")", errHost)
		}
		a, err := asciiLabel(l)
		if err != nil {
			return "", err
		}
		labels[i] = a
	}
	out := strings.Join(labels, ".")
	if len(out) > 253 {
		return "", fmt.Errorf("%w: longer than 253 characters", errHost)
	}
	if endsInNumber(labels[len(labels)-1]) {
		// WHATWG parses such hosts as IPv4 in forms like 0x7f.1 or
		// 2130706433; accept only the dotted quad everyone agrees on.
		a, err := netip.ParseAddr(out)
		if err != nil || !a.Is4() || a.String() != out {
			return "", fmt.Errorf("%w: ends in a number but is not a dotted-quad IPv4 address", errHost)
		}
	}
	return out, nil
}

// asciiLabel lower-cases one DNS label and encodes it as punycode when it is
// not ASCII.
func asciiLabel(l string) (string, error) {
	if !utf8.ValidString(l) {
		return "", fmt.Errorf("%w: not valid UTF-8", errHost)
	}
	ascii := true
	for _, r := range l {
		switch {
		case r == '\u3002' || r == '\uff0e' || r == '\uff61':
			return "", fmt.Errorf("%w: %U looks like a dot and browsers treat it as one", errHost, r)
		case r < 0x80:
			if !isHostByte(byte(r)) {
				return "", fmt.Errorf("%w: character %q", errHost, r)
			}
		default:
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
				return "", fmt.Errorf("%w: character %U", errHost, r)
			}
			ascii = false
		}
	}
	l = strings.ToLower(l)
	if !ascii && !isASCII(l) {
		// Punycode writes at least one byte per rune, so a longer label
		// cannot fit in 63 bytes after "xn--"; refuse before encoding.
		if utf8.RuneCountInString(l) > 63-len("xn--") {
			return "", fmt.Errorf("%w: label longer than 63 characters", errHost)
		}
		enc, err := idna.Lookup.ToASCII(l)
		if err != nil {
			// Not idna's error, which quotes the label.
			return "", fmt.Errorf("%w: a label is not a valid internationalized name (UTS #46)", errHost)
		}
		l = enc
	}
	if len(l) > 63 {
		return "", fmt.Errorf("%w: label longer than 63 characters", errHost)
	}
	return l, nil
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// endsInNumber is the WHATWG URL "ends in a number" check for the last label.
func endsInNumber(l string) bool {
	if l == "" {
		return false
	}
	if strings.HasPrefix(l, "0x") {
		for _, c := range l[2:] {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
		return true
	}
	for _, c := range l {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hostIsIP reports whether a canonical host is an IP literal.
func hostIsIP(h string) bool {
	_, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil
}

// domainMatch is RFC 6265 §5.1.3: does a cookie with Domain=domain reach host?
// Both are canonical.
func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return !hostIsIP(host) && strings.HasSuffix(host, "."+domain)
}
