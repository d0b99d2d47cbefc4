package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/councilhq/council/provider"
)

// Provider is the simulated council. It is safe for concurrent use.
type Provider struct {
	cfg Config

	mu    sync.Mutex
	calls map[string]uint64 // calls so far, by model
}

var (
	_ provider.Completer   = (*Provider)(nil)
	_ provider.ModelLister = (*Provider)(nil)
)

// New returns a simulator configured by cfg. The Profiles map is copied.
func New(cfg Config) *Provider {
	profiles := make(map[string]Profile, len(cfg.Profiles))
	for id, p := range cfg.Profiles {
		profiles[id] = p
	}
	cfg.Profiles = profiles
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	return &Provider{cfg: cfg, calls: make(map[string]uint64)}
}

// ListModels returns the models that have a profile, sorted, with the
// prices [Usage] charges.
func (p *Provider) ListModels(ctx context.Context) ([]provider.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, provider.AsError(err)
	}
	ids := make([]string, 0, len(p.cfg.Profiles))
	for id := range p.cfg.Profiles {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]provider.Model, len(ids))
	for i, id := range ids {
		out[i] = provider.Model{ID: id, Name: id, ContextLength: ContextLength, Price: PriceOf(id)}
	}
	return out, nil
}

// Complete writes [Write]'s text for req after the model's simulated
// latency. With req.OnDelta set, the text is streamed in small pieces: the
// first after the time to first token, the rest spread evenly up to the
// full latency. It fails as the model's profile says, and returns promptly
// with a [provider.KindCanceled] or [provider.KindTimeout] error when ctx
// ends first.
func (p *Provider) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	prof, rng := p.call(req)
	start := time.Now()
	ttft, total := p.timing(prof, rng)

	if err := p.failure(prof, rng); err != nil {
		if werr := wait(ctx, start.Add(ttft), false); werr != nil {
			return nil, werr
		}
		return nil, err
	}
	if prof.Hang {
		<-ctx.Done()
		return nil, canceled(ctx, false)
	}

	content := Write(req)
	if req.OnDelta == nil {
		if err := wait(ctx, start.Add(total), false); err != nil {
			return nil, err
		}
	} else if err := stream(ctx, req.OnDelta, chunks(content), start, ttft, total); err != nil {
		return nil, err
	}
	return &provider.Response{
		ID:           fmt.Sprintf("gen-sim-%016x", rng.Uint64()),
		Model:        req.Model,
		Content:      content,
		FinishReason: "stop",
		Usage:        Usage(req, content),
	}, nil
}

// call returns the profile for req's model and a random source for this
// call, derived from the seed, the model and how many calls it has had.
func (p *Provider) call(req *provider.Request) (Profile, *rand.Rand) {
	prof, ok := p.cfg.Profiles[req.Model]
	if !ok {
		prof = p.cfg.Default
	}
	p.mu.Lock()
	p.calls[req.Model]++
	n := p.calls[req.Model]
	p.mu.Unlock()
	h := fnv.New64a()
	h.Write([]byte(req.Model))
	return prof, rand.New(rand.NewPCG(uint64(p.cfg.Seed)^h.Sum64(), n))
}

// timing returns the call's time to first token and to the full answer.
func (p *Provider) timing(prof Profile, rng *rand.Rand) (ttft, total time.Duration) {
	j := min(max(prof.Jitter, 0), 1)
	f := p.cfg.Scale * (1 + j*(2*rng.Float64()-1))
	ttft = time.Duration(float64(prof.TimeToFirstToken) * f)
	total = max(time.Duration(float64(prof.Latency)*f), ttft)
	return ttft, total
}

// transient lists the kinds a random failure picks from.
var transient = []provider.Kind{provider.KindRateLimited, provider.KindOverloaded, provider.KindUpstream}

// failure returns the error this call fails with, or nil.
func (p *Provider) failure(prof Profile, rng *rand.Rand) error {
	kind := prof.Fail
	if kind == provider.KindUnknown {
		if prof.FailRate <= 0 || rng.Float64() >= prof.FailRate {
			return nil
		}
		kind = transient[rng.IntN(len(transient))]
	}
	e := &provider.Error{Kind: kind, Message: "simulated " + kind.String() + " failure"}
	switch kind {
	case provider.KindRateLimited:
		e.StatusCode, e.RetryAfter = 429, time.Second
	case provider.KindOverloaded:
		e.StatusCode = 503
	case provider.KindUpstream:
		e.StatusCode = 500
	case provider.KindAuth:
		e.StatusCode = 401
	case provider.KindQuota:
		e.StatusCode = 402
	case provider.KindInvalidRequest:
		e.StatusCode = 400
	}
	return e
}

// stream passes pieces to onDelta, the first at start+ttft and the last at
// start+total, evenly spaced.
func stream(ctx context.Context, onDelta func(string), pieces []string, start time.Time, ttft, total time.Duration) error {
	span := total - ttft
	for i, piece := range pieces {
		at := start.Add(ttft)
		if n := len(pieces); n > 1 {
			at = at.Add(span * time.Duration(i) / time.Duration(n-1))
		}
		if err := wait(ctx, at, i > 0); err != nil {
			return err
		}
		onDelta(piece)
	}
	return nil
}

// wait blocks until deadline or until ctx ends, whichever is first; in the
// latter case it returns the context's error as a *provider.Error.
func wait(ctx context.Context, deadline time.Time, streamed bool) error {
	d := time.Until(deadline)
	if d <= 0 {
		if ctx.Err() != nil {
			return canceled(ctx, streamed)
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return canceled(ctx, streamed)
	}
}

// canceled classifies the end of ctx as a *provider.Error.
func canceled(ctx context.Context, streamed bool) error {
	e := provider.AsError(ctx.Err())
	e.Streamed = streamed
	return e
}

// chunks splits s into pieces of a few words each, keeping every byte.
func chunks(s string) []string {
	const words = 3
	var out []string
	n, from := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\n' {
			continue
		}
		if n++; n == words {
			out = append(out, s[from:i+1])
			n, from = 0, i+1
		}
	}
	if from < len(s) {
		out = append(out, s[from:])
	}
	return out
}
