package telemetry

import (
	"encoding/json"

	"github.com/councilhq/council/provider"
)

// The GenAI conventions record content as JSON: a list of messages, each
// with a role and a list of typed parts.

type contentPart struct {
	Type    string `json:"type"`
	Content string `json:"content"`
}

type contentMessage struct {
	Role         string        `json:"role"`
	Parts        []contentPart `json:"parts"`
	FinishReason string        `json:"finish_reason,omitempty"`
}

// inputMessagesJSON renders the request messages as gen_ai.input.messages.
func inputMessagesJSON(msgs []provider.Message) string {
	out := make([]contentMessage, len(msgs))
	for i, m := range msgs {
		out[i] = contentMessage{Role: string(m.Role), Parts: []contentPart{{Type: "text", Content: m.Content}}}
	}
	return mustJSON(out)
}

// outputMessagesJSON renders the answer as gen_ai.output.messages.
func outputMessagesJSON(resp *provider.Response) string {
	return mustJSON([]contentMessage{{
		Role:         string(provider.RoleAssistant),
		Parts:        []contentPart{{Type: "text", Content: resp.Content}},
		FinishReason: resp.FinishReason,
	}})
}

// mustJSON marshals values that cannot fail to marshal (strings only).
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
