package serve_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// FuzzSSOFormPost posts hostile bodies to a receiver's POST /sso, the end
// of a form_post handoff, with any Content-Type. The token is read by
// net/http's form parser, so the whole handler is what is fuzzed: it never
// answers 5xx to a bad request (DESIGN §9: bad input gets a clear error),
// and it sets a cookie only for the one real handoff token among the
// seeds, read from the body the way the handler reads it; any other body
// changes nothing.
func FuzzSSOFormPost(f *testing.F) {
	rc := startChain(f, localChain)
	fresh := rc.captureUnused(rc.alice(), portalURL)
	portal := rc.roles.Receivers["portal"]
	const form = "application/x-www-form-urlencoded"

	// A control handoff, so "no cookie" below cannot pass for a harness
	// that accepts nothing.
	control := rc.captureUnused(rc.alice(), portalURL)
	req := httptest.NewRequest(http.MethodPost, portalURL+chain.SSOPath, bytes.NewReader([]byte(url.Values{chain.TokenParam: {control}}.Encode())))
	req.Header.Set("Content-Type", form)
	w := httptest.NewRecorder()
	portal.ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther || len(w.Result().Cookies()) == 0 {
		f.Fatalf("POST /sso with a real handoff = %d with cookies %v, want 303 and a cookie", w.Code, w.Result().Cookies())
	}

	f.Add(form, []byte(url.Values{chain.TokenParam: {fresh}}.Encode()))
	f.Add(form, []byte(chain.TokenParam+"="+fresh+"&"+chain.TokenParam+"=e30.e30."))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n"+fresh+"\r\n--b--\r\n"))
	f.Add(form, []byte("token=e30.e30."))
	f.Add("", []byte(""))

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, portalURL+chain.SSOPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		portal.ServeHTTP(w, req)

		if w.Code >= 500 {
			t.Fatalf("POST /sso (%q) = %d; a bad body is the client's error:\n%s", contentType, w.Code, w.Body)
		}
		cookies := w.Result().Cookies()
		if len(cookies) == 0 {
			return
		}
		if sent := formToken(contentType, body); sent != fresh {
			t.Fatalf("POST /sso (%q) = %d set %d cookies for token %q, which is not the seed handoff", contentType, w.Code, len(cookies), sent)
		}
		if w.Code != http.StatusSeeOther {
			t.Fatalf("POST /sso accepted the handoff with %d, want 303", w.Code)
		}
	})
}

// formToken reads the token field of a POST body as net/http does for the
// receiver, within the same size limit.
func formToken(contentType string, body []byte) string {
	req := httptest.NewRequest(http.MethodPost, portalURL+chain.SSOPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, 2*token.MaxSize)
	return req.PostFormValue(chain.TokenParam)
}
