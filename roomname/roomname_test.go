package roomname

import (
	"regexp"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"demo", true},
		{"Auction_2026.12-07", true},
		{"a", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"with space", false},
		{"slash/room", false},
		{"nats.>", false},
		{"star*", false},
		{"ünicode", false},
		{"tab\t", false},
		{"nul\x00", false},
	} {
		if got := Valid(tc.name); got != tc.ok {
			t.Errorf("Valid(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

// FuzzValid: Valid agrees with the regular expression the SFU and the interaction layer
// each used before they shared this package.
func FuzzValid(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	for _, s := range []string{"demo", "", "a b", strings.Repeat("z", 64), strings.Repeat("z", 65), "é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Valid(s), re.MatchString(s); got != want {
			t.Fatalf("Valid(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}
