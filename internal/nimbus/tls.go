package nimbus

import (
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// APIRoles are the certificates the nimbus API accepts: other nimbus (replication),
// supervisors (artifact fetch), operators, and workers, which may only report their
// statistics (admitWorker refuses them every other call). A client may also come without
// a certificate, holding only the CA (who may do what is then the ACLs' business).
var APIRoles = []tlsconf.Role{tlsconf.RoleServer, tlsconf.RoleSupervisor, tlsconf.RoleClient, tlsconf.RoleWorker}

// checkTLS: a nimbus with TLS presents a server certificate; without TLS it listens
// on loopback only, unless --insecure.
func (c Config) checkTLS() error {
	if c.TLS != nil {
		if !c.TLS.HasCert() {
			return errors.New("nimbusd with --tls-ca needs its certificate too: pass --tls-cert and --tls-key (sparsectl tls cert create --server)")
		}
		if id := c.TLS.Identity(); id.Role != tlsconf.RoleServer {
			return fmt.Errorf("--tls-cert names %s, a %s; nimbusd needs a server certificate (sparsectl tls cert create --server)", id, id.Role)
		}
	}
	_, err := tlsconf.CheckAPIListen("nimbusd --listen", c.Listen, c.TLS != nil, c.ACL, c.Insecure)
	return err
}

// warnInsecure logs, now and hourly, that the API runs without TLS off loopback.
func (s *Server) warnInsecure() {
	if warn, _ := tlsconf.CheckAPIListen("", s.cfg.Listen, s.cfg.TLS != nil, s.cfg.ACL, s.cfg.Insecure); warn {
		tlsconf.WarnInsecure(s.ctx, s.log, "nimbusd --listen "+s.cfg.Listen)
	}
}

// serverCreds are the API's transport credentials.
func (s *Server) serverCreds() grpc.ServerOption {
	if s.cfg.TLS == nil {
		return grpc.Creds(insecure.NewCredentials())
	}
	return grpc.Creds(s.cfg.TLS.ServerCredentials(false, APIRoles...))
}

// dialCreds are the credentials of calls to other nimbus: this nimbus's certificate, and
// theirs checked for the server role of the same cluster (their addresses come from etcd,
// so the role, not the host name, is what identifies them).
func (s *Server) dialCreds() credentials.TransportCredentials {
	if s.cfg.TLS == nil {
		return insecure.NewCredentials()
	}
	return s.cfg.TLS.ClientCredentials(tlsconf.RoleServer, false)
}
