package serve_test

import (
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// The IdP misbehaving (DESIGN §9, §11): a Kratos that is slow, answers 500,
// answers something that is not a session, or says the session is not
// active. A real Kratos cannot be made to do these on demand, so the dev
// IdP stands behind faultyIdP, an in-process stand-in for the Kratos API
// that passes everything through until a fault is switched on, and then
// misbehaves on the two session calls the roles make: whoami (the
// issuer's /login) and the admin API's GET /admin/sessions/{id} (a
// receiver's /sso and /auth). The login pages keep working, as they would
// behind a real Kratos whose API is in trouble.

// idpFaultTimeout is the roles' HTTP client timeout in these tests: the
// Kratos client takes the timeout of the client it is given (kratos.go,
// kratosHTTPClient; 10s in `ssoctl serve`), so a hung IdP costs a request
// this long and no longer.
const idpFaultTimeout = 250 * time.Millisecond

// idpFault is how faultyIdP answers the session calls.
type idpFault string

const (
	idpHealthy    idpFault = ""
	idpSlow       idpFault = "slow"       // no answer until the client gives up
	idp500        idpFault = "500"        // Kratos's error envelope, 500
	idpGarbage    idpFault = "garbage"    // 200, not JSON at all
	idpTruncated  idpFault = "truncated"  // 200, the real answer cut off mid-body
	idpShortJSON  idpFault = "short json" // 200, the real answer cut in half, with a Content-Length that agrees
	idpWrongShape idpFault = "wrong shape"
	idpInactive   idpFault = "active false" // 200, the real session with active: false
)

// faultyIdP wraps the dev IdP's public or admin handler.
type faultyIdP struct {
	fault     atomic.Value // idpFault
	faulted   atomic.Int64 // session calls answered with a fault
	abandoned atomic.Int64 // slow calls the client gave up on
	release   chan struct{}
}

func newFaultyIdP() *faultyIdP {
	f := &faultyIdP{release: make(chan struct{})}
	f.fault.Store(idpHealthy)
	return f
}

func (f *faultyIdP) set(fault idpFault) { f.fault.Store(fault) }

// sessionCall reports whether path is one of the session calls the roles
// make: whoami on the public API, a session by id on the admin API.
func sessionCall(path string) bool {
	return path == "/sessions/whoami" || strings.HasPrefix(path, "/admin/sessions/")
}

func (f *faultyIdP) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault := f.fault.Load().(idpFault)
		if fault == idpHealthy || !sessionCall(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		f.faulted.Add(1)
		real := func() []byte {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			return rec.Body.Bytes()
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch fault {
		case idpSlow:
			// The server's request context ends when the client closes the
			// connection: that is the client's timeout at work.
			select {
			case <-r.Context().Done():
				f.abandoned.Add(1)
			case <-f.release:
			}
		case idp500:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"code":500,"status":"Internal Server Error","message":"the database is on fire"}}`))
		case idpGarbage:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>502 Bad Gateway (nginx)</body></html>"))
		case idpTruncated:
			body := real()
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body[:len(body)/2])
			panic(http.ErrAbortHandler) // the connection drops mid-body
		case idpShortJSON:
			body := real()
			_, _ = w.Write(body[:len(body)/2])
		case idpWrongShape:
			_, _ = w.Write([]byte(`{"sessions":[{"id":"one"},{"id":"two"}],"next_page_token":""}`))
		case idpInactive:
			var doc map[string]any
			if err := json.Unmarshal(real(), &doc); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			doc["active"] = false
			_ = json.NewEncoder(w).Encode(doc)
		}
	})
}

// faultyIdPChain is localChain with the dev IdP behind faultyIdP and the
// roles' client timeout at idpFaultTimeout.
type faultyIdPChain struct {
	*runningChain
	idpFault *faultyIdP
	log      *testenv.Buffer
}

func startFaultyIdPChain(t *testing.T) *faultyIdPChain {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(localChain))
	if err != nil {
		t.Fatal(err)
	}
	rc := &runningChain{t: t, net: browsertest.NewNet(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, chain: c}
	fc := &faultyIdPChain{runningChain: rc, idpFault: newFaultyIdP(), log: &testenv.Buffer{}}
	if rc.idp, err = serve.NewDevIdPFromChain(c, serve.Env{HTTPClient: rc.net.Client(), Now: rc.clock.Now}); err != nil {
		t.Fatal(err)
	}
	rc.net.Serve(t, idpPublic, fc.idpFault.wrap(rc.idp.Public()))
	rc.net.Serve(t, idpAdmin, fc.idpFault.wrap(rc.idp.Admin()))
	t.Cleanup(func() { close(fc.idpFault.release) }) // runs before the servers close
	client := rc.net.Client()
	client.Timeout = idpFaultTimeout
	env := serve.Env{HTTPClient: client, Now: rc.clock.Now, Logger: slog.New(slog.NewTextHandler(fc.log, nil))}
	if rc.roles, err = serve.NewRoles(c, env, serve.RoleOptions{RecheckInterval: time.Minute}); err != nil {
		t.Fatal(err)
	}
	rc.net.Serve(t, issuerURL, rc.roles.Issuer)
	rc.net.Serve(t, portalURL, rc.roles.Receivers["portal"])
	rc.net.Serve(t, dashboardURL, rc.roles.Receivers["dashboard"])
	return fc
}

var retryLink = regexp.MustCompile(`<a class="button" href="([^"]+)"`)

// TestIdPFaults walks one story per way the IdP can misbehave. Alice is
// signed in everywhere and holds a fresh handoff for portal; then the IdP
// breaks, and three requests that must ask it are made: the handoff at
// portal's /sso, a new login at the issuer's /login (whoami), and portal's
// /auth once the recheck interval is over. Then the IdP recovers, and with
// no restart of anything the next attempt works.
//
// An IdP that cannot be asked (slow, 500, an answer that is not a Kratos
// session) fails closed: 503, Retry-After, a page with the reason and a
// link to try again, no cookie, a log line naming the reason. An IdP that
// answers "not active" is believed: 401 (or back to the IdP's login), and
// the session stays signed out when the IdP changes its mind.
//
// The handoff's jti is consumed even though the IdP check after it failed,
// and that is deliberate: Verify consumes it as the last of the token
// checks, before the IdP is asked. A handoff travels in a URL (history,
// access logs, Referer); single use is what makes such a copy worthless,
// and it holds only if the first presentation burns the token whatever
// happens next. Were a 503 to leave it unused, a copy would stay good for
// the rest of its lifetime, to be used by whoever presents it once the IdP
// is back. The user is not stranded by it: the 503 page's retry link is a
// fresh login at the issuer (not the same handoff again), which mints a
// new token, and that is what the test follows.
func TestIdPFaults(t *testing.T) {
	t.Parallel()
	type want struct {
		sso, login, auth int    // status at portal /sso, issuer /login, portal /auth
		reason           string // at /sso and /login, on the page and in the log
		authReason       string // in portal's log for /auth
		signedOutAfter   bool   // the IdP said no: portal's cookie stays refused
	}
	unavailable := want{sso: http.StatusServiceUnavailable, login: http.StatusServiceUnavailable, auth: http.StatusServiceUnavailable, reason: "idp_unavailable", authReason: "idp_unavailable"}
	tests := []struct {
		description string
		fault       idpFault
		want        want
	}{
		{"An IdP slower than the client timeout fails closed, and says it timed out.", idpSlow,
			want{sso: http.StatusServiceUnavailable, login: http.StatusServiceUnavailable, auth: http.StatusServiceUnavailable, reason: "idp_timeout", authReason: "idp_timeout"}},
		{"An IdP answering 500 fails closed.", idp500, unavailable},
		{"An IdP answering HTML with 200 fails closed.", idpGarbage, unavailable},
		{"An IdP whose answer breaks off mid-body fails closed.", idpTruncated, unavailable},
		{"An IdP answering half a JSON document fails closed.", idpShortJSON, unavailable},
		{"An IdP answering JSON of another shape fails closed.", idpWrongShape, unavailable},
		{"An IdP answering active: false is believed: signed out, not unavailable.", idpInactive,
			want{sso: http.StatusUnauthorized, login: http.StatusSeeOther, auth: http.StatusUnauthorized, reason: "idp_session_inactive", authReason: "session revoked", signedOutAfter: true}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			fc := startFaultyIdPChain(t)
			alice := fc.alice()
			fresh := fc.captureUnused(alice, portalURL) // alice is signed in on every domain
			if got := authStatus(alice, portalURL); got != http.StatusOK {
				t.Fatalf("portal /auth before the fault = %d, want 200", got)
			}

			fc.idpFault.set(tt.fault)

			// The handoff at portal's /sso, from a browser without cookies.
			b := fc.alice()
			resp, body := b.Get(ssoURL(portalURL, fresh))
			if resp.StatusCode != tt.want.sso || !strings.Contains(body, tt.want.reason) {
				t.Errorf("portal /sso = %d, want %d naming %s\n%s", resp.StatusCode, tt.want.sso, tt.want.reason, body)
			}
			if c := setCookies(resp); c["portal_session"] != nil {
				t.Errorf("portal /sso set its cookie while the IdP check failed: %v", c["portal_session"])
			}
			var retry string
			if tt.want.sso == http.StatusServiceUnavailable {
				if resp.Header.Get("Retry-After") == "" {
					t.Error("portal /sso 503 has no Retry-After")
				}
				if m := retryLink.FindStringSubmatch(body); m != nil {
					retry = html.UnescapeString(m[1])
				}
				if want := loginURL(portalURL + "/"); retry != want {
					t.Errorf("portal /sso 503 offers %q, want a fresh login %q", retry, want)
				}
			}
			// Consumed: see the test's comment.
			if resp, body := fc.alice().Get(ssoURL(portalURL, fresh)); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "token_replayed") {
				t.Errorf("the same handoff again = %d, want 401 token_replayed: the first presentation burns it", resp.StatusCode)
			}

			// A new login at the issuer with alice's IdP cookie (whoami).
			resp, body = alice.Get(loginURL(dashboardURL + "/"))
			if resp.StatusCode != tt.want.login {
				t.Errorf("issuer /login = %d Location %q, want %d", resp.StatusCode, resp.Header.Get("Location"), tt.want.login)
			}
			switch loc := resp.Header.Get("Location"); {
			case tt.want.login == http.StatusServiceUnavailable:
				if loc != "" || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, tt.want.reason) {
					t.Errorf("issuer /login 503: Location %q, Retry-After %q, want no redirect, a Retry-After and %s on the page", loc, resp.Header.Get("Retry-After"), tt.want.reason)
				}
			case !strings.HasPrefix(loc, idpPublic+chain.KratosLoginPath):
				t.Errorf("issuer /login went to %q, want the IdP's login", loc)
			}
			if c := setCookies(resp); c["accounts_session"] != nil {
				t.Errorf("issuer /login set its cookie while the IdP check failed: %v", c["accounts_session"])
			}

			// Portal's /auth, due for a recheck.
			fc.clock.Advance(time.Minute + time.Second)
			if got := authStatus(alice, portalURL); got != tt.want.auth {
				t.Errorf("portal /auth due for a recheck = %d, want %d", got, tt.want.auth)
			}

			if n := fc.idpFault.faulted.Load(); n < 3 {
				t.Errorf("the IdP saw %d faulted session calls, want at least 3 (/sso, /login, /auth)", n)
			}
			if tt.fault == idpSlow {
				// The server learns of a closed connection a moment after
				// the client gives up.
				deadline := time.Now().Add(2 * time.Second)
				for fc.idpFault.abandoned.Load() < 3 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				if n := fc.idpFault.abandoned.Load(); n < 3 {
					t.Errorf("%d slow IdP calls were given up by the client, want 3: a call without a timeout hangs the login", n)
				}
			}
			logs := fc.log.String()
			for _, line := range []string{
				"role=portal method=GET path=/sso status=" + strconv.Itoa(tt.want.sso),
				"role=issuer method=GET path=/login status=" + strconv.Itoa(tt.want.login),
				"role=portal method=GET path=/auth status=" + strconv.Itoa(tt.want.auth),
			} {
				if !strings.Contains(logs, line) {
					t.Errorf("no log line %q", line)
				}
			}
			for _, reason := range []string{"reason=" + tt.want.reason, tt.want.authReason} {
				if !strings.Contains(logs, reason) {
					t.Errorf("the log does not name %q:\n%s", reason, logs)
				}
			}

			// The IdP recovers; nothing restarts.
			fc.idpFault.set(idpHealthy)
			wantAuth := http.StatusOK
			if tt.want.signedOutAfter {
				wantAuth = http.StatusUnauthorized
			}
			if got := authStatus(alice, portalURL); got != wantAuth {
				t.Errorf("portal /auth after the IdP recovered = %d, want %d", got, wantAuth)
			}
			if retry != "" {
				if p := b.Visit(retry); p.Status != http.StatusOK || p.URL != portalURL+"/" || !setOn(b, portalURL, "portal_session") {
					t.Errorf("the 503 page's retry link after the IdP recovered ended at %s with %d, cookies %v; want signed in on portal", p.URL, p.Status, b.Cookies(portalURL))
				}
			}
			if p := alice.Visit(loginURL(dashboardURL + "/")); p.Status != http.StatusOK || p.URL != dashboardURL+"/" {
				t.Errorf("login after the IdP recovered ended at %s with %d: %v", p.URL, p.Status, hopURLs(p.Hops))
			}
		})
	}
}

func setOn(b *browsertest.Browser, origin, cookie string) bool {
	for _, c := range b.Cookies(origin) {
		if c == cookie {
			return true
		}
	}
	return false
}
