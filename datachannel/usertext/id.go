package usertext

import "fmt"

// MaxIDLen bounds a client-chosen id.
const MaxIDLen = 64

// CheckID reports whether s may be used as a client-chosen id that other people see (a
// lot, bid or poll id, a gift key): 1..MaxIDLen bytes of [A-Za-z0-9._:-]. That fits
// UUIDs, counters ("b-17") and namespaced ids ("poll:1") and leaves nothing for a
// renderer to act on. It allocates nothing when s passes.
func CheckID(s string) error {
	if s == "" || len(s) > MaxIDLen {
		return fmt.Errorf("%w: an id must be 1..%d bytes", ErrInvalid, MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return fmt.Errorf("%w: byte %d of an id is not one of A-Z a-z 0-9 . _ : -", ErrInvalid, i)
		}
	}
	return nil
}

func idByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '.' || b == '_' || b == ':' || b == '-'
}
