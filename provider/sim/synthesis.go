package sim

import "strings"

// Building blocks of the chairman's final answer.
var (
	synthesisIntros = []string{
		"Drawing on the council's answers and their peer reviews, here is a combined answer on {topic}.",
		"The council's responses complement each other well; together they give a clear picture of {topic}.",
	}
	synthesisAgree = []string{
		"**Where the council agrees.** Every member stressed that {first} has to be defined against a concrete goal before options can be compared, and that {second} cannot be judged in isolation: changes to one show up in the other.",
		"**Common ground.** The responses agree that the fundamentals of {first} matter more than any single technique, and that decisions about {second} should rest on measurement rather than intuition.",
	}
	synthesisDiffer = []string{
		"**Where views differ.** The members weighed simplicity against completeness differently. The highest-ranked responses favoured starting small and adding complexity only when measurements justify it; others put more weight on planning for {third} from the outset. Both are right in their context.",
		"**Points of disagreement.** Some answers treated {second} as the deciding factor, while the peer reviews favoured responses that balanced it against {third}. The balanced view is the better default.",
	}
	synthesisSteps = []string{
		"1. State the goal for {first} in measurable terms.\n2. Start with the simplest approach that could meet it.\n3. Measure {first} and {second} together under realistic conditions.\n4. Revisit the choice as {third} changes.",
		"1. Clarify what success looks like for {topic}.\n2. Compare two or three candidate approaches on the same workload.\n3. Watch for the usual pitfalls: edge cases, the wrong metric, and neglecting {second}.\n4. Prefer the option that stays maintainable over time.",
	}
	synthesisClosings = []string{
		"In short, {topic} rewards a deliberate, measured approach: define the goal, keep the solution as simple as the goal allows, and let evidence decide the trade-offs.",
		"Taken together, the council's advice is consistent: be precise about the goal, respect the trade-off between {first} and {second}, and adapt as the context changes.",
	}
)

// writeSynthesis writes the chairman's final answer for the question quoted
// in prompt.
func writeSynthesis(model, prompt string) string {
	question := questionOf(prompt)
	s := subjectOf(question)
	h := hash(model, question)
	parts := []string{
		pick(synthesisIntros, h),
		pick(synthesisAgree, h>>4),
		pick(synthesisDiffer, h>>8),
		"**Recommended approach.**\n" + pick(synthesisSteps, h>>12),
		pick(synthesisClosings, h>>16),
	}
	for i, p := range parts {
		parts[i] = s.fill(p)
	}
	return strings.Join(parts, "\n\n")
}
