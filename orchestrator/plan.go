package orchestrator

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/councilhq/council/provider"
)

// Limits on request fields beyond the query's.
const (
	maxHistoryBytes   = 64000
	maxRequestIDBytes = 128
	maxModelIDBytes   = 256
)

// plan is a validated request with its council resolved.
type plan struct {
	query     string
	history   []provider.Message
	tier      string
	council   []string
	chairman  string
	requestID string
}

// plan validates req and resolves its tier, council and chairman.
func (c *Council) plan(req Request) (plan, error) {
	if err := validateText("query", req.Query, MaxQueryBytes); err != nil {
		return plan{}, err
	}
	if len(req.RequestID) > maxRequestIDBytes || !utf8.ValidString(req.RequestID) {
		return plan{}, &InvalidRequestError{Field: "request_id", Reason: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxRequestIDBytes)}
	}
	if err := validateHistory(req.History); err != nil {
		return plan{}, err
	}

	tierName := c.cfg.Tier
	if strings.TrimSpace(req.Tier) != "" {
		if _, ok := LookupTier(req.Tier); !ok {
			return plan{}, &InvalidRequestError{Field: "tier", Reason: fmt.Sprintf("unknown tier %q (want speed, balanced or cost)", req.Tier)}
		}
		tierName = req.Tier
	}
	tier, _ := ResolveTier(tierName)
	p := plan{
		query:     req.Query,
		history:   req.History,
		tier:      tier.Name,
		requestID: req.RequestID,
		council:   c.known.filter(tier.Council),
		chairman:  tier.Chairman,
	}
	if strings.TrimSpace(req.Tier) == "" {
		if len(c.cfg.Council) > 0 {
			p.council = c.cfg.Council
		}
		if c.cfg.Chairman != "" {
			p.chairman = c.cfg.Chairman
		}
	}

	if len(req.Council) > 0 {
		if err := c.validateModels(req.Council); err != nil {
			return plan{}, err
		}
		p.council = append([]string(nil), req.Council...)
	}
	if req.Chairman != "" {
		if err := c.validateModel("chairman_model", req.Chairman); err != nil {
			return plan{}, err
		}
		p.chairman = req.Chairman
	}
	if len(p.council) < c.cfg.MinAnswers {
		return plan{}, &InvalidRequestError{Field: "council_models", Reason: fmt.Sprintf("a council needs at least %d models", c.cfg.MinAnswers)}
	}
	return p, nil
}

func validateText(field, s string, maxBytes int) error {
	switch {
	case !utf8.ValidString(s):
		return &InvalidRequestError{Field: field, Reason: "must be valid UTF-8"}
	case strings.TrimSpace(s) == "":
		return &InvalidRequestError{Field: field, Reason: "must not be empty"}
	case len(s) > maxBytes:
		return &InvalidRequestError{Field: field, Reason: fmt.Sprintf("must be at most %d bytes, got %d", maxBytes, len(s))}
	}
	return nil
}

func validateHistory(turns []provider.Message) error {
	if len(turns) > MaxHistoryTurns {
		return &InvalidRequestError{Field: "history", Reason: fmt.Sprintf("must have at most %d turns", MaxHistoryTurns)}
	}
	total := 0
	for i, t := range turns {
		field := fmt.Sprintf("history[%d]", i)
		if t.Role != provider.RoleUser && t.Role != provider.RoleAssistant {
			return &InvalidRequestError{Field: field + ".role", Reason: "must be user or assistant"}
		}
		if err := validateText(field+".content", t.Content, MaxQueryBytes); err != nil {
			return err
		}
		total += len(t.Content)
	}
	if total > maxHistoryBytes {
		return &InvalidRequestError{Field: "history", Reason: fmt.Sprintf("must hold at most %d bytes in all", maxHistoryBytes)}
	}
	return nil
}

func (c *Council) validateModels(models []string) error {
	if len(models) > c.cfg.MaxModels {
		return &InvalidRequestError{Field: "council_models", Reason: fmt.Sprintf("must name at most %d models", c.cfg.MaxModels)}
	}
	seen := make(map[string]bool, len(models))
	for i, m := range models {
		field := fmt.Sprintf("council_models[%d]", i)
		if err := c.validateModel(field, m); err != nil {
			return err
		}
		if seen[m] {
			return &InvalidRequestError{Field: field, Reason: fmt.Sprintf("duplicate model %q", m)}
		}
		seen[m] = true
	}
	return nil
}

func (c *Council) validateModel(field, m string) error {
	switch {
	case strings.TrimSpace(m) == "" || m != strings.TrimSpace(m):
		return &InvalidRequestError{Field: field, Reason: "must be a model id without surrounding spaces"}
	case len(m) > maxModelIDBytes || !utf8.ValidString(m):
		return &InvalidRequestError{Field: field, Reason: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxModelIDBytes)}
	case !c.known.has(m):
		return &InvalidRequestError{Field: field, Reason: fmt.Sprintf("unknown model %q", m)}
	}
	return nil
}

// modelSet is the provider's model list; an empty set accepts every model.
type modelSet map[string]bool

func newModelSet(models []string) modelSet {
	s := make(modelSet, len(models))
	for _, m := range models {
		s[m] = true
	}
	return s
}

func (s modelSet) has(m string) bool { return len(s) == 0 || s[m] }

// filter returns the models of ms that s has, in order.
func (s modelSet) filter(ms []string) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		if s.has(m) {
			out = append(out, m)
		}
	}
	return out
}
