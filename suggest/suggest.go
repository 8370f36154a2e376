// Package suggest owns "did you mean" for names an operator typed: the
// known name nearest to a typo. Pure functions; it imports nothing from
// shoal, so every package (the Pulumi program's config checks, the CLI's
// node names) can use the same rule.
package suggest

import "strings"

// Nearest is the candidate closest to s (case-insensitive edit distance),
// or "" when none is close: within 2 edits, or a third of s for longer s.
func Nearest(s string, candidates []string) string {
	best, dist := "", 1<<30
	for _, c := range candidates {
		if d := Distance(strings.ToLower(s), strings.ToLower(c)); d < dist {
			best, dist = c, d
		}
	}
	if dist <= max(2, len(s)/3) {
		return best
	}
	return ""
}

// Distance is the Levenshtein distance of a and b.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
