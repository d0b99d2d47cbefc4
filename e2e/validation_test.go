package e2e

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

// TestBadInput sends every kind of bad request through the whole stack and
// checks that each fails with INVALID_ARGUMENT, a BadRequest naming the
// field, and no model call.
func TestBadInput(t *testing.T) {
	const maxModels = 5
	s := newStack(t, stackConfig{council: orchestrator.Config{MaxModels: maxModels}})
	turns := func(n, size int) []*councilv1.Turn {
		out := make([]*councilv1.Turn, n)
		for i := range out {
			out[i] = &councilv1.Turn{Role: councilv1.Role_ROLE_USER, Content: strings.Repeat("t", size)}
		}
		return out
	}
	req := func(mod func(r *councilv1.ConsultRequest)) *councilv1.ConsultRequest {
		r := &councilv1.ConsultRequest{Query: "Why is the sky blue?"}
		mod(r)
		return r
	}
	tooMany := []string{
		"openai/gpt-5-mini", "openai/gpt-5-nano", "anthropic/claude-haiku-4.5",
		"google/gemini-2.5-flash", "mistralai/mistral-medium-3.1", "mistralai/mistral-small-3.2-24b-instruct",
	}
	tests := []struct {
		name  string
		req   *councilv1.ConsultRequest
		field string
	}{
		{"empty query", req(func(r *councilv1.ConsultRequest) { r.Query = "" }), "query"},
		{"whitespace query", req(func(r *councilv1.ConsultRequest) { r.Query = " \t\r\n\u2003" }), "query"},
		{"query over the limit", req(func(r *councilv1.ConsultRequest) { r.Query = strings.Repeat("q", server.MaxQueryBytes+1) }), "query"},
		{"query not UTF-8", req(func(r *councilv1.ConsultRequest) { r.Query = "why\xc0\xaf?" }), "query"},
		{"unknown tier", req(func(r *councilv1.ConsultRequest) { r.Tier = councilv1.Tier(4) }), "tier"},
		{"negative tier", req(func(r *councilv1.ConsultRequest) { r.Tier = councilv1.Tier(-1) }), "tier"},
		{"unknown model", req(func(r *councilv1.ConsultRequest) { r.CouncilModels = []string{council[0], "vendor/no-such-model"} }), "council_models[1]"},
		{"duplicate model", req(func(r *councilv1.ConsultRequest) { r.CouncilModels = []string{council[0], council[1], council[0]} }), "council_models[2]"},
		{"too many models", req(func(r *councilv1.ConsultRequest) { r.CouncilModels = tooMany }), "council_models"},
		{"too few models", req(func(r *councilv1.ConsultRequest) { r.CouncilModels = council[:1] }), "council_models"},
		{"unknown chairman", req(func(r *councilv1.ConsultRequest) { r.ChairmanModel = "vendor/no-such-chairman" }), "chairman_model"},
		{"too many history turns", req(func(r *councilv1.ConsultRequest) { r.History = turns(server.MaxHistoryTurns+1, 2) }), "history"},
		{"history too long in all", req(func(r *councilv1.ConsultRequest) { r.History = turns(5, 15000) }), "history"},
		{"history turn without role", req(func(r *councilv1.ConsultRequest) {
			r.History = []*councilv1.Turn{{Content: "hi"}}
		}), "history[0].role"},
		{"history turn with unknown role", req(func(r *councilv1.ConsultRequest) {
			r.History = []*councilv1.Turn{{Role: councilv1.Role(9), Content: "hi"}}
		}), "history[0].role"},
		{"request id too long", req(func(r *councilv1.ConsultRequest) { r.RequestId = strings.Repeat("r", 129) }), "request_id"},
	}
	if len(tooMany) <= maxModels {
		t.Fatalf("the too-many case names only %d models", len(tooMany))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			evs, err := s.consult(ctx, tc.req)
			if len(evs) != 0 {
				t.Errorf("%d events before the error", len(evs))
			}
			if status.Code(err) != codes.InvalidArgument || reasonOf(err) != server.ReasonInvalidRequest {
				t.Fatalf("status %v, want InvalidArgument with %s", err, server.ReasonInvalidRequest)
			}
			var br *errdetails.BadRequest
			for _, d := range status.Convert(err).Details() {
				if d, ok := d.(*errdetails.BadRequest); ok {
					br = d
				}
			}
			if br == nil || len(br.GetFieldViolations()) == 0 {
				t.Fatalf("no BadRequest in %v", err)
			}
			if v := br.GetFieldViolations()[0]; v.GetField() != tc.field || v.GetDescription() == "" {
				t.Errorf("violation %v, want field %s", v, tc.field)
			}
		})
	}
	if n := s.upstream.Requests(); n != 0 {
		t.Errorf("bad requests made %d model calls", n)
	}
}
