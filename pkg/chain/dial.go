package chain

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// Dialer connects to a chain's hosts the way a browser on this machine
// would, without touching DNS or /etc/hosts: "name.localhost" is loopback
// (RFC 6761 §6.3, as in Chromium and Firefox, which Go's resolver does not
// do), and Map sends named host:port pairs anywhere, like curl's --resolve.
// Every other address is dialled normally.
type Dialer struct {
	// Map sends "host:port" to another "addr:port" (a listener on loopback,
	// say). Keys are compared case-insensitively.
	Map map[string]string
	// Strict refuses addresses that neither Map nor the .localhost rule
	// covers, so a test can never reach the real network by mistake.
	Strict bool
	// Base dials; nil means a zero net.Dialer.
	Base *net.Dialer
}

// DialContext implements the signature of http.Transport.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	target, err := d.Resolve(addr)
	if err != nil {
		return nil, err
	}
	base := d.Base
	if base == nil {
		base = &net.Dialer{}
	}
	return base.DialContext(ctx, network, target)
}

// Resolve returns where addr ("host:port") is dialled.
func (d *Dialer) Resolve(addr string) (string, error) {
	if to, ok := d.Map[strings.ToLower(addr)]; ok {
		return to, nil
	}
	for from, to := range d.Map {
		if strings.EqualFold(from, addr) {
			return to, nil
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	if d.Strict {
		return "", fmt.Errorf("no mapping for %s: only mapped hosts and *.localhost are reachable here", addr)
	}
	return addr, nil
}
