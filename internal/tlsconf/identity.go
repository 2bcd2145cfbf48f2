// Package tlsconf is sparse's TLS: the identities carried by certificates (a role and a
// cluster), the server and client configurations of every gRPC connection, with
// certificates reloaded in place, a small PKI for test and small clusters, and the rule
// that a daemon listening off loopback runs with TLS unless told --insecure.
package tlsconf

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Role is what a certificate's holder is in a sparse cluster.
type Role string

// The roles. A nimbus presents its server certificate as a client too, when it copies
// artifacts from another nimbus.
const (
	RoleServer     Role = "server"     // nimbusd
	RoleSupervisor Role = "supervisor" // supervisord
	RoleWorker     Role = "worker"     // worker processes
	RoleClient     Role = "client"     // operators: sparsectl
)

// Roles lists every role, in a stable order.
var Roles = []Role{RoleServer, RoleSupervisor, RoleWorker, RoleClient}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// URIScheme is the scheme of the URI SAN naming a certificate's identity:
// sparse://<cluster>/<role>/<name>.
const URIScheme = "sparse"

// DefaultCluster is the cluster name of certificates made without one.
const DefaultCluster = "sparse"

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidateName checks a cluster or holder name: letters, digits, '.', '_' and '-', at
// most 63 characters, so that it fits in a URI path segment unescaped.
func ValidateName(what, s string) error {
	if !namePattern.MatchString(s) {
		return fmt.Errorf("%s %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", what, s)
	}
	return nil
}

// Identity is who a certificate names.
type Identity struct {
	Cluster string
	Role    Role
	Name    string
}

// URI is the identity as the URI SAN of its certificate.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: URIScheme, Host: id.Cluster, Path: "/" + string(id.Role) + "/" + id.Name}
}

func (id Identity) String() string { return id.URI().String() }

// Validate checks every part of the identity.
func (id Identity) Validate() error {
	if !id.Role.Valid() {
		return fmt.Errorf("role %q is not one of server, supervisor, worker, client", id.Role)
	}
	return errors.Join(ValidateName("cluster", id.Cluster), ValidateName("name", id.Name))
}

// ErrNoIdentity is returned for a certificate that carries no sparse identity.
var ErrNoIdentity = errors.New("the certificate carries no sparse identity (a URI SAN sparse://<cluster>/<role>/<name>); make it with sparsectl tls cert create")

// IdentityOf reads the identity of a certificate from its sparse:// URI SAN.
func IdentityOf(c *x509.Certificate) (Identity, error) {
	for _, u := range c.URIs {
		if u.Scheme != URIScheme {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
		if len(parts) != 2 {
			return Identity{}, fmt.Errorf("certificate URI %q is not sparse://<cluster>/<role>/<name>", u)
		}
		id := Identity{Cluster: u.Host, Role: Role(parts[0]), Name: parts[1]}
		if err := id.Validate(); err != nil {
			return Identity{}, fmt.Errorf("certificate URI %q: %w", u, err)
		}
		return id, nil
	}
	return Identity{}, ErrNoIdentity
}

// CheckPeer checks a peer's identity against the roles a service accepts and against
// this side's cluster (empty: any cluster, for a client holding no certificate of its
// own). The error names the problem for the local log.
func CheckPeer(c *x509.Certificate, cluster string, accept ...Role) (Identity, error) {
	id, err := IdentityOf(c)
	if err != nil {
		return id, err
	}
	if cluster != "" && id.Cluster != cluster {
		return id, fmt.Errorf("peer %s belongs to cluster %q, not %q", id, id.Cluster, cluster)
	}
	for _, r := range accept {
		if id.Role == r {
			return id, nil
		}
	}
	return id, fmt.Errorf("peer %s has role %s; only %s may connect here", id, id.Role, joinRoles(accept))
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// PeerIdentity is the verified identity of the peer of a gRPC call or stream, when it
// came over TLS with a client certificate.
func PeerIdentity(ctx context.Context) (Identity, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Identity{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.PeerCertificates) == 0 {
		return Identity{}, false
	}
	id, err := IdentityOf(info.State.PeerCertificates[0])
	return id, err == nil
}

// PeerIsTLS reports whether a gRPC call came over TLS.
func PeerIsTLS(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	_, ok = p.AuthInfo.(credentials.TLSInfo)
	return ok
}
