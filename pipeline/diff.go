package pipeline

import "strings"

// Diff lists the lines that differ between two configs as YAML, "+ line" for
// an added one and "- line" for a removed one (a simpler rendering than
// Concourse fly's per-section diff). ok is false when the configs are too
// large to diff line by line.
func Diff(old, new string) (lines []string, ok bool) {
	a, b := strings.Split(old, "\n"), strings.Split(new, "\n")
	// Longest common subsequence over lines; configs are small enough.
	n, m := len(a), len(b)
	if n*m > 4_000_000 {
		return nil, false
	}
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, "+ "+b[j])
			j++
		default:
			lines = append(lines, "- "+a[i])
			i++
		}
	}
	return lines, true
}
