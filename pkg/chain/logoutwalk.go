package chain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// LogoutOptions configure Browser.Logout.
type LogoutOptions struct {
	// Deadline is how long after GET /logout every receiver's /auth must
	// answer 401 for the copy of its cookie; 0 is DefaultLogoutDeadline.
	Deadline time.Duration
	// Poll is the wait between two rounds of /auth; 0 is 25ms.
	Poll time.Duration
	// Advance moves the roles' clock (the sandbox's). With it, a receiver
	// still signed in at the deadline is asked again past its
	// recheck_interval, to say whether the IdP re-check would sign it out
	// later. Nil: it is not asked.
	Advance func(time.Duration)
	// Repeat is how many 401 or 403 answers in a row, each on a new
	// connection, sign a receiver out; 0 is DefaultProbeRepeat. A 2xx
	// among them starts the count again: one instance behind a load
	// balancer revoked the session, another did not.
	Repeat int
}

// LogoutResult is what trace chain --logout saw.
type LogoutResult struct {
	Start       string  `json:"start"` // the issuer's /logout (redacted)
	Final       string  `json:"final"` // where the logout walk ended (redacted)
	FinalStatus int     `json:"final_status"`
	ElapsedMS   float64 `json:"elapsed_ms"` // the logout walk
	DeadlineMS  float64 `json:"deadline_ms"`
	Steps       []Step  `json:"steps"`
	// Receivers is one entry per receiver that takes a handoff, in chain
	// order.
	Receivers []LogoutReceiver `json:"receivers"`
	Error     string           `json:"error,omitempty"` // why the check could not run
}

// LogoutReceiver is one receiver's answer to the copy of its cookie after
// the logout.
type LogoutReceiver struct {
	Name        string `json:"name"`
	Host        string `json:"host"`
	Backchannel bool   `json:"backchannel"` // what the chain file says
	// SignedOut: /auth answered 401 or 403 LogoutOptions.Repeat times in
	// a row within the deadline.
	SignedOut bool `json:"signed_out"`
	// LagMS is the time from GET /logout to the first 401 or 403 of that
	// run; for a receiver still signed in, the deadline.
	LagMS  float64 `json:"lag_ms"`
	Status int     `json:"status"` // /auth's last answer; 0 when it could not be asked
	// Attempts is how many times /auth was asked within the deadline,
	// each on a new connection.
	Attempts int `json:"attempts,omitzero"`
	// AfterRecheck is /auth's answer once the roles' clock was moved past
	// recheck_interval (sandbox only, for a receiver still signed in at
	// the deadline); 0 when not asked.
	AfterRecheck int    `json:"after_recheck,omitzero"`
	Detail       string `json:"detail,omitempty"`
}

// Logout checks that logging out at the issuer signs the user out on every
// receiver (DESIGN §5), after a walk t that signed in: it copies each
// receiver's cookie from the jar (the same session in another browser),
// walks the issuer's /logout as the browser, then asks every receiver's
// /auth with the copied cookie, each time on a new connection, until it
// answers 401 or 403 o.Repeat times in a row or the deadline passes. Each
// receiver gets an Expectation logout[<name>] with its lag; one
// still answering 2xx at the deadline is an SSO403 finding. The result is
// t.Logout. It needs a Chain.
func (b *Browser) Logout(ctx context.Context, t *Trace, o LogoutOptions) error {
	if b.chain == nil {
		return errors.New("trace: --logout needs the chain file (-f), which names the issuer and the receivers")
	}
	if o.Deadline <= 0 {
		o.Deadline = DefaultLogoutDeadline
	}
	if o.Poll <= 0 {
		o.Poll = 25 * time.Millisecond
	}
	if o.Repeat <= 0 {
		o.Repeat = DefaultProbeRepeat
	}
	start := strings.TrimSuffix(b.chain.Issuer.URL, "/") + LogoutPath
	res := &LogoutResult{Start: start, DeadlineMS: ms(o.Deadline), Steps: []Step{}, Receivers: []LogoutReceiver{}}
	t.Logout = res

	type probe struct {
		i      int
		origin string
		cookie string
		// flip is the first 2xx /auth gave right after a 401 or 403
		// (refused); 0 when none did.
		flip, refused int
	}
	var probes []*probe
	for _, r := range b.chain.Receivers {
		if r.SharedCookie {
			continue
		}
		u, err := url.Parse(strings.TrimSuffix(r.URL, "/") + "/auth")
		if err != nil {
			continue
		}
		lr := LogoutReceiver{Name: r.Name, Host: u.Host, Backchannel: r.Backchannel()}
		var pairs []string
		for _, c := range b.jar.Cookies(u) {
			pairs = append(pairs, c.Name+"="+c.Value)
		}
		res.Receivers = append(res.Receivers, lr)
		if len(pairs) == 0 {
			res.Receivers[len(res.Receivers)-1].Detail = "the browser held no cookie for it before the logout, so there is nothing to sign out"
			continue
		}
		probes = append(probes, &probe{i: len(res.Receivers) - 1, origin: u.String(), cookie: strings.Join(pairs, "; ")})
	}

	began := time.Now()
	lt, err := b.Walk(ctx, start)
	if lt != nil {
		res.Steps, res.Final, res.FinalStatus, res.ElapsedMS = lt.Steps, lt.Final, lt.FinalStatus, lt.ElapsedMS
		for _, f := range lt.Findings {
			f.Detail = fmt.Sprintf("during logout (step %d of the logout walk): %s", f.Step, f.Detail)
			f.Step = 0
			t.Findings = append(t.Findings, f)
		}
		if lt.Unreachable != "" {
			res.Error = lt.Unreachable + " is unreachable; the logout walk stopped there"
		}
	}
	if err != nil {
		res.Error = err.Error()
		return err
	}

	// The copies go out without the jar: the browser that logged out has
	// dropped them, a second browser has not. Each on a new connection, so
	// that a load balancer in front of several instances picks again.
	client := &http.Client{Transport: newConnections{b.rt}, Timeout: b.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ask := func(p *probe) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.origin, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set("Cookie", p.cookie)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	signedOut := func(status int) bool { return status == http.StatusUnauthorized || status == http.StatusForbidden }
	// ask1 asks once and records the answer.
	ask1 := func(p *probe) int {
		lr := &res.Receivers[p.i]
		status, err := ask(p)
		lr.Status = status
		lr.Attempts++
		if err != nil {
			lr.Detail = "its /auth could not be asked: " + transportError(&request{method: http.MethodGet, url: mustParse(p.origin)}, err, b.now())
		}
		return status
	}
	pending := probes
	for len(pending) > 0 {
		var still []*probe
		for _, p := range pending {
			lr := &res.Receivers[p.i]
			status := ask1(p)
			if !signedOut(status) {
				still = append(still, p)
				continue
			}
			// The first 401 of a run: the lag, if the rest of the run
			// agrees at once.
			lag := ms(time.Since(began))
			run := 1
			for run < o.Repeat {
				again := ask1(p)
				if !signedOut(again) {
					if authSignedIn(again) && p.flip == 0 {
						p.flip, p.refused = again, status
					}
					break
				}
				run++
			}
			if run < o.Repeat {
				still = append(still, p)
				continue
			}
			lr.SignedOut, lr.LagMS, lr.Detail = true, lag, ""
			if p.flip != 0 {
				lr.Detail = fmt.Sprintf("it answered %d, then %d on another attempt, before %d answers of 401 or 403 in a row: %s",
					p.refused, p.flip, o.Repeat, notShared("revocations"))
			}
		}
		pending = still
		if len(pending) == 0 || time.Since(began) >= o.Deadline {
			break
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return err
		}
	}
	if len(pending) > 0 && o.Advance != nil {
		var longest time.Duration
		for _, p := range pending {
			if r, ok := b.chain.Receiver(res.Receivers[p.i].Name); ok {
				longest = max(longest, r.RecheckInterval)
			}
		}
		o.Advance(longest + time.Second)
		for _, p := range pending {
			if status, err := ask(p); err == nil {
				res.Receivers[p.i].AfterRecheck = status
			}
		}
	}
	for _, p := range pending {
		lr := &res.Receivers[p.i]
		lr.LagMS = ms(o.Deadline)
		if lr.Status < 200 || lr.Status > 299 {
			if lr.Detail == "" {
				lr.Detail = fmt.Sprintf("its /auth answered %d, which says neither signed in nor not", lr.Status)
			}
			continue
		}
		how := "its back-channel endpoint did not revoke the session"
		if !lr.Backchannel {
			how = "it has no back-channel logout (backchannel_logout: false), so the issuer never told it"
		}
		if p.flip != 0 {
			how = fmt.Sprintf("it answered %d, then %d on another attempt: %s", p.refused, p.flip, notShared("revocations"))
		}
		r, _ := b.chain.Receiver(lr.Name)
		later := fmt.Sprintf("it relies on its IdP re-check, up to recheck_interval (%s) late", r.RecheckInterval)
		switch {
		case lr.AfterRecheck == http.StatusUnauthorized || lr.AfterRecheck == http.StatusForbidden:
			later = fmt.Sprintf("only past its recheck_interval (%s) did the IdP re-check sign it out", r.RecheckInterval)
		case lr.AfterRecheck != 0:
			later = fmt.Sprintf("even past its recheck_interval (%s) /auth answered %d", r.RecheckInterval, lr.AfterRecheck)
		}
		lr.Detail = fmt.Sprintf("%s's /auth still answered %d for the session's cookie %s after GET /logout: %s; %s",
			lr.Name, lr.Status, o.Deadline, how, later)
		t.Findings = append(t.Findings, FindingSignedInAfterLogout.New(0, lr.Host, "%s", lr.Detail))
	}
	for _, p := range probes {
		lr := res.Receivers[p.i]
		x := Expectation{Name: "logout[" + lr.Name + "]", Want: "401 from /auth within " + o.Deadline.String(), OK: lr.SignedOut}
		if lr.SignedOut {
			x.Got = fmt.Sprintf("%d after %s", lr.Status, shortLag(lr.LagMS))
		} else {
			x.Got = fmt.Sprintf("%d after %s", lr.Status, o.Deadline)
		}
		t.Expectations = append(t.Expectations, x)
	}
	return nil
}

func mustParse(raw string) *url.URL { u, _ := url.Parse(raw); return u }

// shortLag renders a lag in milliseconds for people: "12ms", "1.4s".
func shortLag(msec float64) string {
	d := time.Duration(msec * float64(time.Millisecond))
	if d < time.Second {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
