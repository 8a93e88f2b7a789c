package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// RemoteJWKS is a KeySource backed by a published JWK Set, fetched over
// HTTPS and cached. An unknown kid triggers a refetch (at most once per
// minimum refresh interval), so a receiver picks up a rotated key without a
// restart while a flood of made-up kids cannot turn it into a request
// amplifier against the issuer.
//
// One fetch runs at a time, and no lookup waits for it that does not need
// it: while the set is refetched, tokens whose key the last set holds
// verify against it (within the stale limit), so a slow or hanging issuer
// delays the lookups that started or need the fetch, never every handoff.
type RemoteJWKS struct {
	url        string
	client     *http.Client
	ttl        time.Duration
	minRefresh time.Duration
	maxStale   time.Duration
	now        func() time.Time

	mu          sync.Mutex // never held across a fetch
	ring        *KeyRing
	fetched     time.Time // when ring was fetched
	lastAttempt time.Time
	lastErr     error
	inflight    *jwksFetch // the fetch under way; nil when none
}

// jwksFetch is one fetch of the set, shared by the lookups that wait on it.
type jwksFetch struct {
	done chan struct{} // closed when err is set and the result applied
	err  error
}

// jwksFetchTimeout bounds a fetch whatever the HTTP client allows: it runs
// detached from the lookup that started it, so a caller that gives up does
// not cut it short for the others.
const jwksFetchTimeout = 10 * time.Second

// JWKSOption configures a RemoteJWKS.
type JWKSOption func(*RemoteJWKS)

// WithHTTPClient sets the client used for fetches (its Transport decides
// where host names resolve; tests map them onto loopback).
func WithHTTPClient(c *http.Client) JWKSOption { return func(r *RemoteJWKS) { r.client = c } }

// WithCacheTTL sets how long a fetched set is used before it is refetched.
// The default is 5 minutes.
func WithCacheTTL(d time.Duration) JWKSOption { return func(r *RemoteJWKS) { r.ttl = d } }

// WithMinRefresh sets the least time between two fetches caused by unknown
// kids. The default is 10 seconds.
func WithMinRefresh(d time.Duration) JWKSOption { return func(r *RemoteJWKS) { r.minRefresh = d } }

// WithMaxStale bounds how long the last good set keeps verifying while
// refetches fail. The default is one hour.
func WithMaxStale(d time.Duration) JWKSOption { return func(r *RemoteJWKS) { r.maxStale = d } }

// WithJWKSClock sets the clock. The primary use-case for this is testing.
func WithJWKSClock(now func() time.Time) JWKSOption { return func(r *RemoteJWKS) { r.now = now } }

// NewRemoteJWKS returns a KeySource for the set at rawURL. The URL must be
// https, except on loopback and *.localhost hosts, where http is allowed for
// development: keys fetched over plain http could be swapped in transit.
func NewRemoteJWKS(rawURL string, opts ...JWKSOption) (*RemoteJWKS, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("JWKS URL %q is not an absolute URL", rawURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("JWKS URL %q is plain http; keys must come over https (http is allowed only for loopback and *.localhost)", rawURL)
		}
	default:
		return nil, fmt.Errorf("JWKS URL %q must be https", rawURL)
	}
	r := &RemoteJWKS{
		url:        u.String(),
		client:     &http.Client{Timeout: 10 * time.Second},
		ttl:        5 * time.Minute,
		minRefresh: 10 * time.Second,
		maxStale:   time.Hour,
		now:        time.Now,
	}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// IsLoopbackHost reports whether host is localhost, a *.localhost name
// (RFC 6761 §6.3) or a loopback IP literal.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// VerificationKey implements KeySource.
func (r *RemoteJWKS) VerificationKey(ctx context.Context, kid string) (*Key, error) {
	r.mu.Lock()
	now := r.now()
	fresh := r.ring != nil && now.Sub(r.fetched) < r.ttl
	if fresh {
		k, err := r.ring.VerificationKey(ctx, kid)
		if err == nil || !errors.Is(err, ErrKidUnknown) || now.Sub(r.lastAttempt) < r.minRefresh {
			r.mu.Unlock()
			return k, err
		}
	}
	f := r.inflight
	switch {
	case f == nil && !fresh && now.Sub(r.lastAttempt) < r.minRefresh && r.lastErr != nil:
		// A recent fetch failed; keep serving the keys we have (or the
		// failure, when we have none) rather than hammering a struggling
		// issuer with one fetch per incoming token.
		defer r.mu.Unlock()
		return r.stale(ctx, kid, now, r.lastErr)
	case f == nil:
		r.lastAttempt = now
		f = &jwksFetch{done: make(chan struct{})}
		r.inflight = f
		go r.run(ctx, f, now)
	case !fresh:
		// Another lookup is refetching an expired set. Rather than wait
		// on the issuer, use the last set when it still holds the key:
		// it would be served just the same if the fetch failed.
		if k, err := r.stale(ctx, kid, now, ErrKeysUnavailable); err == nil {
			r.mu.Unlock()
			return k, nil
		}
	}
	r.mu.Unlock()

	// A caller that has given up gets the failure even when the fetch
	// happens to finish at the same moment: select picks at random
	// among ready cases, and the answer should not.
	select {
	case <-f.done:
	case <-ctx.Done():
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: waiting for %s: %v", ErrKeysUnavailable, r.url, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.err != nil {
		return r.stale(ctx, kid, now, f.err)
	}
	return r.ring.VerificationKey(ctx, kid)
}

// run fetches the set for f, begun at start, and applies the result.
func (r *RemoteJWKS) run(ctx context.Context, f *jwksFetch, start time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	ring, err := r.fetch(ctx)
	r.mu.Lock()
	r.lastErr = err
	if err == nil {
		r.ring, r.fetched = ring, start
	}
	r.inflight = nil
	f.err = err
	r.mu.Unlock()
	close(f.done)
}

// stale answers from the last good set while the issuer cannot be reached,
// for at most maxStale after it was fetched: long enough to ride out an
// outage, short enough that a key the issuer withdrew (say, compromised)
// stops verifying even if its JWKS endpoint stays down.
func (r *RemoteJWKS) stale(ctx context.Context, kid string, now time.Time, fetchErr error) (*Key, error) {
	if r.ring == nil {
		return nil, fetchErr
	}
	if age := now.Sub(r.fetched); age > r.maxStale {
		return nil, fmt.Errorf("the last good key set is %s old, over the %s limit, and refetching failed: %w", age.Round(time.Second), r.maxStale, fetchErr)
	}
	return r.ring.VerificationKey(ctx, kid)
}

func (r *RemoteJWKS) fetch(ctx context.Context) (*KeyRing, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching %s: %v", ErrKeysUnavailable, r.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrKeysUnavailable, r.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrKeysUnavailable, r.url, err)
	}
	if len(body) > maxKeyFile {
		return nil, fmt.Errorf("%w: %s sent over %d bytes", ErrKeysUnavailable, r.url, maxKeyFile)
	}
	keys, _, err := ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeysUnavailable, r.url, err)
	}
	return NewKeyRing(keys...)
}
