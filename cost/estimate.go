package cost

import "github.com/councilhq/council/provider"

// messageOverhead is the tokens a chat format adds around each message.
const messageOverhead = 4

// Tokens estimates the tokens of text from above: one per three bytes,
// rounded up. Tokenizers of the models served give about one token per
// four bytes of English.
func Tokens(text string) int64 {
	return int64(len(text)+2) / 3
}

// PromptTokens estimates the prompt tokens of msgs from above.
func PromptTokens(msgs []provider.Message) int64 {
	var n int64
	for _, m := range msgs {
		n += Tokens(m.Content) + messageOverhead
	}
	return n
}

// Estimate is the most a call of promptTokens and at most maxTokens of
// completion costs at price p.
func Estimate(p provider.Price, promptTokens int64, maxTokens int) float64 {
	return p.Cost(promptTokens, int64(maxTokens))
}

// Actual is the cost of a call that used u at price p: the provider's
// reported cost, or the tokens at p when it reported none.
func Actual(p provider.Price, u provider.Usage) float64 {
	if u.Cost > 0 {
		return u.Cost
	}
	return p.Cost(u.InputTokens, u.OutputTokens)
}
