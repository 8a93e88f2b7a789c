package serve

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func memoSealer(t *testing.T) *Sealer {
	t.Helper()
	s, err := NewSealer([]byte(strings.Repeat("k", MinSealKey)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	memoNow     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	memoSession = CookieSession{
		SessionID: "sid-1", Subject: "sub-1", Email: "a@example.com", Role: "admin",
		AuthenticatedAt: memoNow.Add(-time.Minute), Expires: memoNow.Add(time.Hour),
	}
)

func TestOpenSessionRemembers(t *testing.T) {
	s := memoSealer(t)
	v := s.SealSession("portal_session", memoSession)

	first, err := s.OpenSession("portal_session", v, memoNow)
	if err != nil {
		t.Fatal(err)
	}
	if s.opened.n.Load() != 1 {
		t.Fatalf("remembered %d values after one open, want 1", s.opened.n.Load())
	}
	again, err := s.OpenSession("portal_session", v, memoNow)
	if err != nil {
		t.Fatal(err)
	}
	if *again != memoSession {
		t.Errorf("second open = %+v, want %+v", *again, memoSession)
	}
	if again != first {
		t.Error("the second open made a new session; want the remembered one, which costs no allocation")
	}

	// The memo keys on the value and checks the name: the same bytes
	// opened as another cookie must fail as they would unremembered.
	if _, err := s.OpenSession("dashboard_session", v, memoNow); err != ErrSealInvalid {
		t.Errorf("the remembered value opened as another cookie: %v, want ErrSealInvalid", err)
	}
	// Expiry is checked on every use, not only when the value was opened.
	if _, err := s.OpenSession("portal_session", v, memoSession.Expires); err != ErrSealExpired {
		t.Errorf("the remembered value at its expiry: %v, want ErrSealExpired", err)
	}
}

func TestOpenSessionRemembersOnlyWhatOpens(t *testing.T) {
	s := memoSealer(t)
	v := s.SealSession("portal_session", memoSession)
	p, mac, _ := strings.Cut(v, ".")
	forged := []string{
		"",
		v + "x",
		p + "." + strings.Repeat("A", len(mac)),
		memoSealer(t).Seal("cookie:other", memoSession.Expires, "a", "b", "", "", "0"),
		s.SealSession("portal_session", func() CookieSession { c := memoSession; c.Expires = memoNow; return c }()),
	}
	for _, f := range forged {
		if _, err := s.OpenSession("portal_session", f, memoNow); err == nil {
			t.Fatalf("OpenSession(%q) opened", f)
		}
	}
	if n := s.opened.n.Load(); n != 0 {
		t.Errorf("remembered %d values that did not open, want 0", n)
	}
}

func TestOpenedSessionsBound(t *testing.T) {
	s := memoSealer(t)
	values := make([]string, maxOpenedSessions+1)
	for i := range values {
		cs := memoSession
		cs.SessionID = fmt.Sprintf("sid-%d", i)
		values[i] = s.SealSession("c", cs)
		if _, err := s.OpenSession("c", values[i], memoNow); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	s.opened.m.Range(func(any, any) bool { held++; return true })
	if held > maxOpenedSessions {
		t.Errorf("holds %d values, bound %d", held, maxOpenedSessions)
	}
	// Dropped values open again, from scratch.
	for _, i := range []int{0, maxOpenedSessions} {
		cs, err := s.OpenSession("c", values[i], memoNow)
		if err != nil || cs.SessionID != fmt.Sprintf("sid-%d", i) {
			t.Errorf("value %d after the drop: %+v, %v", i, cs, err)
		}
	}
}

func TestOpenSessionConcurrent(t *testing.T) {
	s := memoSealer(t)
	var values []string
	for i := range 8 {
		cs := memoSession
		cs.SessionID = fmt.Sprintf("sid-%d", i)
		values = append(values, s.SealSession("c", cs))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(values)
				cs, err := s.OpenSession("c", values[k], memoNow)
				if err != nil || cs.SessionID != fmt.Sprintf("sid-%d", k) {
					t.Errorf("open %d: %+v, %v", k, cs, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCookieValues(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"none", nil, nil},
		{"one", []string{"sso=v1"}, []string{"v1"}},
		{"among others, spaced", []string{"a=1; sso=v1;b=2", "  sso=v2  ; c=3"}, []string{"v1", "v2"}},
		{"names that only look alike", []string{"sso2=x; xsso=y; SSO=z; s so=w"}, nil},
		{"spaces around the name, no =", []string{" sso =w; sso"}, []string{"w", ""}},
		{"quoted", []string{`sso="v1"`}, []string{"v1"}},
		{"a lone quote stays", []string{`sso="`}, []string{`"`}},
		{"empty value", []string{"sso=; sso=v"}, []string{"", "v"}},
		{"a value with =", []string{"sso=a=b"}, []string{"a=b"}},
		{"empty parts", []string{";;sso=v;;"}, []string{"v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Cookie": tt.lines}
			got := slices.Collect(cookieValues(h, "sso"))
			if !slices.Equal(got, tt.want) {
				t.Errorf("cookieValues = %q, want %q", got, tt.want)
			}
			var seen []string
			for v := range cookieValues(h, "sso") {
				seen = append(seen, v)
				break
			}
			if len(tt.want) > 0 && (len(seen) != 1 || seen[0] != tt.want[0]) {
				t.Errorf("stopping after the first value: %q", seen)
			}
		})
	}
}

// FuzzCookieValues holds cookieValues to net/http's reading of the same
// Cookie lines: every value Request.CookiesNamed finds is found, in the
// same order; anything more is a value net/http refuses as malformed,
// which a sealed value's own check refuses too.
func FuzzCookieValues(f *testing.F) {
	for _, s := range []string{
		"sso=v1", "a=1; sso=v1; sso=v2", `sso="q"`, "sso=a b", "sso=\x00", "sso=;sso", " sso = v ",
		"sso=é", "sso=v\tw", `sso="a"b"`, ";;;", "sso=v; sso=v",
	} {
		f.Add(s, "sso")
	}
	f.Fuzz(func(t *testing.T, line, name string) {
		if (&http.Cookie{Name: name, Value: "v"}).Valid() != nil {
			t.Skip() // a chain's cookie names are tokens
		}
		h := http.Header{"Cookie": {line}}
		r := &http.Request{Header: h}
		var want []string
		for _, c := range r.CookiesNamed(name) {
			want = append(want, c.Value)
		}
		got := slices.Collect(cookieValues(h, name))
		rest := got
		for _, w := range want {
			i := slices.Index(rest, w)
			if i < 0 {
				t.Fatalf("net/http finds %q in %q; cookieValues finds %q", want, line, got)
			}
			rest = rest[i+1:]
		}
		if len(got) > len(want) {
			valid := 0
			for _, v := range got {
				if (&http.Cookie{Name: "n", Value: v}).Valid() == nil {
					valid++
				}
			}
			if valid > len(want) {
				t.Fatalf("cookieValues finds %q in %q, net/http only %q", got, line, want)
			}
		}
	})
}
