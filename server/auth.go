package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// errUnauthenticated stands for a call without a valid bearer token;
// toStatus maps it to Unauthenticated.
var errUnauthenticated = errors.New("server: missing or invalid bearer token")

// tokenSet holds the accepted bearer tokens as SHA-256 digests, so that
// comparing a presented token takes the same time whichever token, if any,
// it matches.
type tokenSet struct {
	digests [][sha256.Size]byte
}

// newTokenSet returns the set of tokens. Every token must be non-empty and
// free of spaces and control characters, as a header value needs.
func newTokenSet(tokens []string) (*tokenSet, error) {
	if len(tokens) == 0 {
		return nil, errors.New("server: bearer authentication needs at least one token")
	}
	s := &tokenSet{digests: make([][sha256.Size]byte, len(tokens))}
	for i, t := range tokens {
		if t == "" || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			// The token itself is never part of an error.
			return nil, fmt.Errorf("server: bearer token %d is empty or contains spaces or control characters", i+1)
		}
		s.digests[i] = sha256.Sum256([]byte(t))
	}
	return s, nil
}

// match returns the caller identity of token ("token-N" for the N-th
// configured token) and whether it is accepted. It compares against every
// token in constant time.
func (s *tokenSet) match(token string) (string, bool) {
	d := sha256.Sum256([]byte(token))
	found := 0
	for i := range s.digests {
		if subtle.ConstantTimeCompare(d[:], s.digests[i][:]) == 1 {
			found = i + 1
		}
	}
	if found == 0 {
		return "", false
	}
	return fmt.Sprintf("token-%d", found), true
}

// authenticate is the auth.AuthFunc of bearer authentication: it accepts a
// call whose "authorization" metadata is "Bearer <token>" with a configured
// token, and records the token's identity as the caller.
func (s *tokenSet) authenticate(ctx context.Context) (context.Context, error) {
	token, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, toStatus(errUnauthenticated)
	}
	id, ok := s.match(token)
	if !ok {
		return nil, toStatus(errUnauthenticated)
	}
	return context.WithValue(ctx, callerKey{}, id), nil
}

// callerKey is the context key of the caller identity set by authenticate.
type callerKey struct{}

// identityOf returns the identity that owns a caller's consultations: the
// bearer token's identity when authentication is on, else the verified
// client certificate's subject common name under mutual TLS, else "" (all
// callers are one). Only the same identity may watch a consultation or
// repeat its request id.
func identityOf(ctx context.Context) string {
	if id, ok := ctx.Value(callerKey{}).(string); ok {
		return id
	}
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0 {
			if cn := ti.State.VerifiedChains[0][0].Subject.CommonName; cn != "" {
				return "cert:" + cn
			}
		}
	}
	return ""
}

// callerOf returns who is calling, for per-caller admission: the bearer
// token's identity when authentication is on, else the verified client
// certificate's subject common name under mutual TLS, else the peer's IP
// address. It never returns a token.
func callerOf(ctx context.Context) string {
	if id, ok := ctx.Value(callerKey{}).(string); ok {
		return id
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "unknown"
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0 {
		if cn := ti.State.VerifiedChains[0][0].Subject.CommonName; cn != "" {
			return "cert:" + cn
		}
	}
	if p.Addr == nil {
		return "unknown"
	}
	addr := p.Addr.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
