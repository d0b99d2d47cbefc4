package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/syncbuf"
)

// testCA is a certificate authority made in-process for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a leaf certificate for cn, valid for "localhost", signed by
// the CA, usable by servers and clients.
func (ca *testCA) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startWithCreds serves c on an in-memory listener and connects to it with
// the given transport credentials.
func startWithCreds(t *testing.T, c Consulter, creds credentials.TransportCredentials, opts ...Option) *harness {
	t.Helper()
	srv, err := New(c, append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lis := bufconn.Listen(1 << 20)
	ctx, stop := context.WithCancel(context.Background())
	h := &harness{logs: &syncbuf.Buffer{}, stop: stop, served: make(chan error, 1)}
	go func() { h.served <- srv.Serve(ctx, lis) }()
	conn, err := grpc.NewClient("passthrough:///localhost",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(creds))
	if err != nil {
		stop()
		t.Fatalf("NewClient: %v", err)
	}
	h.conn = conn
	h.client = councilv1.NewCouncilClient(conn)
	t.Cleanup(func() {
		_ = conn.Close()
		if err := h.shutdown(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

// quickCtx bounds a call that is expected to fail at the handshake.
func quickCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestTLS(t *testing.T) {
	ca := newTestCA(t, "council test CA")
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "localhost")}, MinVersion: tls.VersionTLS12}

	t.Run("trusted client", func(t *testing.T) {
		h := startWithCreds(t, &script{}, credentials.NewTLS(&tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}), WithTLS(serverTLS))
		if _, err := h.client.ListTiers(quickCtx(t), &councilv1.ListTiersRequest{}); err != nil {
			t.Errorf("ListTiers over TLS: %v", err)
		}
	})
	t.Run("plaintext client", func(t *testing.T) {
		h := startWithCreds(t, &script{}, insecure.NewCredentials(), WithTLS(serverTLS))
		if _, err := h.client.ListTiers(quickCtx(t), &councilv1.ListTiersRequest{}); status.Code(err) != codes.Unavailable {
			t.Errorf("plaintext call to a TLS server = %v, want Unavailable", err)
		}
	})
	t.Run("client not trusting the server", func(t *testing.T) {
		other := newTestCA(t, "other CA")
		h := startWithCreds(t, &script{}, credentials.NewTLS(&tls.Config{RootCAs: other.pool, MinVersion: tls.VersionTLS12}), WithTLS(serverTLS))
		if _, err := h.client.ListTiers(quickCtx(t), &councilv1.ListTiersRequest{}); status.Code(err) != codes.Unavailable {
			t.Errorf("call to an untrusted server = %v, want Unavailable", err)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t, "council test CA")
	serverTLS := &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, "localhost")},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
		MinVersion:   tls.VersionTLS12,
	}
	clientTLS := func(certs ...tls.Certificate) credentials.TransportCredentials {
		return credentials.NewTLS(&tls.Config{RootCAs: ca.pool, Certificates: certs, MinVersion: tls.VersionTLS12})
	}

	t.Run("client certificate names the caller", func(t *testing.T) {
		rec := &callerRecorder{callers: make(chan string, 1)}
		h := startWithCreds(t, rec, clientTLS(ca.issue(t, "billing-service")), WithTLS(serverTLS))
		if _, err := h.consult(quickCtx(t), &councilv1.ConsultRequest{Query: "q"}); err != nil {
			t.Fatalf("Consult: %v", err)
		}
		if got := recv(t, rec.callers); got != "cert:billing-service" {
			t.Errorf("caller = %q", got)
		}
	})
	for name, creds := range map[string]credentials.TransportCredentials{
		"no client certificate":           clientTLS(),
		"certificate of an unknown CA":    clientTLS(newTestCA(t, "rogue CA").issue(t, "intruder")),
		"plaintext instead of TLS at all": insecure.NewCredentials(),
	} {
		t.Run(name, func(t *testing.T) {
			rec := &callerRecorder{callers: make(chan string, 1)}
			h := startWithCreds(t, rec, creds, WithTLS(serverTLS))
			_, err := h.consult(quickCtx(t), &councilv1.ConsultRequest{Query: "q"})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("Consult = %v, want Unavailable", err)
			}
			if len(rec.callers) != 0 {
				t.Error("the consultation reached the Consulter")
			}
		})
	}
}
