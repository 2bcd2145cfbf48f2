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
	return CheckAPIListen(what, addr, tlsOn, true, insecure)
}

// CheckAPIListen is CheckListen for a process that serves the nimbus API, where
// secure means TLS and API tokens (aclOn) both: either alone still lets anyone who
// reaches the port submit code (no tokens), or read the tokens on the wire (no TLS).
func CheckAPIListen(what, addr string, tlsOn, aclOn, insecure bool) (bool, error) {
	if (tlsOn && aclOn) || IsLoopback(addr) {
		return false, nil
	}
	if insecure {
		return true, nil
	}
	var off, fix []string
	if !tlsOn {
		off, fix = append(off, "TLS is off"), append(fix, "--tls-ca, --tls-cert and --tls-key")
	}
	if !aclOn {
		off, fix = append(off, "API tokens are off"), append(fix, "--acl")
	}
	return false, fmt.Errorf("%s %s is not a loopback address and %s: anyone who reaches it could run code on the cluster; pass %s (see docs/security.md), or --insecure to accept that",
		what, addr, strings.Join(off, " and "), strings.Join(fix, " and "))
}

// WarnInsecure logs that the process runs insecurely off loopback, now and every
// InsecureWarnEvery until ctx ends.
func WarnInsecure(ctx context.Context, log hclog.Logger, what string) {
	warn := func() {
		log.Warn("running with --insecure on a non-loopback address, without the TLS (and, for nimbus, the API tokens) that would keep others out; anyone who can reach it can use it", "listener", what)
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
