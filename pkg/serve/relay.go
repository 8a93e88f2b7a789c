package serve

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Relay mode (DESIGN §5, the seed design): receivers share the HMAC secret.
// Each one verifies a handoff, sets its cookie, then mints the next
// receiver's handoff itself (iss = its own origin, aud = the next
// receiver) and sends the browser straight on; the last one sends it to
// return_to. It saves the trips back to the issuer and gives up the hub's
// one signer: every receiver holds the key, so any of them can sign anyone
// in at any other (trace reports SSO107).

// receiverRelay is a relay receiver's place on the walk.
type receiverRelay struct {
	next *chain.Receiver // nil: the last receiver, or hub mode
	key  *token.Key      // mints next's handoff
}

// setupRelay finds the receiver's neighbours on a relay walk: the verifier
// also takes handoffs minted by the one before, and the one after needs a
// signing key here. In hub mode it changes nothing.
func (rc *Receiver) setupRelay(key *token.Key) (issuers []string, err error) {
	prev, next := rc.cfg.Chain.RelayNeighbours(rc.self.Name)
	if prev != nil {
		issuers = append(issuers, strings.TrimSuffix(prev.URL, "/"))
	}
	if next == nil {
		return issuers, nil
	}
	if key == nil || !key.CanSign() {
		return nil, errors.New("receiver: relay mode needs the chain's signing key to mint the next hop's handoff (token.secret)")
	}
	rc.relay = receiverRelay{next: next, key: key}
	return issuers, nil
}

// relayOn sends the browser to the next receiver with a handoff minted
// here, carrying the login's sub, sid, chn and ret on. It reports false
// when there is no next receiver and the caller goes on to ret.
func (rc *Receiver) relayOn(w http.ResponseWriter, r *http.Request, c *token.Claims) bool {
	next := rc.relay.next
	if next == nil {
		return false
	}
	tok, _, err := token.Mint(rc.relay.key, token.MintOptions{
		Issuer: rc.origin, Audience: next.Name, Subject: c.Subject, SessionID: c.SessionID,
		TTL: rc.cfg.Chain.Token.TTL, Chain: c.Chain, Return: c.Return, Now: rc.cfg.Now,
	})
	if err != nil {
		rc.cfg.Logger.Error("minting the relay handoff failed", "chn", c.Chain, "aud", next.Name, "err", err)
		writeError(w, r, errorPage{Status: http.StatusInternalServerError, Title: "Sign-in failed",
			Message: "This site signed you in but could not hand the sign-in on to " + hostOf(next.URL) + ".",
			Role:    rc.self.Name + " (receiver)"})
		return true
	}
	Annotate(w, slog.String("relay_to", next.Name))
	if rc.cfg.Metrics != nil {
		rc.cfg.Metrics.Handoff(rc.self.Name, "minted", "")
	}
	target := strings.TrimSuffix(next.URL, "/")
	if rc.cfg.Chain.Token.Transport == chain.TransportFormPost {
		writeInterstitial(w, target+chain.SSOPath, target, rc.formAction, tok)
		return true
	}
	http.Redirect(w, r, target+chain.SSOPath+"?"+url.Values{chain.TokenParam: {tok}}.Encode(), http.StatusSeeOther)
	return true
}
