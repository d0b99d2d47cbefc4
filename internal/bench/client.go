package bench

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// Client runs consultations of one [Profile] over a pool of gRPC
// connections, spreading them round-robin. It is safe for concurrent use.
type Client struct {
	conns   []*grpc.ClientConn
	clients []councilv1.CouncilClient
	next    atomic.Uint64
	profile Profile
}

// Dial returns a Client with conns connections to the server at addr
// (host:port, plaintext). Connections are made lazily, on first use.
func Dial(addr string, conns int, p Profile) (*Client, error) {
	c := &Client{profile: p}
	for range max(conns, 1) {
		conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		c.conns = append(c.conns, conn)
		c.clients = append(c.clients, councilv1.NewCouncilClient(conn))
	}
	return c, nil
}

// Close closes every connection.
func (c *Client) Close() error {
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	return errors.Join(errs...)
}

// Arrival is one model's answer or ranking event reaching the client.
type Arrival struct {
	Model   string
	Ranking bool
	// At is when the event arrived, Emitted the event's emit time as the
	// server stamped it; Latency is the call's latency as the server
	// measured it and reported in the event.
	At, Emitted time.Time
	Latency     time.Duration
}

// Trace is one consultation as the client saw it.
type Trace struct {
	Tag   string
	Start time.Time
	// FirstEvent, FirstText and Done are measured from Start: the first
	// event, the first SynthesisDelta (zero if none came) and the end of
	// the stream.
	FirstEvent, FirstText, Done time.Duration
	// Arrivals lists the ModelAnswered and ModelRanked events.
	Arrivals []Arrival
	// Failures lists the reasons of the ModelFailed events; Degraded is
	// ConsultCompleted's flag.
	Failures []string
	Degraded bool
	// StragglersCut is set when the straggler cut-off ended Stage 1.
	StragglersCut bool
	// Messages counts the stream's messages.
	Messages int
	// Completed is true when the stream ended after ConsultCompleted.
	Completed bool
	// Err is the stream's error, nil for status OK.
	Err error
}

// Consult runs the consultation tagged tag (its question is [Question])
// to its end.
func (c *Client) Consult(ctx context.Context, tag string) Trace {
	client := c.clients[c.next.Add(1)%uint64(len(c.clients))]
	tr := Trace{Tag: tag, Start: time.Now()}
	tr.Err = c.consult(ctx, client, &tr)
	tr.Done = time.Since(tr.Start)
	return tr
}

func (c *Client) consult(ctx context.Context, client councilv1.CouncilClient, tr *Trace) error {
	stream, err := client.Consult(ctx, &councilv1.ConsultRequest{
		Query:         Question(tr.Tag),
		CouncilModels: c.profile.CouncilIDs(),
		ChairmanModel: c.profile.Chairman.ID,
		RequestId:     tr.Tag,
	})
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		now := time.Now()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		tr.Messages++
		if tr.FirstEvent == 0 {
			tr.FirstEvent = now.Sub(tr.Start)
		}
		switch ev := msg.GetEvent().(type) {
		case *councilv1.ConsultResponse_ModelAnswered:
			tr.Arrivals = append(tr.Arrivals, Arrival{Model: ev.ModelAnswered.GetModel(), At: now, Emitted: msg.GetEmitTime().AsTime(), Latency: ev.ModelAnswered.GetLatency().AsDuration()})
		case *councilv1.ConsultResponse_ModelRanked:
			tr.Arrivals = append(tr.Arrivals, Arrival{Model: ev.ModelRanked.GetReviewerModel(), Ranking: true, At: now, Emitted: msg.GetEmitTime().AsTime(), Latency: ev.ModelRanked.GetLatency().AsDuration()})
		case *councilv1.ConsultResponse_SynthesisDelta:
			if tr.FirstText == 0 {
				tr.FirstText = now.Sub(tr.Start)
			}
		case *councilv1.ConsultResponse_ModelFailed:
			reason := strings.TrimPrefix(ev.ModelFailed.GetReason().String(), "REASON_")
			tr.Failures = append(tr.Failures, strings.ToLower(reason))
		case *councilv1.ConsultResponse_StragglersCut:
			tr.StragglersCut = true
		case *councilv1.ConsultResponse_ConsultCompleted:
			tr.Degraded = ev.ConsultCompleted.GetDegraded()
			tr.Completed = true
		}
	}
}
