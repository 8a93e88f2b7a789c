package token

import (
	"context"
	"fmt"
	"strings"
)

// KeySource finds the key that should verify a token. A KeyRing is the static
// source; RemoteJWKS fetches and caches a published key set.
type KeySource interface {
	// VerificationKey returns the key named kid. An empty kid asks for the
	// only key, and fails with ErrKidMissing when there is more than one.
	// Unknown kids fail with ErrKidUnknown; an unreachable source with an
	// error wrapping ErrKeysUnavailable.
	VerificationKey(ctx context.Context, kid string) (*Key, error)
}

// KeyRing holds keys by kid, each pinned to its algorithm, and names one of
// them active for minting. Verifying with every key of the ring while minting
// with one is what lets a deployment rotate keys without downtime: add the
// new key, make it active, drop the old key after the longest token lifetime.
type KeyRing struct {
	keys   []*Key
	active *Key
}

// NewKeyRing builds a ring. The first key that can sign becomes active; kids
// must be unique.
func NewKeyRing(keys ...*Key) (*KeyRing, error) {
	r := &KeyRing{}
	for _, k := range keys {
		if err := r.Add(k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add puts k into the ring. It becomes active if no signing key was active.
func (r *KeyRing) Add(k *Key) error {
	if k == nil {
		return fmt.Errorf("nil key")
	}
	for _, have := range r.keys {
		if have.id == k.id {
			return fmt.Errorf("two keys have kid %q; each key in a ring needs its own kid", k.id)
		}
	}
	r.keys = append(r.keys, k)
	if r.active == nil && k.CanSign() {
		r.active = k
	}
	return nil
}

// SetActive makes the key named kid the one Mint uses.
func (r *KeyRing) SetActive(kid string) error {
	for _, k := range r.keys {
		if k.id == kid {
			if !k.CanSign() {
				return fmt.Errorf("key %q is a public key and cannot sign", kid)
			}
			r.active = k
			return nil
		}
	}
	return fmt.Errorf("no key with kid %q in the ring (have: %s)", kid, r.kids())
}

// Active returns the signing key, or nil if the ring holds only public keys.
func (r *KeyRing) Active() *Key { return r.active }

// Keys returns the keys in the order they were added.
func (r *KeyRing) Keys() []*Key { return append([]*Key(nil), r.keys...) }

// VerificationKey implements KeySource.
func (r *KeyRing) VerificationKey(_ context.Context, kid string) (*Key, error) {
	if kid == "" {
		if len(r.keys) == 1 {
			return r.keys[0], nil
		}
		return nil, &Failure{Reason: ErrKidMissing, Detail: fmt.Sprintf("token has no kid and the ring holds %d keys (%s)", len(r.keys), r.kids())}
	}
	for _, k := range r.keys {
		if k.id == kid {
			return k, nil
		}
	}
	return nil, &Failure{Reason: ErrKidUnknown, Detail: fmt.Sprintf("kid %q is not in the key ring (have: %s)", kid, r.kids())}
}

func (r *KeyRing) kids() string {
	if len(r.keys) == 0 {
		return "no keys"
	}
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return strings.Join(ids, ", ")
}
