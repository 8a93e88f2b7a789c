package chain

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// FaultsWarning is the warning every chain with deliberate faults loads
// with, so that lint never shows such a chain as clean.
const FaultsWarning = "this chain has deliberate faults; for examples and tests only"

// Any reports whether at least one fault is switched on.
func (f Faults) Any() bool {
	if f.Issuer.OpenReturnTo || f.Issuer.LoopOnCallback || f.Issuer.LogoutWithoutAsking {
		return true
	}
	for _, rf := range f.Receivers {
		if rf.SkipIdPRecheck || len(rf.Ignore) > 0 {
			return true
		}
	}
	return false
}

// Ignores reports whether the receiver's /sso accepts a handoff that fails
// with the given pkg/token reason code.
func (rf ReceiverFaults) Ignores(code string) bool {
	return slices.Contains(rf.Ignore, code)
}

// ParseReturnTo parses raw the way Allow does (as a browser would, refusing
// every shape of DESIGN §9: //evil, https:evil, userinfo, backslashes,
// encoded newlines) and returns it in canonical form, without asking any
// allowlist. Only the issuer's open_return_to fault uses it: the allowlist
// is what makes a return_to safe, and this skips it. Errors wrap
// ErrReturnToRefused.
func ParseReturnTo(raw string) (*url.URL, error) {
	parts, err := parseAbsolute(raw, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReturnToRefused, err)
	}
	u, err := parseRest(parts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReturnToRefused, err)
	}
	return u, nil
}

// decodeNode reads faults.receivers: a mapping from receiver name to that
// receiver's faults, each placed at its key for validation.
func (f *FaultyReceivers) decodeNode(d *decoder, n *yaml.Node, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping from receiver name to its faults", "write it like {portal: {ignore: [audience_mismatch]}}")
		return
	}
	keys, keyNodes, values := d.mappingEntries(n, path)
	if *f == nil {
		*f = FaultyReceivers{}
	}
	for i, k := range keys {
		kp := keyPath(path, k)
		d.pos[kp] = position{keyLine: keyNodes[i].Line, keyCol: keyNodes[i].Column, line: values[i].Line, col: values[i].Column, null: isNull(values[i])}
		var rf ReceiverFaults
		d.decodeValue(values[i], reflect.ValueOf(&rf).Elem(), kp)
		(*f)[k] = rf
	}
}

// unreadableReasons are the pkg/token reasons a token fails before it can
// be read at all: ignoring one leaves no claims to act on.
var unreadableReasons = []*token.Reason{token.ErrTooLarge, token.ErrMalformed, token.ErrBadEncoding, token.ErrBadJSON, token.ErrDuplicateKey}

// errorAtKey reports a problem at the key of path rather than its value:
// a block that may not be there at all, a name that names nothing.
func (v *validator) errorAtKey(sev Severity, path, fix, format string, args ...any) {
	line, col := v.at(path)
	if p, ok := v.pos[path]; ok {
		line, col = p.keyLine, p.keyCol
	}
	v.problems = append(v.problems, Problem{Line: line, Col: col, Path: path, Message: fmt.Sprintf(format, args...), Fix: fix, Severity: sev})
}

// faults checks the faults block: dev chains only, receivers that exist
// and are served, reason codes pkg/token reports. Every chain that has a
// fault switched on loads with FaultsWarning.
func (v *validator) faults() {
	c := v.c
	if !v.given("faults") {
		return
	}
	if !c.Dev {
		v.errorAtKey(SeverityError, "faults", "remove the faults block; only a dev chain for examples and tests may have one",
			"faults need dev: true: they make the roles misbehave on purpose")
		return
	}
	names := make([]string, 0, len(c.Faults.Receivers))
	for name := range c.Faults.Receivers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v.receiverFaults(name, c.Faults.Receivers[name])
	}
	if c.Faults.Any() {
		v.errorAtKey(SeverityWarning, "faults", "remove faults to run the roles as they should behave", FaultsWarning)
	}
}

func (v *validator) receiverFaults(name string, rf ReceiverFaults) {
	base := keyPath("faults.receivers", name)
	if v.badUnder(base) {
		return
	}
	var served []string
	for _, r := range v.c.Receivers {
		if !r.SharedCookie && r.Name != "" {
			served = append(served, r.Name)
		}
	}
	switch r, ok := v.c.Receiver(name); {
	case !ok:
		fix := "use one of the receivers' names: " + strings.Join(served, ", ")
		if s := suggestKey(name, served); s != "" {
			fix = fmt.Sprintf("did you mean %q?", s)
		}
		if len(served) == 0 {
			fix = "add the receiver to receivers first"
		}
		v.errorAtKey(SeverityError, base, fix, "faults.receivers names no receiver %s", quote(name))
	case r.SharedCookie:
		v.errorAtKey(SeverityError, base, "remove it: the app behind a shared_cookie receiver serves itself",
			"faults.receivers.%s: ssoctl does not serve shared_cookie receivers, so it cannot make one misbehave", name)
	}
	known := make([]string, 0, len(token.Reasons()))
	for _, r := range token.Reasons() {
		known = append(known, r.Code)
	}
	seen := map[string]int{}
	for i, code := range rf.Ignore {
		path := fmt.Sprintf("%s.ignore[%d]", base, i)
		switch first, dup := seen[code]; {
		case v.badUnder(path):
		case dup:
			v.errorf(path, "remove one of them", "%s %s is already listed at ignore[%d]", path, quote(code), first)
		case !slices.Contains(known, code):
			v.errorf(path, reasonFix(code, known), "%s %s is not a pkg/token reason code", path, quote(code))
		case isUnreadable(code):
			v.errorf(path, "remove it; ignore reasons a readable token fails, like audience_mismatch or token_expired",
				"%s %s cannot be ignored: a token that fails it cannot be read, so there is nothing to accept", path, code)
		default:
			seen[code] = i
		}
	}
}

// reasonFix suggests the reason code the file most likely meant.
func reasonFix(code string, known []string) string {
	if s := suggestKey(code, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	var near []string
	for _, k := range known {
		if code != "" && strings.Contains(k, strings.ToLower(code)) {
			near = append(near, k)
		}
	}
	switch len(near) {
	case 1:
		return fmt.Sprintf("did you mean %q?", near[0])
	case 2, 3:
		return "did you mean one of " + strings.Join(near, ", ") + "?"
	}
	return "use a reason code refused handoffs name, like audience_mismatch, token_expired, token_replayed or signature_invalid; docs/token-profile.md lists them all"
}

func isUnreadable(code string) bool {
	for _, r := range unreadableReasons {
		if r.Code == code {
			return true
		}
	}
	return false
}
