package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// pki writes a CA, a server certificate for localhost and 127.0.0.1 and a
// client certificate to dir as PEM files, and returns their paths.
type pki struct {
	caFile, certFile, keyFile, clientCert, clientKey string
}

func writePKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	leaf := func(cn string, serial int64) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return write(cn+".crt", "CERTIFICATE", der), write(cn+".key", "EC PRIVATE KEY", keyDER)
	}
	p := pki{caFile: write("ca.crt", "CERTIFICATE", caDER)}
	p.certFile, p.keyFile = leaf("server", 2)
	p.clientCert, p.clientKey = leaf("client", 3)
	return p
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# deploy tokens\n\n  tok-file-1  \ntok-file-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadTokens(" tok-env-1, ,tok-env-2", file)
	if err != nil {
		t.Fatalf("loadTokens: %v", err)
	}
	if want := []string{"tok-env-1", "tok-env-2", "tok-file-1", "tok-file-2"}; !slices.Equal(got, want) {
		t.Errorf("tokens = %q, want %q", got, want)
	}
	if got, err := loadTokens("", ""); err != nil || len(got) != 0 {
		t.Errorf("no tokens configured = %q, %v", got, err)
	}

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("ok-token\nsplit SECRET-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# nothing\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"space in a token": bad, "no token": empty, "missing file": filepath.Join(dir, "nope")} {
		t.Run(name, func(t *testing.T) {
			_, err := loadTokens("", path)
			if err == nil {
				t.Fatal("loadTokens succeeded")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error carries a token: %v", err)
			}
		})
	}
}

func TestLoadTLS(t *testing.T) {
	p := writePKI(t, t.TempDir())
	if cfg, err := loadTLS("", "", ""); cfg != nil || err != nil {
		t.Errorf("no TLS files = %v, %v; want plaintext", cfg, err)
	}
	cfg, err := loadTLS(p.certFile, p.keyFile, "")
	if err != nil || len(cfg.Certificates) != 1 || cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("TLS = %+v, %v", cfg, err)
	}
	cfg, err = loadTLS(p.certFile, p.keyFile, p.caFile)
	if err != nil || cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Errorf("mutual TLS = %+v, %v", cfg, err)
	}
	for name, files := range map[string][3]string{
		"certificate without key": {p.certFile, "", ""},
		"key without certificate": {"", p.keyFile, ""},
		"client CA without TLS":   {"", "", p.caFile},
		"key that is not a key":   {p.certFile, p.caFile, ""},
		"client CA not PEM":       {p.certFile, p.keyFile, p.keyFile},
		"missing client CA":       {p.certFile, p.keyFile, p.caFile + ".missing"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadTLS(files[0], files[1], files[2]); err == nil {
				t.Error("loadTLS succeeded")
			}
		})
	}
}

func TestLoadConfigSecurity(t *testing.T) {
	p := writePKI(t, t.TempDir())
	c, err := loadConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.security.reflection || c.security.maxConsultations != 2000 || c.security.maxPerCaller != 0 ||
		c.security.tls != nil || len(c.security.tokens) != 0 {
		t.Errorf("defaults = %+v", c.security)
	}

	c, err = loadConfig([]string{"-max-consultations", "7", "-reflection=false"}, envOf(map[string]string{
		envAuthTokens:       "tok-1,tok-2",
		envTLSCert:          p.certFile,
		envTLSKey:           p.keyFile,
		envTLSClientCA:      p.caFile,
		envReflection:       "true",
		envMaxConsultations: "50",
		envMaxPerCaller:     "3",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.security.reflection || c.security.maxConsultations != 7 || c.security.maxPerCaller != 3 ||
		c.security.tls == nil || c.security.tls.ClientCAs == nil || !slices.Equal(c.security.tokens, []string{"tok-1", "tok-2"}) {
		t.Errorf("configured = %+v", c.security)
	}

	for name, env := range map[string]map[string]string{
		"max not a number":    {envMaxConsultations: "many"},
		"max zero":            {envMaxConsultations: "0"},
		"per caller negative": {envMaxPerCaller: "-1"},
		"reflection not bool": {envReflection: "perhaps"},
		"key missing":         {envTLSCert: p.certFile},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadConfig(nil, envOf(env), io.Discard); err == nil {
				t.Error("loadConfig succeeded")
			}
		})
	}
}

func TestRunWithMutualTLSAndTokens(t *testing.T) {
	p := writePKI(t, t.TempDir())
	const token = "tok-run-SECRET-1234"
	plain, logs := startRun(t, map[string]string{
		envSimScale:    "0.01",
		envAuthTokens:  token,
		envTLSCert:     p.certFile,
		envTLSKey:      p.keyFile,
		envTLSClientCA: p.caFile,
	})
	clientCert, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient(plain.Target(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12,
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without a token = %v, %v", resp.GetStatus(), err)
	}
	client := councilv1.NewCouncilClient(conn)
	if _, err := client.ListTiers(ctx, &councilv1.ListTiersRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListTiers without a token = %v, want Unauthenticated", err)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	stream, err := client.Consult(authed, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	if err != nil {
		t.Fatal(err)
	}
	var last *councilv1.ConsultResponse
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("consultation over mutual TLS with a token: %v", err)
		}
		last = msg
	}
	if last.GetConsultCompleted() == nil {
		t.Errorf("last event = %v", last)
	}
	if _, err := healthpb.NewHealthClient(plain).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("a plaintext client got an answer from the TLS server")
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("the log carries the token:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "mtls=true") || !strings.Contains(logs.String(), "auth_tokens=1") {
		t.Errorf("the startup line does not report TLS and authentication:\n%s", logs)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:50051": true, "[::1]:1": true, "localhost:80": true, "127.3.4.5:9": true,
		"0.0.0.0:50051": false, "[::]:1": false, "10.0.0.1:80": false, "example.com:443": false, "garbage": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
