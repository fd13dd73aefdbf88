package usertext

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"b1", true}, {"b-17", true}, {"poll:1.a_b", true},
		{"0b6f3c1e-8a4d-4e2b-9c1a-7d5e3f2a1b0c", true}, {strings.Repeat("x", 64), true},
		{"", false}, {strings.Repeat("x", 65), false}, {"a b", false}, {"a\nb", false},
		{"a\u202eb", false}, {"é", false}, {"a/b", false}, {"\x00", false},
	} {
		err := CheckID(c.id)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("CheckID(%q) = %v, want ok=%v", c.id, err, c.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = CheckID("0b6f3c1e-8a4d-4e2b-9c1a-7d5e3f2a1b0c") }); n != 0 {
		t.Fatalf("%v allocations per accepted id", n)
	}
}
