package tlsconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CAOptions are the inputs of CreateCA (sparsectl tls ca create).
type CAOptions struct {
	Dir     string // where the files go (default: the current directory)
	Cluster string // default DefaultCluster
	Days    int    // default DefaultCADays
}

// CAFileNames are the files of a cluster's CA in dir: <cluster>-ca.pem and
// <cluster>-ca-key.pem.
func CAFileNames(dir, cluster string) (cert, key string) {
	return filepath.Join(dir, cluster+"-ca.pem"), filepath.Join(dir, cluster+"-ca-key.pem")
}

// CreateCA makes a CA and writes its certificate and key (mode 0600), refusing to
// overwrite either. It returns the file names.
func CreateCA(o CAOptions) (certFile, keyFile string, err error) {
	if o.Cluster == "" {
		o.Cluster = DefaultCluster
	}
	if o.Days == 0 {
		o.Days = DefaultCADays
	}
	if o.Days < 0 {
		return "", "", fmt.Errorf("--days %d: give a positive number of days", o.Days)
	}
	ca, err := NewCA(CARequest{Cluster: o.Cluster, Validity: time.Duration(o.Days) * 24 * time.Hour})
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = CAFileNames(o.Dir, o.Cluster)
	if err := ca.WriteFiles(certFile, keyFile); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// CertOptions are the inputs of CreateCert (sparsectl tls cert create).
type CertOptions struct {
	Dir       string // where the files go (default: the current directory)
	CA, CAKey string // the CA's files (see CAFileNames)
	Role      Role
	// Name is the holder's name in its identity (default: the first <role>-<n> whose
	// files do not exist yet).
	Name  string
	Hosts []string
	Days  int // default DefaultCertDays
}

// CreateCert makes a certificate signed by the CA for the cluster the CA names and
// writes it and its key (mode 0600) as <cluster>-<role>-<name>.pem and
// <cluster>-<role>-<name>-key.pem, refusing to overwrite. It returns the file names.
func CreateCert(o CertOptions) (certFile, keyFile string, err error) {
	if !o.Role.Valid() {
		return "", "", errors.New("say which certificate: --server, --supervisor, --worker or --client")
	}
	if o.Days == 0 {
		o.Days = DefaultCertDays
	}
	if o.Days < 0 {
		return "", "", fmt.Errorf("--days %d: give a positive number of days", o.Days)
	}
	if o.CA == "" || o.CAKey == "" {
		return "", "", errors.New("no CA: pass --ca and --ca-key (made by sparsectl tls ca create)")
	}
	ca, err := LoadKeyPair(o.CA, o.CAKey)
	if err != nil {
		return "", "", fmt.Errorf("the CA: %w", err)
	}
	if !ca.Cert.IsCA {
		return "", "", fmt.Errorf("%s is not a CA certificate", o.CA)
	}
	if time.Now().After(ca.Cert.NotAfter) {
		return "", "", fmt.Errorf("the CA %s expired on %s; make a new one", o.CA, ca.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	cluster := DefaultCluster
	if ou := ca.Cert.Subject.OrganizationalUnit; len(ou) == 1 && ValidateName("cluster", ou[0]) == nil {
		cluster = ou[0]
	}
	base := func(name string) string { return filepath.Join(o.Dir, cluster+"-"+string(o.Role)+"-"+name) }
	if o.Name == "" {
		for i := 0; ; i++ {
			n := string(o.Role) + "-" + strconv.Itoa(i)
			if _, err := os.Stat(base(n) + ".pem"); errors.Is(err, os.ErrNotExist) {
				o.Name = n
				break
			}
		}
	}
	if len(o.Hosts) > 0 && o.Role != RoleServer && o.Role != RoleWorker {
		return "", "", fmt.Errorf("--host is for --server and --worker certificates; a %s certificate only dials", o.Role)
	}
	kp, err := NewCert(ca, CertRequest{
		Identity: Identity{Cluster: cluster, Role: o.Role, Name: o.Name},
		Hosts:    o.Hosts,
		Validity: time.Duration(o.Days) * 24 * time.Hour,
	})
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = base(o.Name)+".pem", base(o.Name)+"-key.pem"
	if err := kp.WriteFiles(certFile, keyFile); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
