package cluster

import "github.com/spf13/pflag"

// AddFlags declares the flags with which a daemon reaches a secured etcd on f, filling s.
// They are named as etcdctl names them (with an etcd- prefix), so that an operator's etcd
// set-up carries over.
func (s *Security) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&s.CACert, "etcd-cacert", "", "PEM file of the CA that signed etcd's server certificate (default with https:// endpoints: the system's roots)")
	f.StringVar(&s.Cert, "etcd-cert", "", "PEM file of the client certificate, for an etcd that checks client certificates")
	f.StringVar(&s.Key, "etcd-key", "", "PEM file of the private key of --etcd-cert")
	f.StringVar(&s.User, "etcd-user", "", "etcd user, for an etcd with auth enabled; its password comes from --etcd-password-file, $"+PasswordEnv+" or --etcd-password")
	f.StringVar(&s.PasswordFile, "etcd-password-file", "", "file holding the password of --etcd-user")
	f.StringVar(&s.Password, "etcd-password", "", "password of --etcd-user; visible in the process list, prefer --etcd-password-file or $"+PasswordEnv)
}

// AddFlags declares the flags that make an embedded etcd serve TLS with client
// certificates on f, filling t; prefix is "etcd-" on nimbusd (--etcd-server-cert) and ""
// on sparsectl dev etcd (--server-cert).
func (t *ServerTLS) AddFlags(f *pflag.FlagSet, prefix string) {
	f.StringVar(&t.Cert, prefix+"server-cert", "", "PEM file of the embedded etcd's server certificate: with --"+prefix+"server-key and --"+prefix+"client-ca it serves only TLS and accepts only clients with a certificate")
	f.StringVar(&t.Key, prefix+"server-key", "", "PEM file of the private key of --"+prefix+"server-cert")
	f.StringVar(&t.ClientCA, prefix+"client-ca", "", "PEM file of the CA whose client certificates the embedded etcd accepts")
}
