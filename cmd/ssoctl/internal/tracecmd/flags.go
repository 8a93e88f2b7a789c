package tracecmd

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// checkedFlags are the flags that needed parsing.
type checkedFlags struct {
	resolve map[string]string // --resolve, as chain.Dialer.Map takes it
	cookies []chain.CookieExpectation
}

// checkFlags refuses what no walk could use, before anything is read or
// started: every problem with the command line is exit 2 with a hint.
func (opts *ChainOptions) checkFlags() (*checkedFlags, error) {
	switch {
	case opts.File == "" && opts.Start == "":
		return nil, cmdutil.UsageError("walk a chain file with -f FILE (add --sandbox to run it in process), or any chain with --start URL",
			"nothing to walk: give -f FILE or --start URL")
	case opts.Sandbox && opts.File == "":
		return nil, cmdutil.UsageError("the sandbox runs the roles a chain file describes: add -f FILE, or drop --sandbox to walk --start live",
			"--sandbox needs -f FILE")
	case (opts.IdPURL != "" || opts.IdPAdminURL != "") && opts.File == "":
		return nil, cmdutil.UsageError("--idp-url and --idp-admin-url change a chain file's IdP: add -f FILE",
			"--idp-url and --idp-admin-url need -f FILE")
	case opts.PasswordEnv != "" && opts.PasswordFile != "":
		return nil, cmdutil.UsageError("give one password source", "--password-env and --password-file cannot be combined")
	case (opts.ClientSecretEnv != "" || opts.ClientSecretFile != "") && opts.ClientID == "":
		return nil, cmdutil.UsageError("say whose secret it is with --client-id", "--client-secret-env and --client-secret-file need --client-id")
	case opts.ClientID != "" && opts.ClientSecretEnv == "" && opts.ClientSecretFile == "":
		return nil, cmdutil.UsageError("give its secret with --client-secret-env NAME or --client-secret-file PATH", "--client-id needs the client's secret")
	case opts.ClientSecretEnv != "" && opts.ClientSecretFile != "":
		return nil, cmdutil.UsageError("give one client secret source", "--client-secret-env and --client-secret-file cannot be combined")
	case opts.ClientID != "" && !opts.Probe:
		return nil, cmdutil.UsageError("add --probe: the client's credentials are only used to probe", "--client-id needs --probe")
	case opts.PasswordFile == "-" && opts.File == "-":
		return nil, cmdutil.UsageError("read one of them from a file", "-f - and --password-file - cannot both read stdin")
	case opts.Timeout <= 0:
		return nil, cmdutil.UsageError("give a positive duration, like --timeout 10s", "--timeout %s: must be more than 0", opts.Timeout)
	case opts.MaxHops < 0:
		return nil, cmdutil.UsageError("give a positive count, or leave the flag out", "--max-hops %d: must be at least 0", opts.MaxHops)
	case opts.MaxTokenLifetime < 0:
		return nil, cmdutil.UsageError("give a positive duration, like --max-token-lifetime 30s", "--max-token-lifetime %s: must be at least 0", opts.MaxTokenLifetime)
	case opts.Logout && opts.File == "":
		return nil, cmdutil.UsageError("--logout needs the chain file to know the issuer and every receiver: add -f FILE",
			"--logout needs -f FILE")
	case opts.LogoutDeadline <= 0:
		return nil, cmdutil.UsageError("give a positive duration, like --logout-deadline 3s", "--logout-deadline %s: must be more than 0", opts.LogoutDeadline)
	case opts.ProbeRepeat < 1 || opts.ProbeRepeat > maxProbeRepeat:
		return nil, cmdutil.UsageError(fmt.Sprintf("give at least the number of instances behind each receiver's load balancer, from 1 to %d, like --probe-repeat %d", maxProbeRepeat, chain.DefaultProbeRepeat),
			"--probe-repeat %d: must be from 1 to %d", opts.ProbeRepeat, maxProbeRepeat)
	case opts.given["probe-repeat"] && !opts.Probe && !opts.Logout:
		return nil, cmdutil.UsageError("add --probe or --logout, which send the repeated requests", "--probe-repeat needs --probe or --logout")
	case opts.ProbeLogoutURL != "" && !opts.Probe:
		return nil, cmdutil.UsageError("add --probe, which follows it from another site", "--probe-logout-url needs --probe")
	case opts.MaxTotalTime < 0:
		return nil, cmdutil.UsageError("give a positive duration, like --max-total-time 2s", "--max-total-time %s: must be at least 0", opts.MaxTotalTime)
	}
	if opts.Start != "" {
		if err := checkURLFlag("--start", opts.Start, "--start https://accounts.company.com/login?return_to=https://portal.company2.com/"); err != nil {
			return nil, err
		}
	}
	if opts.ProbeLogoutURL != "" {
		if err := checkURLFlag("--probe-logout-url", opts.ProbeLogoutURL, "--probe-logout-url https://app.company.com/oauth2/sign_out"); err != nil {
			return nil, err
		}
	}
	resolve, err := parseResolves(opts.Resolve)
	if err != nil {
		return nil, err
	}
	cookies, err := parseCookieExpectations(opts.Cookies)
	if err != nil {
		return nil, err
	}
	return &checkedFlags{resolve: resolve, cookies: cookies}, nil
}

// checkURLFlag accepts an absolute http or https URL for flag, example
// showing one in the hint. The URL is not echoed: it may carry a token or
// a password.
func checkURLFlag(flag, raw, example string) error {
	u, err := url.Parse(raw)
	hint := "give an absolute URL, like " + example
	switch {
	case err != nil:
		return cmdutil.UsageError(hint, "%s is not a URL", flag)
	case u.Scheme != "http" && u.Scheme != "https":
		return cmdutil.UsageError(hint, "%s must be an http or https URL", flag)
	case u.Host == "" || u.Hostname() == "":
		return cmdutil.UsageError(hint, "%s has no host", flag)
	case u.User != nil:
		return cmdutil.UsageError("sign in with --user and --password-env, never with user:password@ in a URL", "%s holds a user name or password", flag)
	}
	return nil
}

// parseResolves reads --resolve values in curl's syntax, HOST:PORT:ADDR,
// into Dialer.Map entries ("host:port" → "addr:port"). As in curl, the
// port stays and only the address changes; ADDR must be an IP address
// (IPv6 in brackets or not). curl's extensions (a +/- prefix, a * host, a
// list of addresses) are refused rather than half-supported.
func parseResolves(specs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, spec := range specs {
		host, port, addr, err := parseResolve(spec)
		if err != nil {
			return nil, cmdutil.UsageError("write it like curl: --resolve accounts.company.com:443:127.0.0.1 (HOST:PORT:ADDR)",
				"--resolve %q: %s", cmdutil.Printable(spec), err)
		}
		key := strings.ToLower(net.JoinHostPort(host, port))
		if prev, dup := m[key]; dup && prev != net.JoinHostPort(addr, port) {
			return nil, cmdutil.UsageError("give each HOST:PORT once", "--resolve maps %s twice", key)
		}
		m[key] = net.JoinHostPort(addr, port)
	}
	return m, nil
}

func parseResolve(spec string) (host, port, addr string, err error) {
	if spec == "" {
		return "", "", "", fmt.Errorf("empty")
	}
	if spec[0] == '+' || spec[0] == '-' {
		return "", "", "", fmt.Errorf("curl's +/- prefixes are not supported; give HOST:PORT:ADDR")
	}
	rest := spec
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return "", "", "", fmt.Errorf("the host's [ has no ]")
		}
		host, rest = rest[1:end], rest[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return "", "", "", fmt.Errorf("want HOST:PORT:ADDR")
		}
		rest = rest[1:]
	} else {
		var ok bool
		if host, rest, ok = strings.Cut(rest, ":"); !ok {
			return "", "", "", fmt.Errorf("want HOST:PORT:ADDR")
		}
	}
	port, addr, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", "", fmt.Errorf("want HOST:PORT:ADDR")
	}
	switch {
	case host == "":
		return "", "", "", fmt.Errorf("no host")
	case host == "*":
		return "", "", "", fmt.Errorf("a wildcard host is not supported; name the host")
	case strings.ContainsAny(host, "/?#@ \t\\%"):
		return "", "", "", fmt.Errorf("the host is not a host name")
	}
	n, perr := strconv.Atoi(port)
	if perr != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", "", "", fmt.Errorf("port %q is not a number from 1 to 65535", cmdutil.Printable(port))
	}
	if strings.Contains(addr, ",") {
		return "", "", "", fmt.Errorf("give one address, not a list")
	}
	ip, aerr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"))
	if aerr != nil || ip.Zone() != "" {
		return "", "", "", fmt.Errorf("address %q is not an IP address", cmdutil.Printable(addr))
	}
	return host, port, ip.String(), nil
}

// parseCookieExpectations reads --expect-cookie HOST=NAME values, grouped
// by host in the order given.
func parseCookieExpectations(specs []string) ([]chain.CookieExpectation, error) {
	var out []chain.CookieExpectation
	at := map[string]int{}
	for _, spec := range specs {
		host, name, ok := strings.Cut(spec, "=")
		host = strings.ToLower(strings.TrimSpace(host))
		if !ok || host == "" || name == "" || strings.ContainsAny(host, "/ \t") {
			return nil, cmdutil.UsageError("write it as HOST=NAME: --expect-cookie portal.company2.localhost=portal_session",
				"--expect-cookie %q: want HOST=NAME", cmdutil.Printable(spec))
		}
		if err := (&http.Cookie{Name: name, Value: "x"}).Valid(); err != nil {
			return nil, cmdutil.UsageError("a cookie name is a token of letters, digits and !#$%&'*+-.^_`|~",
				"--expect-cookie %q: %q is not a cookie name", cmdutil.Printable(spec), cmdutil.Printable(name))
		}
		i, seen := at[host]
		if !seen {
			i = len(out)
			at[host] = i
			out = append(out, chain.CookieExpectation{Domain: host})
		}
		out[i].Names = append(out[i].Names, name)
	}
	return out, nil
}

// expectations is the chain file's expect: block with each flag given on
// the command line in its place; --expect-cookie replaces the file's names
// for the hosts it names.
func (opts *ChainOptions) expectations(c *chain.Chain, cookies []chain.CookieExpectation) chain.Expect {
	var e chain.Expect
	if c != nil {
		e = c.Expect
		e.Cookies = append([]chain.CookieExpectation(nil), c.Expect.Cookies...)
	}
	if opts.given["expect-final-url-prefix"] {
		e.FinalURLPrefix = opts.FinalURLPrefix
	}
	if opts.given["max-hops"] {
		e.MaxHops = opts.MaxHops
	}
	if opts.given["max-token-lifetime"] {
		e.MaxTokenLifetime = opts.MaxTokenLifetime
	}
	if opts.given["max-total-time"] {
		e.MaxTotalTime = opts.MaxTotalTime
	}
	for _, ce := range cookies {
		replaced := false
		for i := range e.Cookies {
			if strings.EqualFold(e.Cookies[i].Domain, ce.Domain) {
				e.Cookies[i] = ce
				replaced = true
			}
		}
		if !replaced {
			e.Cookies = append(e.Cookies, ce)
		}
	}
	return e
}

// credentials picks who signs in: --user, else the chain file's first dev
// user; the password from --password-env or --password-file, else the
// chain file's entry for that user. No user at all is allowed (the walk
// then stops at the first login form).
func (opts *ChainOptions) credentials(c *chain.Chain) (user, password string, err error) {
	var users []chain.User
	if c != nil && (c.IdP.Kind == chain.IdPDev || c.IdP.HydraLogin != nil) {
		users = c.IdP.Users // the dev IdP's, or those it signs in for Hydra
	}
	user = opts.User
	if user == "" && len(users) > 0 {
		user = users[0].Email
	}
	switch {
	case opts.PasswordEnv != "":
		if user == "" {
			return "", "", cmdutil.UsageError("say whose password it is with --user", "--password-env needs --user")
		}
		v, ok := opts.LookupEnv(opts.PasswordEnv)
		if !ok || v == "" {
			return "", "", cmdutil.UsageError("export it, or use --password-file PATH", "environment variable %s is not set or empty", cmdutil.Printable(opts.PasswordEnv))
		}
		return user, v, nil
	case opts.PasswordFile != "":
		if user == "" {
			return "", "", cmdutil.UsageError("say whose password it is with --user", "--password-file needs --user")
		}
		var data []byte
		if opts.PasswordFile == "-" {
			data, err = io.ReadAll(io.LimitReader(opts.IO.In, 4096))
		} else {
			data, err = opts.ReadFile(opts.PasswordFile)
		}
		if err != nil {
			return "", "", cmdutil.UsageError("check the path given to --password-file", "reading the password: %s", cmdutil.Printable(err.Error()))
		}
		data = token.TrimOneNewline(data)
		if len(data) == 0 {
			return "", "", cmdutil.UsageError("put the password in the file", "--password-file %s is empty", cmdutil.Printable(opts.PasswordFile))
		}
		return user, string(data), nil
	case user == "":
		return "", "", nil
	}
	for i, u := range users {
		if strings.EqualFold(u.Email, user) {
			pw, err := u.Password.Resolve(opts.LookupEnv, opts.ReadFile)
			if err != nil {
				return "", "", cmdutil.UsageError("the chain file's dev user needs its password; or pass --password-env NAME",
					"idp.users[%d].password: %s", i, cmdutil.Printable(err.Error()))
			}
			return user, string(pw), nil
		}
	}
	return "", "", cmdutil.UsageError("pass the password with --password-env NAME or --password-file PATH",
		"no password for --user %s: the chain file has no such dev user", cmdutil.Printable(user))
}

// oidcClients are the OpenID Connect clients --probe may play: --client-id
// with its secret, and an idp.kind oidc chain file's own client when its
// secret resolves here.
func (opts *ChainOptions) oidcClients(c *chain.Chain) ([]chain.OIDCClient, error) {
	var out []chain.OIDCClient
	if opts.ClientID != "" {
		var secret []byte
		var err error
		if opts.ClientSecretEnv != "" {
			v, ok := opts.LookupEnv(opts.ClientSecretEnv)
			if !ok || v == "" {
				return nil, cmdutil.UsageError("export it, or use --client-secret-file PATH", "environment variable %s is not set or empty", cmdutil.Printable(opts.ClientSecretEnv))
			}
			secret = []byte(v)
		} else if secret, err = opts.ReadFile(opts.ClientSecretFile); err != nil {
			return nil, cmdutil.UsageError("check the path given to --client-secret-file", "reading the client secret: %s", cmdutil.Printable(err.Error()))
		}
		if secret = token.TrimOneNewline(secret); len(secret) == 0 {
			return nil, cmdutil.UsageError("put the secret in it", "the client secret for --client-id is empty")
		}
		out = append(out, chain.OIDCClient{ID: opts.ClientID, Secret: string(secret)})
	}
	if c != nil && c.IdP.Kind == chain.IdPOIDC && c.IdP.ClientID != "" && c.IdP.ClientID != opts.ClientID {
		if secret, err := c.IdP.ClientSecret.Resolve(opts.LookupEnv, opts.ReadFile); err == nil && len(secret) > 0 {
			out = append(out, chain.OIDCClient{ID: c.IdP.ClientID, Secret: string(secret)})
		} else {
			opts.notef("--probe: the chain's idp.client_secret does not resolve here, so code_replay is skipped")
		}
	}
	return out, nil
}
