package serve

import (
	"errors"
	"fmt"
	"net/http"

	client "github.com/ory/client-go"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// NewHydraLoginFromChain builds the login, consent and logout pages an
// OIDC dev chain's idp.hydra_login asks for: the dev IdP's users, reached
// by Ory Hydra's browser redirects, accepting challenges through Hydra's
// admin API at hydra_login.admin_url (devidp_hydra.go).
func NewHydraLoginFromChain(c *chain.Chain, env Env) (http.Handler, error) {
	h := c.IdP.HydraLogin
	if c.IdP.Kind != chain.IdPOIDC || h == nil {
		return nil, errors.New("hydra login: the chain has no idp.hydra_login")
	}
	env.defaults()
	cfg := DevIdPConfig{
		Name: c.Name, PublicURL: h.URL,
		// An accepted login redirects the browser on to Hydra.
		FormAction: []string{devIdPOrigin(c.IdP.PublicURL)},
		Now:        env.Now, Logger: env.Logger.With("role", "hydra-login"),
	}
	for i, u := range c.IdP.Users {
		pw, err := u.Password.Resolve(env.LookupEnv, env.ReadFile)
		if err != nil {
			return nil, fmt.Errorf("hydra login: idp.users[%d].password: %w", i, err)
		}
		cfg.Users = append(cfg.Users, DevUser{Email: u.Email, Password: pw, Role: u.Role, Traits: u.Traits, MetadataAdmin: u.MetadataAdmin})
	}
	d, err := NewDevIdP(cfg)
	if err != nil {
		return nil, fmt.Errorf("hydra login: %w", err)
	}
	conf := client.NewConfiguration()
	conf.Servers = client.ServerConfigurations{{URL: h.AdminURL}}
	conf.HTTPClient = env.HTTPClient
	return d.HydraProvider(client.NewAPIClient(conf).OAuth2API, c.IdP.PublicURL), nil
}
