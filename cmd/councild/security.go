package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
)

// security is the inbound security and admission configuration.
type security struct {
	// tokens are the accepted bearer tokens; none turns authentication off.
	tokens []string
	// tls is the server's TLS configuration, or nil for plaintext.
	tls *tls.Config
	// reflection turns server reflection on.
	reflection bool
	// maxConsultations and maxPerCaller bound the consultations running at
	// once, overall and per caller (0: no per-caller bound).
	maxConsultations int
	maxPerCaller     int
}

// loadTokens returns the tokens of a comma-separated list and of a file
// holding one token per line (blank lines and lines starting with # are
// skipped), in that order. Errors never contain a token.
func loadTokens(list, file string) ([]string, error) {
	var tokens []string
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	if file == "" {
		return tokens, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsFunc(line, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("token file %s, line %d: a token must not contain spaces or control characters", file, n)
		}
		tokens = append(tokens, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("token file %s holds no token", file)
	}
	return tokens, nil
}

// loadTLS builds the server's TLS configuration from PEM files: the
// certificate chain and its key, and, for mutual TLS, the CA bundle client
// certificates must chain to. All empty means plaintext (nil).
func loadTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		if clientCAFile != "" {
			return nil, fmt.Errorf("%s needs %s and %s", envTLSClientCA, envTLSCert, envTLSKey)
		}
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("TLS needs both %s and %s", envTLSCert, envTLSKey)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the client CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", clientCAFile)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnNoAuth is logged when councild listens off loopback without
// authentication.
const warnNoAuth = "serving without authentication on a non-loopback address; set " + envAuthTokens + " or " + envAuthTokensFile
