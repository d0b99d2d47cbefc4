package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/councilhq/council/budget"
	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/orchestrator"
)

// ErrorDomain is the domain of every google.rpc.ErrorInfo the server sends.
const ErrorDomain = "council.v1"

// ErrorInfo reasons the server sends, one per kind of failure.
const (
	ReasonInvalidRequest   = "INVALID_REQUEST"
	ReasonQuorumNotMet     = "QUORUM_NOT_MET"
	ReasonNoSynthesis      = "NO_SYNTHESIS"
	ReasonCanceled         = "CANCELED"
	ReasonDeadlineExceeded = "DEADLINE_EXCEEDED"
	ReasonInternal         = "INTERNAL"
	// ReasonUnauthenticated: the call lacks a valid bearer token.
	ReasonUnauthenticated = "UNAUTHENTICATED"
	// ReasonTooManyConsultations: admission control refused the call; the
	// status carries a QuotaFailure and a RetryInfo.
	ReasonTooManyConsultations = "TOO_MANY_CONSULTATIONS"
	// ReasonOverloaded: the adaptive admission limit, the capacity the
	// server measures, refused the call; the status carries a QuotaFailure
	// and a RetryInfo.
	ReasonOverloaded = "OVERLOADED"
	// ReasonShuttingDown: the server stopped before the consultation
	// finished; retrying reaches another instance or a restarted one.
	ReasonShuttingDown = "SHUTTING_DOWN"
	// ReasonModelsUnavailable: the provider's model list could not be
	// fetched and none is cached.
	ReasonModelsUnavailable = "MODELS_UNAVAILABLE"
	// ReasonNotConfigured: the call needs something the server was started
	// without.
	ReasonNotConfigured = "NOT_CONFIGURED"
	// ReasonBudgetExhausted: the caller's budget is spent, or what remains
	// of it is below the cheapest plan's estimate; the status carries a
	// QuotaFailure naming the budget and a RetryInfo until it resets.
	ReasonBudgetExhausted = "BUDGET_EXHAUSTED"
	// ReasonBudgetTooLow: the request's max_cost_usd is below the cheapest
	// plan's estimate, given in the metadata "minimum_cost_usd".
	ReasonBudgetTooLow = "BUDGET_TOO_LOW"
	// ReasonConsultationNotFound: Watch found no consultation with the id
	// for this caller; it may have expired.
	ReasonConsultationNotFound = "CONSULTATION_NOT_FOUND"
	// ReasonConsultationLost: the replica running the consultation
	// stopped before it ended.
	ReasonConsultationLost = "CONSULTATION_LOST"
	// ReasonEventLogUnavailable: the event log could not be read.
	ReasonEventLogUnavailable = "EVENT_LOG_UNAVAILABLE"
	// ReasonReplicaDraining: the server is shutting down and ended a
	// Watch; watching again reaches another replica.
	ReasonReplicaDraining = "REPLICA_DRAINING"
	// ReasonRequestIDReused: the request_id was used by the same caller
	// for a different request.
	ReasonRequestIDReused = "REQUEST_ID_REUSED"
)

var (
	// errNoCatalog: ListModels on a server without a model catalog.
	errNoCatalog = errors.New("server: no model catalog")
	// errModelsUnavailable: the model catalog failed.
	errModelsUnavailable = errors.New("server: the provider's model list is unavailable")
)

// maxViolations bounds the field violations reported for one request.
const maxViolations = 10

// toStatus maps an error to the gRPC status the client sees. It is the only
// place statuses are made. Messages are fixed or built from our own
// validation; the error's own text is never sent.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if fields := invalidFields(err); len(fields) > 0 {
		return invalidArgument(fields)
	}
	var overload *overloadError
	if errors.As(err, &overload) {
		return tooManyConsultations(overload)
	}
	var exceeded *budget.ExceededError
	if errors.As(err, &exceeded) {
		return budgetExhausted(exceeded)
	}
	var tooLow *orchestrator.BudgetTooLowError
	if errors.As(err, &tooLow) {
		minimum := strconv.FormatFloat(tooLow.MinimumUSD, 'f', 6, 64)
		return newStatus(codes.FailedPrecondition, ReasonBudgetTooLow,
			fmt.Sprintf("max_cost_usd is below the estimate of the cheapest plan, $%s", minimum),
			map[string]string{"minimum_cost_usd": minimum})
	}
	switch {
	case errors.Is(err, consultation.ErrConflict):
		msg := "request_id was already used for a different request"
		return newStatus(codes.AlreadyExists, ReasonRequestIDReused, msg, map[string]string{"field": "request_id"},
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "request_id", Description: msg}}})
	case errors.Is(err, consultation.ErrNotFound):
		return newStatus(codes.NotFound, ReasonConsultationNotFound,
			"no consultation with this id for this caller; it may have expired", nil)
	case errors.Is(err, consultation.ErrLost):
		return newStatus(codes.Unavailable, ReasonConsultationLost,
			"the server running the consultation stopped before it ended; consult again", nil)
	case errors.Is(err, errWatchDrained):
		return newStatus(codes.Unavailable, ReasonReplicaDraining, "this server is shutting down; watch again", nil,
			&errdetails.RetryInfo{RetryDelay: durationpb.New(0)})
	case errors.Is(err, consultation.ErrUnavailable):
		return newStatus(codes.Unavailable, ReasonEventLogUnavailable, "the event log cannot be read; retry later", nil,
			&errdetails.RetryInfo{RetryDelay: durationpb.New(admissionRetryDelay)})
	case errors.Is(err, errUnauthenticated):
		return newStatus(codes.Unauthenticated, ReasonUnauthenticated, "missing or invalid bearer token", nil)
	case errors.Is(err, errShuttingDown):
		return newStatus(codes.Unavailable, ReasonShuttingDown, "the server is shutting down; retry the consultation", nil,
			&errdetails.RetryInfo{RetryDelay: durationpb.New(admissionRetryDelay)})
	case errors.Is(err, errNoBudgets):
		return newStatus(codes.Unimplemented, ReasonNotConfigured, "this server has no budgets", nil)
	case errors.Is(err, errNoCatalog):
		return newStatus(codes.Unimplemented, ReasonNotConfigured, "this server has no model catalog", nil)
	case errors.Is(err, errModelsUnavailable):
		return newStatus(codes.Unavailable, ReasonModelsUnavailable, "the provider's model list is unavailable; retry later", nil,
			&errdetails.RetryInfo{RetryDelay: durationpb.New(admissionRetryDelay)})
	case errors.Is(err, orchestrator.ErrQuorumNotMet):
		return newStatus(codes.Unavailable, ReasonQuorumNotMet,
			"too few council models answered; retry later or choose other models", nil)
	case errors.Is(err, orchestrator.ErrNoSynthesis):
		return newStatus(codes.Unavailable, ReasonNoSynthesis,
			"no chairman model could write the final answer; retry later or choose another chairman", nil)
	case errors.Is(err, context.Canceled):
		return newStatus(codes.Canceled, ReasonCanceled, "consultation canceled", nil)
	case errors.Is(err, context.DeadlineExceeded):
		return newStatus(codes.DeadlineExceeded, ReasonDeadlineExceeded, "consultation ran past its deadline", nil)
	}
	return newStatus(codes.Internal, ReasonInternal, "internal error", nil)
}

// invalidArgument builds the InvalidArgument status for the given violations.
func invalidArgument(fields []*orchestrator.InvalidRequestError) error {
	msgs := make([]string, len(fields))
	br := &errdetails.BadRequest{}
	for i, f := range fields {
		msgs[i] = f.Error()
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       f.Field,
			Description: f.Reason,
		})
	}
	return newStatus(codes.InvalidArgument, ReasonInvalidRequest, strings.Join(msgs, "; "),
		map[string]string{"field": fields[0].Field}, br)
}

// tooManyConsultations builds the ResourceExhausted status of a refused
// consultation, with the limit that was reached and when to retry.
func tooManyConsultations(e *overloadError) error {
	reason := ReasonTooManyConsultations
	subject, msg := "server", fmt.Sprintf("too many consultations running on the server (limit %d)", e.limit)
	switch {
	case e.adaptive:
		reason, msg = ReasonOverloaded, fmt.Sprintf("the server is at the capacity it measures (limit %d consultations now)", e.limit)
	case e.caller != "":
		subject, msg = "caller:"+e.caller, fmt.Sprintf("too many consultations running for this caller (limit %d)", e.limit)
	}
	msg += fmt.Sprintf("; retry after %s", admissionRetryDelay)
	return newStatus(codes.ResourceExhausted, reason, msg, nil,
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: subject, Description: msg}}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(admissionRetryDelay)})
}

// budgetExhausted builds the ResourceExhausted status of a caller whose
// budget is spent, or too little of it remains: a QuotaFailure naming the
// budget and a RetryInfo until its period resets.
func budgetExhausted(e *budget.ExceededError) error {
	st := e.Status
	usd := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	msg := fmt.Sprintf("the %s budget %q of $%s is spent", st.Limit.Period, st.Budget, usd(st.Limit.USD))
	if e.MinimumUSD > 0 {
		msg = fmt.Sprintf("the $%s left of the %s budget %q is below the cheapest plan's estimate of $%s",
			usd(st.RemainingUSD()), st.Limit.Period, st.Budget, usd(e.MinimumUSD))
	}
	reset := st.ResetAt.UTC().Format(time.RFC3339)
	msg += "; it resets at " + reset
	meta := map[string]string{
		"budget":        st.Budget,
		"period":        st.Limit.Period.String(),
		"limit_usd":     usd(st.Limit.USD),
		"spent_usd":     usd(st.SpentUSD),
		"remaining_usd": usd(st.RemainingUSD()),
		"reset_time":    reset,
	}
	if e.MinimumUSD > 0 {
		meta["minimum_cost_usd"] = usd(e.MinimumUSD)
	}
	return newStatus(codes.ResourceExhausted, ReasonBudgetExhausted, msg, meta,
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     "caller:" + st.Caller,
			Description: msg,
			QuotaMetric: "council.v1/cost_usd",
			QuotaId:     st.Budget,
			QuotaDimensions: map[string]string{
				"caller": st.Caller,
				"period": st.Limit.Period.String(),
			},
		}}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(max(st.ResetIn, 0))})
}

// newStatus returns a status error with an ErrorInfo and the given details.
func newStatus(code codes.Code, reason, msg string, meta map[string]string, details ...protoadapt.MessageV1) error {
	st := status.New(code, msg)
	all := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta}}, details...)
	withDetails, err := st.WithDetails(all...)
	if err != nil {
		// Only an unmarshalable detail fails here; the code and message
		// still reach the client.
		return st.Err()
	}
	return withDetails.Err()
}

// invalidFields collects the *orchestrator.InvalidRequestError values in
// err's tree (errors.Join included), at most maxViolations of them.
func invalidFields(err error) []*orchestrator.InvalidRequestError {
	var out []*orchestrator.InvalidRequestError
	var walk func(error)
	walk = func(e error) {
		if e == nil || len(out) == maxViolations {
			return
		}
		if f, ok := e.(*orchestrator.InvalidRequestError); ok {
			out = append(out, f)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
