package chain

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// IntrospectPath is where the issuer answers apps that read its
// parent-domain cookie (shared_cookie receivers): given the cookie's value
// and the app's key and secret, it says whether the session is active, whose
// it is and what the app may let them do (docs/introspect.md).
const IntrospectPath = "/sso/introspect"

// App is one application allowed to call the issuer's IntrospectPath. Apps
// are usually the ones behind shared_cookie receivers, but any server that
// receives the issuer's cookie may be one.
type App struct {
	// Name identifies the app in logs and selects its entry in an
	// identity's metadata_admin.permissions; a DNS label, like receiver
	// names.
	Name string `yaml:"name"`
	// Key is the app's client id: what it sends as the HTTP Basic user name
	// (or the JSON "key"). Not a secret.
	Key string `yaml:"key"`
	// Secret is the app's client secret, written like token.secret
	// (inline only with dev: true).
	Secret SecretRef `yaml:"secret"`
	// Permissions are what the introspection answer grants every active
	// session for this app, unless the identity's metadata_admin.permissions
	// holds a list for the app's name, which then replaces them. (Never
	// traits: Kratos lets users write their own.)
	Permissions []string `yaml:"permissions"`
}

// appKeyRE keeps app keys printable and free of ':', which HTTP Basic uses
// to split the key from the secret (RFC 7617 §2).
var appKeyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`) })

// apps checks the apps block: names and keys unique and well formed,
// every app with a secret, permissions non-empty words.
func (v *validator) apps() {
	names, keys := map[string]int{}, map[string]int{}
	for i := range v.c.Apps {
		a := &v.c.Apps[i]
		base := fmt.Sprintf("apps[%d]", i)
		switch {
		case a.Name == "":
			v.missing(base+".name", "add name: <app name>, like wiki; it names the app in logs and in metadata_admin.permissions")
		case !receiverNameRE().MatchString(a.Name):
			v.errorf(base+".name", "use lower-case letters, digits and '-', like wiki", "app name %s is not a DNS label", quote(a.Name))
		default:
			if first, dup := names[a.Name]; dup {
				v.errorf(base+".name", "give each app its own name", "app name %q is already used by apps[%d]", a.Name, first)
			} else {
				names[a.Name] = i
			}
		}
		switch {
		case a.Key == "":
			v.missing(base+".key", "add key: <client id>, what the app sends as the HTTP Basic user name")
		case !appKeyRE().MatchString(a.Key):
			v.errorf(base+".key", "use letters, digits, '.', '_', '~' or '-', at most 128", "app key %s has characters an HTTP Basic user name cannot carry", quote(a.Key))
		default:
			if first, dup := keys[a.Key]; dup {
				v.errorf(base+".key", "give each app its own key", "app key %q is already used by apps[%d]", a.Key, first)
			} else {
				keys[a.Key] = i
			}
		}
		path := base + ".secret"
		v.secret(path, &a.Secret)
		switch {
		case a.Secret.IsZero() && !v.given(path) && !v.badUnder(path):
			v.errorf(path, "set secret: {env: NAME} or {file: PATH} holding at least 32 random bytes", "%s is missing: an app authenticates with its key and secret", path)
		case a.Secret.hasInline && v.c.Dev && len(a.Secret.inline) < token.MinHMACSecret:
			v.errorf(path, "use at least 32 random bytes", "%s is %d bytes; an app secret needs at least 32", path, len(a.Secret.inline))
		}
		seen := map[string]bool{}
		for j, p := range a.Permissions {
			ppath := fmt.Sprintf("%s.permissions[%d]", base, j)
			switch {
			case p == "" || strings.TrimSpace(p) != p || strings.ContainsAny(p, " \t\r\n"):
				v.errorf(ppath, "write one permission per entry, like wiki:edit", "%s is empty or has spaces", ppath)
			case seen[p]:
				v.errorf(ppath, "remove the duplicate", "permission %s is listed twice", quote(p))
			}
			seen[p] = true
		}
	}
}

// App returns the app with the given name.
func (c *Chain) App(name string) (*App, bool) {
	for i := range c.Apps {
		if c.Apps[i].Name == name {
			return &c.Apps[i], true
		}
	}
	return nil, false
}
