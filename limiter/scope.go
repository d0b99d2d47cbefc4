package limiter

import "time"

// scope is what the limiter has learned about how the models called with
// one provider key share the budgets they announce per model (OpenAI's and
// Anthropic's dialects); the package documentation states the rule. Its
// methods are called with the Limiter's mutex held.
type scope struct {
	// pool is the budget the key's models share, or nil while each model
	// has its own. A call keeps the pool it took from, so a pool dropped
	// while calls are in flight takes their ends harmlessly.
	pool *budget
	// provedUntil is the end of the window in which announcements last
	// proved the budgets per model.
	provedUntil time.Time
	// lo and hi bound the reset of the window whose announcements seen
	// holds: the requests left announced by successes, and the model key
	// that announced each (at most maxSeen of them).
	lo, hi time.Time
	seen   map[int64]string
}

// maxSeen bounds the announcements a scope remembers per window: budgets
// per model reveal themselves with the first call of each model, so a few
// suffice.
const maxSeen = 64

// observe learns from the answer of a call to model key, sent at sent and
// answered at done: q is the request quota it announced per model, limited
// is true for a rate-limit rejection, and below is true when the model
// budget's own calls do not explain it (see [scope]). It reports whether
// the scope changed; the pool is nil after a change back to budgets per
// model and new, empty, after a change to a shared budget.
func (s *scope) observe(key string, sent, done time.Time, q Quota, limited, below bool) (changed bool) {
	if s.proves(key, sent, done, q, limited) {
		s.provedUntil = later(s.provedUntil, s.hi)
		if s.pool != nil {
			s.pool = nil
			return true
		}
		return false
	}
	if below && s.pool == nil && !done.Before(s.provedUntil) {
		s.pool = new(budget)
		return true
	}
	return false
}

// proves records the announcement of a success and reports whether it
// proves the budgets per model: an earlier success of another model
// announced the same requests left in the same window.
func (s *scope) proves(key string, sent, done time.Time, q Quota, limited bool) bool {
	if limited || !q.Announced || q.Reset.IsZero() {
		return false
	}
	lo, hi := bounds(q, sent, done)
	switch {
	case s.hi.IsZero() || lo.After(s.hi):
		s.lo, s.hi = lo, hi
		clear(s.seen)
	case hi.Before(s.lo):
		return false // an answer of an earlier window
	default:
		s.lo, s.hi = later(s.lo, lo), later(s.hi, hi)
	}
	if other, ok := s.seen[q.Remaining]; ok {
		return other != key
	}
	if s.seen == nil {
		s.seen = make(map[int64]string)
	}
	if len(s.seen) < maxSeen {
		s.seen[q.Remaining] = key
	}
	return false
}
