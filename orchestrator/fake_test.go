package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/councilhq/council/provider"
)

// behavior scripts one model's replies in one stage.
type behavior struct {
	delay time.Duration
	gate  <-chan struct{} // when set, the reply waits for it to close
	hang  bool            // never replies; only ctx ends the call
	err   *provider.Error // fail with this error
	text  string          // reply with this text instead of the default
	// deltas, when set, are streamed through OnDelta one by one, each
	// after pause, and their concatenation is the reply.
	deltas []string
	pause  time.Duration
}

// scriptedCompleter is a provider.Completer whose replies are scripted by
// model and stage. Rankings list the labels the prompt shows, in order;
// syntheses are streamed word by word through OnDelta.
type scriptedCompleter struct {
	mu        sync.Mutex
	behaviors map[string]behavior // key: model + "/" + stage, or model
	requests  []*provider.Request
	canceled  atomic.Int32
	inFlight  atomic.Int32
}

func newScripted() *scriptedCompleter {
	return &scriptedCompleter{behaviors: map[string]behavior{}}
}

// set scripts a model in every stage, or in one stage when given.
func (f *scriptedCompleter) set(model string, b behavior, stage ...Stage) *scriptedCompleter {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(stage) == 0 {
		f.behaviors[model] = b
	}
	for _, s := range stage {
		f.behaviors[model+"/"+s.String()] = b
	}
	return f
}

func (f *scriptedCompleter) behavior(model, stage string) behavior {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.behaviors[model+"/"+stage]; ok {
		return b
	}
	return f.behaviors[model]
}

// requestsFor returns the requests seen for a stage.
func (f *scriptedCompleter) requestsFor(s Stage) []*provider.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*provider.Request
	for _, r := range f.requests {
		if r.Metadata[provider.MetaStage] == s.String() {
			out = append(out, r)
		}
	}
	return out
}

var shownLabel = regexp.MustCompile(`(?m)^(Response [A-Z]+):$`)

func (f *scriptedCompleter) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	f.inFlight.Add(1)
	defer f.inFlight.Add(-1)

	stage := req.Metadata[provider.MetaStage]
	b := f.behavior(req.Model, stage)
	if err := b.wait(ctx); err != nil {
		f.canceled.Add(1)
		return nil, provider.AsError(err)
	}
	if b.err != nil {
		e := *b.err
		return nil, &e
	}
	text := b.text
	if text == "" {
		text = defaultReply(req, stage)
	}
	if b.deltas != nil {
		text = strings.Join(b.deltas, "")
		for _, d := range b.deltas {
			if b.pause > 0 {
				time.Sleep(b.pause)
			}
			if req.OnDelta != nil {
				req.OnDelta(d)
			}
		}
	} else if req.OnDelta != nil {
		for _, w := range strings.SplitAfter(text, " ") {
			req.OnDelta(w)
		}
	}
	return &provider.Response{Model: req.Model, Content: text, Usage: provider.Usage{InputTokens: 10, OutputTokens: 5, Cost: 0.001}}, nil
}

func defaultReply(req *provider.Request, stage string) string {
	prompt := req.Messages[len(req.Messages)-1].Content
	switch stage {
	case StageReview.String():
		var b strings.Builder
		b.WriteString("Evaluation of the responses.\n\nFINAL RANKING:\n")
		for i, m := range shownLabel.FindAllStringSubmatch(prompt, -1) {
			fmt.Fprintf(&b, "%d. %s\n", i+1, m[1])
		}
		return b.String()
	case StageSynthesize.String():
		return "The council's final answer, written by " + req.Model + "."
	}
	return "Answer from " + req.Model + " to: " + prompt
}

// wait blocks as the behavior says, or until ctx ends.
func (b behavior) wait(ctx context.Context) error {
	if b.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if b.gate != nil {
		select {
		case <-b.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if b.delay > 0 {
		t := time.NewTimer(b.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
