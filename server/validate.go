package server

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// Request limits checked here; the orchestrator checks the rest (known
// tiers and models, council size, the history's total size).
const (
	maxModelIDBytes   = 256
	maxRequestIDBytes = 128
	maxTurnBytes      = orchestrator.MaxQueryBytes
)

// validate checks what can be checked without the council's configuration.
// It returns nil or every violation (up to maxViolations) as joined
// *orchestrator.InvalidRequestError values.
func validate(req *councilv1.ConsultRequest) error {
	var errs []error
	add := func(field, reason string) {
		errs = append(errs, &orchestrator.InvalidRequestError{Field: field, Reason: reason})
	}
	check := func(field, value string, limit int, required bool) {
		switch {
		case !utf8.ValidString(value):
			add(field, "must be valid UTF-8")
		case len(value) > limit:
			add(field, fmt.Sprintf("must be at most %d bytes, got %d", limit, len(value)))
		case strings.TrimSpace(value) == "" && (required || value != ""):
			add(field, "must not be blank")
		}
	}

	check("query", req.GetQuery(), orchestrator.MaxQueryBytes, true)
	if _, ok := councilv1.Tier_name[int32(req.GetTier())]; !ok {
		add("tier", fmt.Sprintf("unknown tier %d", req.GetTier()))
	}
	first := make(map[string]int, len(req.GetCouncilModels()))
	for i, m := range req.GetCouncilModels() {
		field := fmt.Sprintf("council_models[%d]", i)
		check(field, m, maxModelIDBytes, true)
		if j, dup := first[m]; dup {
			add(field, fmt.Sprintf("repeats council_models[%d]", j))
		} else {
			first[m] = i
		}
	}
	check("chairman_model", req.GetChairmanModel(), maxModelIDBytes, false)
	if n := len(req.GetHistory()); n > orchestrator.MaxHistoryTurns {
		add("history", fmt.Sprintf("must have at most %d turns, got %d", orchestrator.MaxHistoryTurns, n))
	} else {
		for i, t := range req.GetHistory() {
			if r := t.GetRole(); r != councilv1.Role_ROLE_USER && r != councilv1.Role_ROLE_ASSISTANT {
				add(fmt.Sprintf("history[%d].role", i), "must be ROLE_USER or ROLE_ASSISTANT")
			}
			check(fmt.Sprintf("history[%d].content", i), t.GetContent(), maxTurnBytes, true)
		}
	}
	check("request_id", req.GetRequestId(), maxRequestIDBytes, false)

	if len(errs) > maxViolations {
		errs = errs[:maxViolations]
	}
	return errors.Join(errs...)
}
