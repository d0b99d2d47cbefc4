package limiter_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type httptestServer = httptest.Server

func startServer(t *testing.T, h http.Handler) *httptestServer {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
