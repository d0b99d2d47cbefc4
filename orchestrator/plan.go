package orchestrator

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/councilhq/council/provider"
)

// plan is a validated request with its council resolved.
type plan struct {
	query     string
	history   []provider.Message
	tier      string
	council   []string
	chairman  string
	requestID string
	// flushWindow gathers streamed text; zero sends every piece at once.
	flushWindow   time.Duration
	streamAnswers bool
	straggler     StragglerCutoff
	caller        string
	// maxCost is the cost cap, zero for none; minimumCost the estimate of
	// the cheapest plan under it.
	maxCost     float64
	minimumCost float64
}

// plan resolves req's tier, council and chairman, and checks what needs the
// council's configuration: the tier's name, the models the provider serves
// and the council's size. The request's shape is the caller's to check (see
// [Request]).
func (c *Council) plan(req Request) (plan, error) {
	tier, _ := FindTier(c.cfg.Tiers, c.cfg.Tier)
	if strings.TrimSpace(req.Tier) != "" {
		var ok bool
		if tier, ok = FindTier(c.cfg.Tiers, req.Tier); !ok {
			return plan{}, &InvalidRequestError{Field: "tier", Reason: fmt.Sprintf("unknown tier %q (want %s)", req.Tier, strings.Join(tierNames(c.cfg.Tiers), ", "))}
		}
	}
	p := plan{
		query:     req.Query,
		history:   req.History,
		tier:      tier.Name,
		requestID: req.RequestID,
		caller:    req.Caller,
		council:   c.known.filter(tier.Council),
		chairman:  tier.Chairman,

		flushWindow:   c.cfg.DeltaFlushWindow,
		streamAnswers: req.StreamAnswers,
		straggler:     c.cfg.StragglerCutoff,
	}
	if req.DeltaFlushWindow != nil {
		p.flushWindow = max(*req.DeltaFlushWindow, 0)
	}
	if req.StragglerCutoff != nil {
		p.straggler = *req.StragglerCutoff
	}
	if strings.TrimSpace(req.Tier) == "" {
		if len(c.cfg.Council) > 0 {
			p.council = c.cfg.Council
		}
		if c.cfg.Chairman != "" {
			p.chairman = c.cfg.Chairman
		}
	}

	// Every unknown model is reported, not only the first.
	var errs []error
	if len(req.Council) > 0 {
		errs = append(errs, c.validateModels(req.Council)...)
		p.council = append([]string(nil), req.Council...)
	}
	if req.Chairman != "" {
		if err := c.validateModel("chairman_model", req.Chairman); err != nil {
			errs = append(errs, err)
		}
		p.chairman = req.Chairman
	}
	if err := errors.Join(errs...); err != nil {
		return plan{}, err
	}
	if len(p.council) < c.cfg.MinAnswers {
		return plan{}, &InvalidRequestError{Field: "council_models", Reason: fmt.Sprintf("a council needs at least %d models", c.cfg.MinAnswers)}
	}
	if req.MaxCostUSD > 0 {
		p.maxCost = req.MaxCostUSD
		if _, p.minimumCost = c.minimumCost(p); p.minimumCost > p.maxCost {
			return plan{}, &BudgetTooLowError{MaxCostUSD: p.maxCost, MinimumUSD: p.minimumCost}
		}
	}
	return p, nil
}

// tierNames returns the names of tiers.
func tierNames(tiers []Tier) []string {
	out := make([]string, len(tiers))
	for i, t := range tiers {
		out[i] = t.Name
	}
	return out
}

// validateModels returns an error for each model of a request's council
// the provider does not serve, or one for a council that is too big.
func (c *Council) validateModels(models []string) []error {
	if len(models) > c.cfg.MaxModels {
		return []error{&InvalidRequestError{Field: "council_models", Reason: fmt.Sprintf("must name at most %d models", c.cfg.MaxModels)}}
	}
	var errs []error
	for i, m := range models {
		if err := c.validateModel(fmt.Sprintf("council_models[%d]", i), m); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (c *Council) validateModel(field, m string) error {
	if !c.known.has(m) {
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
