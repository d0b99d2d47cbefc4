package outbound_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/outbound"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The chain retries a failed call over the real wire and reports the attempts.
func TestChainRetriesOverTheWire(t *testing.T) {
	up := openroutertest.NewServer(openroutertest.WithScript(func(model string, n int) openroutertest.Behavior {
		if n == 1 {
			return openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: http.StatusServiceUnavailable}
		}
		return openroutertest.Behavior{}
	}))
	defer up.Close()
	transport := openrouter.NewTransport()
	defer transport.CloseIdleConnections()
	client, err := openrouter.New(&http.Client{Transport: transport}, openrouter.Config{BaseURL: up.URL(), APIKey: up.Key()})
	if err != nil {
		t.Fatal(err)
	}
	chain := outbound.New(client, outbound.Config{Hedge: map[string]string{"m/a": "m/b"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := chain.Complete(ctx, &provider.Request{Model: "m/a", Messages: []provider.Message{{Role: provider.RoleUser, Content: "q"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || up.RequestsFor("m/a") != 2 || up.RequestsFor("m/b") != 0 {
		t.Fatalf("attempts %d, upstream saw %d calls to m/a and %d to m/b; want one retry and no hedge", resp.Attempts, up.RequestsFor("m/a"), up.RequestsFor("m/b"))
	}
}
