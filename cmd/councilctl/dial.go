package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Environment variables councilctl reads besides COUNCIL_ADDR.
const (
	envToken     = "COUNCIL_TOKEN"
	envTokenFile = "COUNCIL_TOKEN_FILE"
)

// dialFlags are the global flags that say how to reach the server.
type dialFlags struct {
	addr       string
	token      string
	tokenFile  string
	useTLS     bool
	caFile     string
	certFile   string
	keyFile    string
	serverName string
}

// register adds the flags to fs with defaults from getenv.
func (d *dialFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	d.addr = defaultAddr
	if v := env("COUNCIL_ADDR"); v != "" {
		d.addr = v
	}
	fs.StringVar(&d.addr, "addr", d.addr, "server address (COUNCIL_ADDR)")
	fs.StringVar(&d.token, "token", env(envToken), "bearer token sent with every call ("+envToken+", which keeps it out of process listings)")
	fs.StringVar(&d.tokenFile, "token-file", env(envTokenFile), "file whose first line is the bearer token ("+envTokenFile+")")
	fs.BoolVar(&d.useTLS, "tls", false, "connect with TLS, trusting the system's CAs unless --tls-ca is given")
	fs.StringVar(&d.caFile, "tls-ca", "", "PEM CA bundle to verify the server with (implies --tls)")
	fs.StringVar(&d.certFile, "tls-cert", "", "PEM client certificate for mutual TLS (implies --tls; needs --tls-key)")
	fs.StringVar(&d.keyFile, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&d.serverName, "tls-server-name", "", "name to verify the server's certificate against (default: the host of --addr)")
}

// dial returns a connection to the server as the flags say.
func (d *dialFlags) dial() (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if d.useTLS || d.caFile != "" || d.certFile != "" || d.keyFile != "" || d.serverName != "" {
		cfg, err := d.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts[0] = grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	token, err := d.bearer()
	if err != nil {
		return nil, err
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(token)))
	}
	return grpc.NewClient(d.addr, opts...)
}

// tlsConfig builds the client's TLS configuration.
func (d *dialFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: d.serverName, MinVersion: tls.VersionTLS12}
	if d.caFile != "" {
		pem, err := os.ReadFile(d.caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate found", d.caFile)
		}
	}
	if (d.certFile == "") != (d.keyFile == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if d.certFile != "" {
		cert, err := tls.LoadX509KeyPair(d.certFile, d.keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// bearer returns the token from --token or the first line of --token-file.
func (d *dialFlags) bearer() (string, error) {
	if d.token != "" || d.tokenFile == "" {
		return strings.TrimSpace(d.token), nil
	}
	data, err := os.ReadFile(d.tokenFile)
	if err != nil {
		return "", fmt.Errorf("reading the token file: %w", err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if first = strings.TrimSpace(first); first == "" {
		return "", fmt.Errorf("token file %s: the first line is empty", d.tokenFile)
	}
	return first, nil
}

// bearerToken sends "authorization: Bearer <token>" with every call. It does
// not insist on TLS, so that a server on loopback can be reached in
// plaintext.
type bearerToken string

// GetRequestMetadata returns the authorization metadata.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity reports false: plaintext is the caller's choice.
func (bearerToken) RequireTransportSecurity() bool { return false }
