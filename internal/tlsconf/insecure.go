package tlsconf

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// InsecureWarnEvery is how often a process running with --insecure off loopback says so.
const InsecureWarnEvery = time.Hour

// IsLoopback reports whether a listen address (host:port, or a bare host) is on the
// loopback interface only: localhost or a loopback IP. An empty host or 0.0.0.0 listens
// everywhere.
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen is the rule "secure by default off loopback": a process that listens
// (what, e.g. "nimbusd --listen") on a non-loopback address needs TLS, unless the
// operator passed --insecure. It returns whether the process runs insecurely off
// loopback (then call WarnInsecure), or an error that names the fix.
func CheckListen(what, addr string, tlsOn, insecure bool) (bool, error) {
	// ACLs: once API tokens exist, "secure" here becomes "TLS on and ACLs on" for the
	// processes that serve the nimbus API; add that condition beside tlsOn.
	secure := tlsOn
	if secure || IsLoopback(addr) {
		return false, nil
	}
	if insecure {
		return true, nil
	}
	return false, fmt.Errorf("%s %s is not a loopback address and TLS is off: anyone who reaches it could run code on the cluster; pass --tls-ca, --tls-cert and --tls-key (see docs/security.md), or --insecure to accept that", what, addr)
}

// WarnInsecure logs that the process runs without TLS off loopback, now and every
// InsecureWarnEvery until ctx ends.
func WarnInsecure(ctx context.Context, log hclog.Logger, what string) {
	warn := func() {
		log.Warn("running with --insecure: TLS is off on a non-loopback address; anyone who can reach it can use it", "listener", what)
	}
	warn()
	go func() {
		t := time.NewTicker(InsecureWarnEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				warn()
			}
		}
	}()
}
