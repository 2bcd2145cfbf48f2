package logview

import (
	"crypto/tls"
	"net/http"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// ClientTransport is the HTTP transport of a client of the supervisors' log servers
// (sparsectl logs, the nimbus's web UI). It uses no proxy: the servers are the
// cluster's own. With st (the cluster's TLS; nil for none) it checks that the server is
// a supervisor of the cluster and speaks HTTP/1.1 only, as the log servers do: a
// follow is one long response that HTTP/2 would gain nothing from.
func ClientTransport(st *tlsconf.Store) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if st != nil {
		tc := st.ClientConfig(tlsconf.RoleSupervisor, false).Clone()
		tc.NextProtos = []string{"http/1.1"}
		tr.TLSClientConfig = tc
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return tr
}
