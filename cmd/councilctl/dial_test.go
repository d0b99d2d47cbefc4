package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/server"
)

// testPKI is an in-process CA with a server certificate for 127.0.0.1 and a
// client certificate, the latter and the CA also written as PEM files.
type testPKI struct {
	serverTLS                     *tls.Config
	caFile, clientCert, clientKey string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(cn string, serial int64) ([]byte, *ecdsa.PrivateKey) {
		key := newKey()
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	srvDER, srvKey := leaf("server", 2)
	cliDER, cliKey := leaf("client", 3)
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{
		serverTLS: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
		},
		caFile:     writePEM("ca.crt", "CERTIFICATE", caDER),
		clientCert: writePEM("client.crt", "CERTIFICATE", cliDER),
		clientKey:  writePEM("client.key", "EC PRIVATE KEY", cliKeyDER),
	}
}

// serveSecure starts a council server on loopback with mutual TLS and the
// given bearer token, and returns its address.
func serveSecure(t *testing.T, p testPKI, token string) string {
	t.Helper()
	srv, err := server.New(&fakeCouncil{}, server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithTLS(p.serverTLS), server.WithBearerTokens(token))
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Serve(t, srv)
}

// ctlEnv runs councilctl with the given environment.
func ctlEnv(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	out, _, err := ctlWith(t, stdio{in: strings.NewReader("")}, env, args...)
	return out, err
}

func TestTokenAndMutualTLS(t *testing.T) {
	const token = "tok-ctl-SECRET"
	p := newTestPKI(t)
	addr := serveSecure(t, p, token)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsArgs := []string{"--addr", addr, "--tls-ca", p.caFile, "--tls-cert", p.clientCert, "--tls-key", p.clientKey}
	consult := []string{"consult", "Why is the sky blue?"}

	ok := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"token flag", nil, append([]string{"--token", token}, tlsArgs...)},
		{"token from the environment", map[string]string{envToken: token}, tlsArgs},
		{"token file", map[string]string{envTokenFile: tokenFile}, tlsArgs},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ctlEnv(t, tc.env, append(tc.args, consult...)...)
			if err != nil || !strings.Contains(out, "Rayleigh scattering.") {
				t.Errorf("consult = %v\n%s", err, out)
			}
		})
	}
	t.Run("health needs no token", func(t *testing.T) {
		out, err := ctlEnv(t, nil, append(tlsArgs, "health")...)
		if err != nil || strings.TrimSpace(out) != "SERVING" {
			t.Errorf("health = %q, %v", out, err)
		}
	})

	failing := []struct {
		name string
		args []string
		want string
	}{
		{"no token", tlsArgs, "Unauthenticated"},
		{"wrong token", append([]string{"--token", "tok-wrong"}, tlsArgs...), "UNAUTHENTICATED"},
		{"no client certificate", []string{"--addr", addr, "--token", token, "--tls-ca", p.caFile}, "Unavailable"},
		{"plaintext", []string{"--addr", addr, "--token", token}, "Unavailable"},
		{"certificate without key", []string{"--addr", addr, "--tls-cert", p.clientCert}, "go together"},
		{"CA file not PEM", []string{"--addr", addr, "--tls-ca", p.clientKey}, "no PEM certificate"},
	}
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ctlEnv(t, nil, append(tc.args, consult...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("consult = %v, want an error mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error carries the token: %v", err)
			}
		})
	}
}
