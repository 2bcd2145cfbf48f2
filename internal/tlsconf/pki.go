package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Default validities of what the PKI makes.
const (
	DefaultCADays   = 5 * 365
	DefaultCertDays = 365
)

// KeyPair is a certificate and its private key, parsed and as PEM.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// CARequest describes a new CA.
type CARequest struct {
	Cluster  string        // named in the CA's subject; default DefaultCluster
	Validity time.Duration // default DefaultCADays
}

// NewCA makes a self-signed CA with an ECDSA P-256 key.
func NewCA(req CARequest) (*KeyPair, error) {
	if req.Cluster == "" {
		req.Cluster = DefaultCluster
	}
	if err := ValidateName("cluster", req.Cluster); err != nil {
		return nil, err
	}
	if req.Validity == 0 {
		req.Validity = DefaultCADays * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "sparse CA " + req.Cluster, Organization: []string{"sparse"}, OrganizationalUnit: []string{req.Cluster}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(req.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(tmpl, key, nil, nil)
}

// CertRequest describes a certificate for one holder.
type CertRequest struct {
	Identity Identity // Cluster defaults to DefaultCluster, Name to the role
	// Hosts are DNS names and IP addresses the holder serves on (a server's API
	// address); a server certificate always covers localhost, 127.0.0.1 and ::1.
	Hosts    []string
	Validity time.Duration // default DefaultCertDays
	// NotBefore defaults to a few minutes ago (tests make expired certificates with it).
	NotBefore time.Time
}

// NewCert makes a certificate for req signed by ca, with a new ECDSA P-256 key.
func NewCert(ca *KeyPair, req CertRequest) (*KeyPair, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, errors.New("no CA to sign with")
	}
	id := req.Identity
	if id.Cluster == "" {
		id.Cluster = DefaultCluster
	}
	if id.Name == "" {
		id.Name = string(id.Role)
	}
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if req.Validity == 0 {
		req.Validity = DefaultCertDays * 24 * time.Hour
	}
	if req.NotBefore.IsZero() {
		req.NotBefore = time.Now().Add(-5 * time.Minute)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         string(id.Role) + "." + id.Name + "." + id.Cluster,
			Organization:       []string{"sparse"},
			OrganizationalUnit: []string{string(id.Role)},
		},
		NotBefore: req.NotBefore,
		NotAfter:  req.NotBefore.Add(req.Validity),
		KeyUsage:  x509.KeyUsageDigitalSignature,
		URIs:      []*url.URL{id.URI()},
	}
	switch id.Role {
	case RoleServer, RoleWorker, RoleSupervisor:
		// Each serves and dials: a nimbus fetches from other nimbus, a worker sends to
		// peers, a supervisor serves its workers' logs (--logs-addr).
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	hosts := req.Hosts
	if id.Role == RoleServer {
		hosts = append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return sign(tmpl, key, ca.Cert, ca.Key)
}

// sign fills in the serial and key id and signs tmpl (self-signed when parent is nil).
func sign(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer) (*KeyPair, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("drawing a serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	ski := sha256.Sum256(pub)
	tmpl.SubjectKeyId = ski[:20]
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("signing the certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("reading back the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the key: %w", err)
	}
	return &KeyPair{
		Cert: cert, Key: key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// LoadKeyPair reads a PEM certificate and its PEM private key (a CA's, to sign with).
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading the key: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM CERTIFICATE block", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("%s holds no PEM key block", keyFile)
	}
	var key any
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: the key cannot sign", keyFile)
	}
	return &KeyPair{Cert: cert, Key: signer, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// WriteFiles writes the certificate (mode 0644) and key (mode 0600) of kp, refusing to
// overwrite either file.
func (kp *KeyPair) WriteFiles(certFile, keyFile string) error {
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s already exists; remove it or choose another --out-dir or --name", f)
		}
	}
	if err := writeNew(keyFile, kp.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(certFile, kp.CertPEM, 0o644); err != nil {
		os.Remove(keyFile)
		return err
	}
	return nil
}

// writeNew creates path with mode (O_EXCL: never over an existing file).
func writeNew(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; remove it or choose another --out-dir or --name", path)
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
