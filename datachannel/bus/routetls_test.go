package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// testCA is a certificate authority for a test's route certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, PEM
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(t.TempDir(), "ca.pem")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// routeTLS issues a route certificate for 127.0.0.1 (server and client use) and returns
// the node's cluster.tls.
func (ca *testCA) routeTLS(t *testing.T) RouteTLS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "glint node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := RouteTLS{CertFile: filepath.Join(dir, "node.pem"), KeyFile: filepath.Join(dir, "node-key.pem"), CAFile: ca.file}
	writePEM(t, r.CertFile, "CERTIFICATE", der)
	writePEM(t, r.KeyFile, "EC PRIVATE KEY", keyDER)
	return r
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestClusterRouteTLS: three nodes with route TLS (certificates from one CA) form the
// cluster and carry events; their route port speaks TLS with a certificate of the CA; a
// node whose certificate another CA signed, or one without TLS, cannot join and gives up
// after its join timeout; half a TLS configuration is refused.
func TestClusterRouteTLS(t *testing.T) {
	ca := newTestCA(t, "glint test CA")
	var nodes []*NATS
	var cfgs []Config
	for attempt := 1; ; attempt++ {
		cfgs = clusterConfigs(t, 3)
		for i := range cfgs {
			cfgs[i].Cluster.TLS = ca.routeTLS(t)
		}
		var err error
		nodes, err = openNodes(t, cfgs)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	got := make(chan string, 1)
	sub, err := nodes[2].Subscribe("room1", "*", func(m Msg) {
		select {
		case got <- string(m.Data):
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		if err := nodes[0].Publish("room1", "chat.message", []byte("over tls")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m != "over tls" {
				t.Fatalf("got %q", m)
			}
			done = true
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("an event published on node 0 never reached node 2 over TLS routes")
		}
	}

	// The route port speaks TLS, with a certificate the CA signed, to a peer that shows
	// one too.
	peer := ca.routeTLS(t)
	pair, err := tls.LoadX509KeyPair(peer.CertFile, peer.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", cfgs[0].Cluster.Listen,
		&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to the route port: %v", err)
	}
	_ = c.Close()

	for name, tlsCfg := range map[string]RouteTLS{
		"another CA's certificate": newTestCA(t, "someone else's CA").routeTLS(t),
		"no TLS":                   {},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DataDir = t.TempDir()
			addr := freeAddrs(t, 1)[0]
			cfg.Cluster = testCluster(addr, cfgs[0].Cluster.Listen, cfgs[1].Cluster.Listen, cfgs[2].Cluster.Listen, addr)
			cfg.Cluster.TLS = tlsCfg
			cfg.Cluster.JoinTimeout = 3 * time.Second
			b, err := Open(context.Background(), cfg, zaptest.NewLogger(t))
			if err == nil {
				_ = b.Close()
				t.Fatal("joined a TLS cluster")
			}
			if !strings.Contains(err.Error(), "did not take it within 3s") {
				t.Fatalf("error %q; want the join timeout", err)
			}
		})
	}

	half := clusterConfigs(t, 2)[0]
	half.Cluster.TLS = RouteTLS{CertFile: "node.pem"}
	if err := half.Validate(); err == nil || !strings.Contains(err.Error(), "cluster.tls") {
		t.Fatalf("half a TLS configuration: %v", err)
	}
}
