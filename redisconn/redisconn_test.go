package redisconn_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/redisconn"
)

func TestOpenTalksToARealServer(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := redisconn.Open(redisconn.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got := rdb.Get(context.Background(), "k").Val(); got != "v" {
		t.Fatalf("GET = %q, want v", got)
	}
}

func TestPasswordFileOverridesTheURL(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret")
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withWrong := strings.Replace(srv.URL(), "redis://", "redis://:wrong@", 1)
	rdb, err := redisconn.Open(redisconn.Config{URL: withWrong, PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING with the file's password: %v", err)
	}

	bad, err := redisconn.Open(redisconn.Config{URL: withWrong})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if bad.Ping(context.Background()).Err() == nil {
		t.Fatal("PING with the wrong password succeeded")
	}
}

func TestBadURLsAreRefusedWithoutEchoingThem(t *testing.T) {
	for _, u := range []string{"http://h:1", "localhost:6379", "redis://:pw@h:1/notadb"} {
		_, err := redisconn.Open(redisconn.Config{URL: u})
		if !errors.Is(err, redisconn.ErrBadURL) {
			t.Errorf("Open(%q) = %v, want ErrBadURL", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("Open(%q) error %q repeats the URL", u, err)
		}
	}
}

func TestRediss(t *testing.T) {
	rdb, err := redisconn.Open(redisconn.Config{URL: "rediss://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if rdb.Options().TLSConfig == nil {
		t.Fatal("rediss:// did not turn TLS on")
	}
}

func TestRedactedHidesThePassword(t *testing.T) {
	got := redisconn.Redacted("redis://user:s3cret@h:6379/2")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "h:6379") {
		t.Fatalf("Redacted = %q", got)
	}
}
