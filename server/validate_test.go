package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

func TestConsultRejectsInvalidRequests(t *testing.T) {
	fake := &script{}
	h := start(t, fake)

	ok := func(mod func(r *councilv1.ConsultRequest)) *councilv1.ConsultRequest {
		r := &councilv1.ConsultRequest{Query: "Why is the sky blue?"}
		mod(r)
		return r
	}
	turns := func(n int) []*councilv1.Turn {
		out := make([]*councilv1.Turn, n)
		for i := range out {
			out[i] = &councilv1.Turn{Role: councilv1.Role_ROLE_USER, Content: "hi"}
		}
		return out
	}
	tests := []struct {
		name  string
		req   *councilv1.ConsultRequest
		field string
	}{
		{"empty query", ok(func(r *councilv1.ConsultRequest) { r.Query = "" }), "query"},
		{"blank query", ok(func(r *councilv1.ConsultRequest) { r.Query = " \t\n\u00a0" }), "query"},
		{"query too long", ok(func(r *councilv1.ConsultRequest) { r.Query = strings.Repeat("a", MaxQueryBytes+1) }), "query"},
		{"query not UTF-8", ok(func(r *councilv1.ConsultRequest) { r.Query = "caf\xe9?" }), "query"},
		{"unknown tier", ok(func(r *councilv1.ConsultRequest) { r.Tier = councilv1.Tier(99) }), "tier"},
		{"blank council model", ok(func(r *councilv1.ConsultRequest) { r.CouncilModels = []string{"a", " "} }), "council_models[1]"},
		{"council model not UTF-8", ok(func(r *councilv1.ConsultRequest) { r.CouncilModels = []string{"\xff"} }), "council_models[0]"},
		{"council model too long", ok(func(r *councilv1.ConsultRequest) { r.CouncilModels = []string{strings.Repeat("m", 257)} }), "council_models[0]"},
		{"council model with surrounding spaces", ok(func(r *councilv1.ConsultRequest) { r.CouncilModels = []string{"a", " b"} }), "council_models[1]"},
		{"duplicate council model", ok(func(r *councilv1.ConsultRequest) { r.CouncilModels = []string{"a", "b", "a"} }), "council_models[2]"},
		{"blank chairman", ok(func(r *councilv1.ConsultRequest) { r.ChairmanModel = "  " }), "chairman_model"},
		{"chairman with surrounding spaces", ok(func(r *councilv1.ConsultRequest) { r.ChairmanModel = "c\n" }), "chairman_model"},
		{"chairman too long", ok(func(r *councilv1.ConsultRequest) { r.ChairmanModel = strings.Repeat("c", MaxModelIDBytes+1) }), "chairman_model"},
		{"too many turns", ok(func(r *councilv1.ConsultRequest) { r.History = turns(MaxHistoryTurns + 1) }), "history"},
		{"history too long in all", ok(func(r *councilv1.ConsultRequest) {
			r.History = make([]*councilv1.Turn, MaxHistoryBytes/MaxQueryBytes+1)
			for i := range r.History {
				r.History[i] = &councilv1.Turn{Role: councilv1.Role_ROLE_USER, Content: strings.Repeat("t", MaxQueryBytes)}
			}
		}), "history"},
		{"flush window too long", ok(func(r *councilv1.ConsultRequest) { r.DeltaFlushWindow = durationpb.New(2 * time.Second) }), "delta_flush_window"},
		{"negative flush window", ok(func(r *councilv1.ConsultRequest) { r.DeltaFlushWindow = durationpb.New(-time.Millisecond) }), "delta_flush_window"},
		{"negative straggler floor", ok(func(r *councilv1.ConsultRequest) {
			r.StragglerCutoff = &councilv1.StragglerCutoff{Floor: durationpb.New(-time.Second)}
		}), "straggler_cutoff.floor"},
		{"straggler multiple too large", ok(func(r *councilv1.ConsultRequest) {
			r.StragglerCutoff = &councilv1.StragglerCutoff{Multiple: MaxStragglerMultiple + 1}
		}), "straggler_cutoff.multiple"},
		{"unspecified role", ok(func(r *councilv1.ConsultRequest) {
			r.History = []*councilv1.Turn{{Role: councilv1.Role_ROLE_UNSPECIFIED, Content: "hi"}}
		}), "history[0].role"},
		{"unknown role", ok(func(r *councilv1.ConsultRequest) {
			r.History = append(turns(2), &councilv1.Turn{Role: councilv1.Role(7), Content: "hi"})
		}), "history[2].role"},
		{"empty turn", ok(func(r *councilv1.ConsultRequest) {
			r.History = []*councilv1.Turn{{Role: councilv1.Role_ROLE_ASSISTANT, Content: ""}}
		}), "history[0].content"},
		{"blank turn", ok(func(r *councilv1.ConsultRequest) {
			r.History = []*councilv1.Turn{{Role: councilv1.Role_ROLE_USER, Content: "\t "}}
		}), "history[0].content"},
		{"turn too long", ok(func(r *councilv1.ConsultRequest) {
			r.History = []*councilv1.Turn{{Role: councilv1.Role_ROLE_USER, Content: strings.Repeat("t", MaxQueryBytes+1)}}
		}), "history[0].content"},
		{"turn not UTF-8", ok(func(r *councilv1.ConsultRequest) {
			r.History = []*councilv1.Turn{{Role: councilv1.Role_ROLE_USER, Content: "\xc3\x28"}}
		}), "history[0].content"},
		{"request id too long", ok(func(r *councilv1.ConsultRequest) { r.RequestId = strings.Repeat("r", MaxRequestIDBytes+1) }), "request_id"},
		{"request id not UTF-8", ok(func(r *councilv1.ConsultRequest) { r.RequestId = "\x80" }), "request_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.consult(context.Background(), tc.req)
			if got := status.Code(err); got != codes.InvalidArgument {
				t.Fatalf("code = %v (%v), want InvalidArgument", got, err)
			}
			info, br := errorInfo(t, err)
			if info.GetReason() != ReasonInvalidRequest {
				t.Errorf("reason = %q, want %q", info.GetReason(), ReasonInvalidRequest)
			}
			if br == nil || len(br.GetFieldViolations()) == 0 {
				t.Fatalf("no BadRequest field violations in %v", err)
			}
			if f := br.GetFieldViolations()[0].GetField(); f != tc.field {
				t.Errorf("violation field = %q, want %q", f, tc.field)
			}
			if !strings.Contains(status.Convert(err).Message(), tc.field) {
				t.Errorf("message %q does not name %q", status.Convert(err).Message(), tc.field)
			}
		})
	}
	if n := len(fake.requests()); n != 0 {
		t.Errorf("Consulter called %d times for invalid requests", n)
	}
}

func TestConsultReportsEveryViolation(t *testing.T) {
	h := start(t, &script{})
	_, err := h.consult(context.Background(), &councilv1.ConsultRequest{
		Query:         "",
		Tier:          councilv1.Tier(42),
		ChairmanModel: " ",
	})
	_, br := errorInfo(t, err)
	var fields []string
	for _, v := range br.GetFieldViolations() {
		fields = append(fields, v.GetField())
		if v.GetDescription() == "" {
			t.Errorf("violation of %s has no description", v.GetField())
		}
	}
	if got, want := strings.Join(fields, ","), "query,tier,chairman_model"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
}

func TestConsultAcceptsLimits(t *testing.T) {
	fake := &script{}
	h := start(t, fake)
	turns := make([]*councilv1.Turn, MaxHistoryTurns)
	for i := range turns {
		turns[i] = &councilv1.Turn{Role: councilv1.Role_ROLE_ASSISTANT, Content: "é"}
	}
	req := &councilv1.ConsultRequest{
		// Multi-byte runes up to the byte limit exactly.
		Query:         strings.Repeat("é", MaxQueryBytes/2),
		Tier:          councilv1.Tier_TIER_COST,
		CouncilModels: []string{strings.Repeat("m", MaxModelIDBytes)},
		History:       turns,
		RequestId:     strings.Repeat("r", MaxRequestIDBytes),
	}
	if _, err := h.consult(context.Background(), req); err != nil {
		t.Fatalf("Consult at the limits: %v", err)
	}
	if got := fake.requests(); len(got) != 1 || got[0].Tier != "cost" || len(got[0].History) != MaxHistoryTurns {
		t.Errorf("domain request = %+v", got)
	}

	// The history's total size exactly at its limit.
	long := make([]*councilv1.Turn, MaxHistoryBytes/MaxQueryBytes)
	for i := range long {
		long[i] = &councilv1.Turn{Role: councilv1.Role_ROLE_USER, Content: strings.Repeat("t", MaxQueryBytes)}
	}
	if MaxHistoryBytes%MaxQueryBytes != 0 {
		long = append(long, &councilv1.Turn{Role: councilv1.Role_ROLE_USER, Content: strings.Repeat("t", MaxHistoryBytes%MaxQueryBytes)})
	}
	req = &councilv1.ConsultRequest{Query: "q", ChairmanModel: strings.Repeat("c", MaxModelIDBytes), History: long}
	if _, err := h.consult(context.Background(), req); err != nil {
		t.Fatalf("Consult with %d bytes of history: %v", MaxHistoryBytes, err)
	}
}
