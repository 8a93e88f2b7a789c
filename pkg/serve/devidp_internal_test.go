package serve

import (
	"regexp"
	"testing"
	"time"
)

var uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestDevIdPIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := devIdPNewUUID()
		m := uuidForm.FindStringSubmatch(id)
		if m == nil || m[1] != "4" {
			t.Fatalf("session id %q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("session id %q twice", id)
		}
		seen[id] = true
	}
	a, b := devIdPIdentityID("alice@example.com"), devIdPIdentityID("alice@example.com")
	if m := uuidForm.FindStringSubmatch(a); m == nil || m[1] != "8" || a != b {
		t.Errorf("identity ids %q, %q: want one stable version 8 UUID", a, b)
	}
	if devIdPIdentityID("bob@example.com") == a {
		t.Error("two users share an identity id")
	}
	if _, ok := kratosSessionID(a); !ok {
		t.Error("the client refuses the dev IdP's identity id form")
	}
}

// sessionStoreTest is a sequence of store operations on one clock.
func TestDevIdPSessionStore(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := &devIdPUser{id: devIdPIdentityID("a@example.com"), email: "a@example.com"}
	st := newDevIdPSessions(3)

	tok1, s1, err := st.create(u, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok1) != 43 || tok1 == s1.id {
		t.Fatalf("token %q for session %q", tok1, s1.id)
	}
	if got, ok := st.byToken(tok1, now); !ok || got.id != s1.id {
		t.Errorf("byToken: %v %v", got.id, ok)
	}
	if _, ok := st.byToken(s1.id, now); ok {
		t.Error("the session id opens the session")
	}
	if _, ok := st.byToken(tok1, now.Add(time.Hour)); ok {
		t.Error("an expired session opens")
	}
	if s, ok := st.get(s1.id); !ok || !s.active {
		t.Error("get after expiry time but before a sweep should still show it")
	}

	// Revoked: no longer opens, still shown inactive by id.
	tok2, s2, _ := st.create(u, now, time.Hour)
	if !st.revoke(s2.id) {
		t.Fatal("revoke")
	}
	if _, ok := st.byToken(tok2, now); ok {
		t.Error("a revoked session opens")
	}
	if s, ok := st.get(s2.id); !ok || s.active {
		t.Errorf("revoked session by id: %v active=%v", ok, s.active)
	}
	if id, ok := st.revokeToken(tok2); ok {
		t.Errorf("revokeToken on a revoked session: %s", id)
	}

	// Full: revoked sessions go first, then the store refuses.
	if _, _, err := st.create(u, now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.create(u, now, time.Hour); err != nil {
		t.Fatalf("the revoked session should have made room: %v", err)
	}
	if _, ok := st.get(s2.id); ok {
		t.Error("the revoked session was kept while full")
	}
	if _, _, err := st.create(u, now, time.Hour); err != errDevIdPFull {
		t.Errorf("full store: %v", err)
	}

	// A minute later the sweep drops what has expired.
	later := now.Add(time.Hour + time.Minute)
	if _, _, err := st.create(u, later, time.Hour); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := st.len(); n != 1 {
		t.Errorf("%d sessions after the sweep, want 1", n)
	}
}
