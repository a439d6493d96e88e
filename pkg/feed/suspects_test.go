package feed

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/edgeplace/edgeplace/pkg/netmap"
)

// TestObjectNote: an object's newly suspect measurements make one note
// that names every landmark, within an event's 1 kB.
func TestObjectNote(t *testing.T) {
	note := func(lm string) string { return SuspectNote(lm, netmap.Suspect{P50: 100, PeersMin: 20000, Floor: 10000}) }
	tests := []struct {
		name      string
		landmarks []string
		want      []string
	}{
		{"one", []string{"hz"}, []string{"landmark hz: published p50 0.1ms"}},
		{"three", []string{"hz", "sh", "bj"}, []string{"landmark hz: published", "; 2 more not trusted, to landmarks sh, bj"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var notes []string
			for _, lm := range tc.landmarks {
				notes = append(notes, note(lm))
			}
			got := objectNote(notes)
			for _, w := range tc.want {
				assert.Contains(t, got, w)
			}
			assert.NotContains(t, got, "landmark sh:", "the others by name only")
		})
	}
	var many []string
	for i := range 64 {
		many = append(many, note(fmt.Sprintf("landmark-with-a-long-name-%02d", i)))
	}
	got := objectNote(many)
	assert.LessOrEqual(t, len(got), maxNote)
	assert.True(t, strings.HasSuffix(got, "..."), "cut, and says so")
	assert.Contains(t, got, "; 63 more not trusted")
}
