package rtmp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu"
)

// TestRTMPS: with a certificate configured, ffmpeg publishes over rtmps:// (TLS) and the
// viewer decodes the stream; plain RTMP keeps working beside it.
func TestRTMPS(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.CertFile, cfg.KeyFile = selfSigned(t)
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	if srv.TLSAddr() == nil || srv.Addr() == nil {
		t.Fatalf("listeners: plain %v, tls %v", srv.Addr(), srv.TLSAddr())
	}
	ctx := contextFor(t, 30*time.Second)
	v := newH264Viewer(t, s, "secure", sfu.LayerFull)
	url := fmt.Sprintf("rtmps://%s/live/%s", srv.TLSAddr(), publishToken(t, "secure"))
	enc := publishFFmpeg(t, url, 20*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 15, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, enc.out.String())
	}
	// A plain-RTMP client on the TLS port is a failed TLS handshake, dropped like noise.
	c, err := net.Dial("tcp", srv.TLSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write(append([]byte{3}, make([]byte, 1536)...))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Error("plain RTMP on the RTMPS port was not dropped")
			}
			break
		}
	}
	_ = c.Close()
}

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 and returns its files.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "glint test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
