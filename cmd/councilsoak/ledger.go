package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/consultcheck"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/server"
)

// Every consultation's query carries a tag with its number, which every
// prompt quotes, so that the fake upstream can tell which consultation and
// stage each request belongs to.
var tagPattern = regexp.MustCompile(`\[soak (\d+)\]`)

// query returns the query of consultation n.
func query(n int) string { return fmt.Sprintf("Why is the sky blue? [soak %d]", n) }

// The openings of the review and chairman prompts, which tell a request's
// stage; any other request is a Stage 1 answer.
const (
	reviewPrompt   = "You are evaluating different responses"
	chairmanPrompt = "You are the Chairman of an LLM Council"
)

// call identifies one model call of a consultation.
type call struct {
	stage councilv1.Stage
	model string
}

// draws are the upstream attempts of one call and how many of them drew a
// fault.
type draws struct {
	attempts, faulted int
}

// lostToFaults reports whether the call reached the upstream and every
// attempt drew a fault: nothing but the faults is needed to explain its
// failure.
func (d draws) lostToFaults() bool { return d.attempts > 0 && d.faulted == d.attempts }

// ledger records, per consultation, what each upstream attempt drew. It is
// safe for concurrent use.
type ledger struct {
	mu    sync.Mutex
	calls map[int]map[call]draws
}

func newLedger() *ledger { return &ledger{calls: map[int]map[call]draws{}} }

// record books one upstream request and whether it drew a fault. Requests
// without a tag are not booked.
func (l *ledger) record(req openroutertest.Request, faulted bool) {
	if len(req.Messages) == 0 {
		return
	}
	text := req.Messages[len(req.Messages)-1].Content
	m := tagPattern.FindStringSubmatch(text)
	if m == nil {
		return
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return
	}
	stage := councilv1.Stage_STAGE_COLLECT
	switch {
	case strings.HasPrefix(text, reviewPrompt):
		stage = councilv1.Stage_STAGE_REVIEW
	case strings.HasPrefix(text, chairmanPrompt):
		stage = councilv1.Stage_STAGE_SYNTHESIZE
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := l.calls[n]
	if calls == nil {
		calls = map[call]draws{}
		l.calls[n] = calls
	}
	d := calls[call{stage, req.Model}]
	d.attempts++
	if faulted {
		d.faulted++
	}
	calls[call{stage, req.Model}] = d
}

// take returns and forgets the draws of consultation n.
func (l *ledger) take(n int) map[call]draws {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := l.calls[n]
	delete(l.calls, n)
	return calls
}

// Outcomes a consultation's faults can explain.
var (
	quorumNotMet = consultcheck.Outcome(codes.Unavailable, server.ReasonQuorumNotMet)
	noSynthesis  = consultcheck.Outcome(codes.Unavailable, server.ReasonNoSynthesis)
)

// expectedFailure reports whether the faults a consultation drew are
// enough to make it fail, given its verdict (for its council and the
// chairmen it tried), and the status they explain. Too few answers are
// expected when more council models than the quorum spares lost their
// Stage 1 call to faults; no synthesis when every chairman tried lost its
// call to faults. A model refused without reaching the upstream (cooling
// down, say), or whose answer was healthy but late, is not explained.
func expectedFailure(v consultcheck.Verdict, calls map[call]draws, minAnswers int) (string, bool) {
	lost := 0
	for _, m := range v.Started.GetCouncilModels() {
		if calls[call{councilv1.Stage_STAGE_COLLECT, m}].lostToFaults() {
			lost++
		}
	}
	if council := len(v.Started.GetCouncilModels()); council > 0 && council-lost < minAnswers {
		return quorumNotMet, true
	}
	chairs := 0
	for _, f := range v.Failures {
		if f.Stage != councilv1.Stage_STAGE_SYNTHESIZE {
			continue
		}
		if !calls[call{f.Stage, f.Model}].lostToFaults() {
			return "", false
		}
		chairs++
	}
	if chairs > 0 && v.Final == nil && v.Status == noSynthesis {
		return noSynthesis, true
	}
	return "", false
}
