package sim

import "strings"

// Building blocks of a council member's answer. Each model has its own
// opening and layout; the body and closing vary with the question.
var (
	answerOpenings = []string{
		"Short answer: with {topic}, the fundamentals matter more than any single trick. Here is how I would think about it.",
		"This comes up a lot, and most of the confusion around {first} disappears once you separate the core idea from the implementation details.",
		"There are a few ways to look at {topic}, and the right one depends on what you are optimising for.",
		"Let me break {topic} down into what is well established and what is still a judgement call.",
		"At its core, {first} is about trade-offs, and {second} is where those trade-offs become visible.",
	}
	answerBodies = []string{
		"Be precise about what {first} means in your context. Definitions drift between teams and tools, and a lot of disagreement about {topic} turns out to be two people using the same word for different things. Write down the concrete goal before comparing options.",
		"Look at how {first} interacts with {second}. The two are rarely independent: improving one usually costs something on the other, so measure both before and after any change rather than trusting intuition.",
		"Start with the simplest approach that could work, observe it under realistic conditions, and only then add complexity. Most problems with {first} come from solving imagined issues instead of measured ones.",
		"Consider {third} early. What works in a small experiment does not always survive real users, real data volumes and real failure modes, so plan for those from the start.",
		"The common mistakes are predictable: ignoring edge cases, optimising the wrong metric, and treating {second} as an afterthought. Each is cheap to avoid up front and expensive to fix later.",
		"If you want evidence rather than opinion, compare two or three candidate approaches side by side on the same workload. The differences around {first} are usually larger in one dimension than expected and smaller in another.",
		"Context changes the answer. For a one-off task the pragmatic choice is fine; for something long-lived, how maintainable your approach to {topic} is matters as much as its first result.",
	}
	answerClosings = []string{
		"In short: clarify the goal, look at {first} and {second} together, and prefer the simplest option that meets the need.",
		"So the practical answer is to treat {topic} as an engineering trade-off rather than a matter of taste, and let measurements settle it.",
		"If you share more about your constraints, the advice on {first} can be made a lot more specific.",
		"Bottom line: there is no universal answer, but a careful look at {second} will point you to the right one for your case.",
	}
)

// writeAnswer writes model's Stage 1 answer to question.
func writeAnswer(model, question string) string {
	s := subjectOf(question)
	hm, hq := hash(model), hash(model, question)
	bodies := pickN(answerBodies, 2+int(hq%2), hq>>16)

	var b strings.Builder
	b.WriteString(s.fill(pick(answerOpenings, hm)))
	bullets := hm>>8%3 == 0
	for i, body := range bodies {
		switch {
		case bullets && i == 0:
			b.WriteString("\n\n- ")
		case bullets:
			b.WriteString("\n- ")
		default:
			b.WriteString("\n\n")
		}
		b.WriteString(s.fill(body))
	}
	b.WriteString("\n\n")
	b.WriteString(s.fill(pick(answerClosings, hq>>4)))
	return b.String()
}
