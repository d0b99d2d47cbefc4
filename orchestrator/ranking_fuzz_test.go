package orchestrator

import "testing"

func FuzzParseRanking(f *testing.F) {
	for _, tc := range rankingCases {
		f.Add(tc.text, uint8(len(tc.labels)))
	}
	f.Fuzz(func(t *testing.T, text string, n uint8) {
		labels := testLabels(int(n % 27))
		checkRankingShape(t, ParseRanking(text, labels), labels)
	})
}
