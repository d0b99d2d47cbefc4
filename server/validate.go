package server

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// Limits of a ConsultRequest's shape. The server checks them all; the
// orchestrator checks only what needs the council's configuration (known
// tiers and models, council size).
const (
	// MaxQueryBytes is the longest query, and the longest history turn, in
	// bytes.
	MaxQueryBytes = 16000
	// MaxHistoryTurns is the most history turns a request may carry.
	MaxHistoryTurns = 50
	// MaxHistoryBytes is the most bytes of content all history turns may
	// hold together.
	MaxHistoryBytes = 64000
	// MaxModelIDBytes is the longest council or chairman model id.
	MaxModelIDBytes = 256
	// MaxRequestIDBytes is the longest request_id.
	MaxRequestIDBytes = 128
	// MaxDeltaFlushWindow is the longest delta_flush_window.
	MaxDeltaFlushWindow = time.Second
	// MaxStragglerFloor is the longest straggler_cutoff.floor.
	MaxStragglerFloor = 10 * time.Minute
	// MaxStragglerMultiple is the largest straggler_cutoff.multiple.
	MaxStragglerMultiple = 100
)

// validate checks the request's shape: everything that can be checked
// without the council's configuration. It returns nil or every violation (up
// to maxViolations) as joined *orchestrator.InvalidRequestError values.
func validate(req *councilv1.ConsultRequest) error {
	var errs []error
	add := func(field, reason string) {
		errs = append(errs, &orchestrator.InvalidRequestError{Field: field, Reason: reason})
	}
	text := func(field, value string, limit int, required bool) {
		switch {
		case !utf8.ValidString(value):
			add(field, "must be valid UTF-8")
		case len(value) > limit:
			add(field, fmt.Sprintf("must be at most %d bytes, got %d", limit, len(value)))
		case strings.TrimSpace(value) == "" && (required || value != ""):
			add(field, "must not be blank")
		}
	}
	modelID := func(field, value string, required bool) {
		n := len(errs)
		text(field, value, MaxModelIDBytes, required)
		if len(errs) == n && value != strings.TrimSpace(value) {
			add(field, "must not have surrounding spaces")
		}
	}

	text("query", req.GetQuery(), MaxQueryBytes, true)
	if _, ok := councilv1.Tier_name[int32(req.GetTier())]; !ok {
		add("tier", fmt.Sprintf("unknown tier %d", req.GetTier()))
	}
	first := make(map[string]int, len(req.GetCouncilModels()))
	for i, m := range req.GetCouncilModels() {
		field := fmt.Sprintf("council_models[%d]", i)
		modelID(field, m, true)
		if j, dup := first[m]; dup {
			add(field, fmt.Sprintf("repeats council_models[%d]", j))
		} else {
			first[m] = i
		}
	}
	modelID("chairman_model", req.GetChairmanModel(), false)
	if n := len(req.GetHistory()); n > MaxHistoryTurns {
		add("history", fmt.Sprintf("must have at most %d turns, got %d", MaxHistoryTurns, n))
	} else {
		total := 0
		for i, t := range req.GetHistory() {
			if r := t.GetRole(); r != councilv1.Role_ROLE_USER && r != councilv1.Role_ROLE_ASSISTANT {
				add(fmt.Sprintf("history[%d].role", i), "must be ROLE_USER or ROLE_ASSISTANT")
			}
			text(fmt.Sprintf("history[%d].content", i), t.GetContent(), MaxQueryBytes, true)
			total += len(t.GetContent())
		}
		if total > MaxHistoryBytes {
			add("history", fmt.Sprintf("must hold at most %d bytes in all, got %d", MaxHistoryBytes, total))
		}
	}
	text("request_id", req.GetRequestId(), MaxRequestIDBytes, false)
	if w := req.GetDeltaFlushWindow(); w != nil {
		duration("delta_flush_window", w, MaxDeltaFlushWindow, add)
	}
	if sc := req.GetStragglerCutoff(); sc != nil {
		duration("straggler_cutoff.floor", sc.GetFloor(), MaxStragglerFloor, add)
		if m := sc.GetMultiple(); math.IsNaN(m) || m < 0 || m > MaxStragglerMultiple {
			add("straggler_cutoff.multiple", fmt.Sprintf("must be between 0 and %d", MaxStragglerMultiple))
		}
	}
	if c := req.GetMaxCostUsd(); c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
		add("max_cost_usd", "must be a finite number, 0 or more")
	}

	if len(errs) > maxViolations {
		errs = errs[:maxViolations]
	}
	return errors.Join(errs...)
}

// validateWatch checks a WatchRequest.
func validateWatch(req *councilv1.WatchRequest) error {
	id := req.GetConsultationId()
	switch {
	case id == "":
		return &orchestrator.InvalidRequestError{Field: "consultation_id", Reason: "must not be empty"}
	case len(id) > MaxRequestIDBytes:
		return &orchestrator.InvalidRequestError{Field: "consultation_id",
			Reason: fmt.Sprintf("must be at most %d bytes, got %d", MaxRequestIDBytes, len(id))}
	case strings.ContainsFunc(id, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_'
	}):
		return &orchestrator.InvalidRequestError{Field: "consultation_id", Reason: "must hold only letters, digits, '-' and '_'"}
	}
	return nil
}

// duration checks that d, when set, is a valid duration between 0 and limit.
func duration(field string, d *durationpb.Duration, limit time.Duration, add func(field, reason string)) {
	if d == nil {
		return
	}
	if err := d.CheckValid(); err != nil || d.AsDuration() < 0 || d.AsDuration() > limit {
		add(field, fmt.Sprintf("must be a duration between 0 and %v", limit))
	}
}
