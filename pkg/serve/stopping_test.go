package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
)

// Once Stopping is called every role's /readyz answers 503 "shutting
// down" and no longer asks the IdP, while the roles serve everything
// else; a probe that joined a check begun before Stopping hears of the
// shutdown too, not the check's "ready".
func TestReadyzAfterStopping(t *testing.T) {
	c := parseStoresChain(t, "")
	n := browsertest.NewNet()
	var asked atomic.Int32
	var hold atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	n.Serve(t, c.IdP.PublicURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health/ready" {
			asked.Add(1)
			if hold.Load() {
				entered <- struct{}{}
				<-release
			}
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	roles, err := NewRoles(c, Env{HTTPClient: n.Client()}, RoleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { roles.Close() })
	get := func(h http.Handler, origin, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, origin+path, nil))
		return w.Code, w.Body.String()
	}
	portal := roles.Receivers["portal"]
	if code, body := get(portal, c.Receivers[0].URL, "/readyz"); code != http.StatusOK {
		t.Fatalf("portal /readyz before Stopping = %d %q, want 200", code, body)
	}

	hold.Store(true)
	type answer struct {
		code int
		body string
	}
	joined := make(chan answer, 1)
	go func() {
		code, body := get(portal, c.Receivers[0].URL, "/readyz")
		joined <- answer{code, body}
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the readiness check never reached the IdP")
	}
	roles.Stopping()
	close(release)
	if a := <-joined; a.code != http.StatusServiceUnavailable || a.body != "shutting down\n" {
		t.Errorf("a probe begun before Stopping = %d %q, want 503 \"shutting down\"", a.code, a.body)
	}

	before := asked.Load()
	for _, tc := range []struct {
		h      http.Handler
		origin string
	}{{roles.Issuer, c.Issuer.URL}, {portal, c.Receivers[0].URL}, {roles.Receivers["dashboard"], c.Receivers[1].URL}} {
		if code, body := get(tc.h, tc.origin, "/readyz"); code != http.StatusServiceUnavailable || body != "shutting down\n" {
			t.Errorf("%s/readyz after Stopping = %d %q, want 503 \"shutting down\"", tc.origin, code, body)
		}
		if code, body := get(tc.h, tc.origin, "/healthz"); code != http.StatusOK {
			t.Errorf("%s/healthz after Stopping = %d %q, want 200: only readiness changes", tc.origin, code, body)
		}
	}
	if n := asked.Load() - before; n != 0 {
		t.Errorf("the IdP was asked %d times after Stopping, want none", n)
	}
}
