package gift

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLedger(t *testing.T) {
	now := time.Unix(1000, 0)
	g := func(from, key string, amount int64) Gift {
		return Gift{Key: key, From: from, Name: "rose", Amount: amount, Currency: "EUR", At: now}
	}
	tests := []struct {
		name string
		in   Gift
		dup  bool
		err  error
	}{
		{"first", g("a", "k1", 500), false, nil},
		{"retry", g("a", "k1", 500), true, nil},
		{"same key other sender", g("b", "k1", 500), false, nil},
		{"key reused for another amount", g("a", "k1", 900), false, ErrKeyReused},
		{"no key", g("a", "", 1), false, ErrInvalid},
		{"long key", g("a", strings.Repeat("k", MaxKeyLen+1), 1), false, ErrInvalid},
		{"no sender", g("", "k2", 1), false, ErrInvalid},
		{"zero", g("a", "k3", 0), false, ErrInvalid},
		{"negative", g("a", "k4", -5), false, ErrInvalid},
		{"huge", g("a", "k5", MaxAmount+1), false, ErrInvalid},
		{"bad currency", Gift{Key: "k6", From: "a", Amount: 1, Currency: "eur"}, false, ErrInvalid},
		{"long message", Gift{Key: "k7", From: "a", Amount: 1, Currency: "USD", Message: strings.Repeat("m", 201)}, false, ErrInvalid},
	}
	l := NewLedger(100)
	for _, tt := range tests {
		_, dup, err := l.Record(tt.in, 1)
		if dup != tt.dup || !errors.Is(err, tt.err) {
			t.Errorf("%s: dup=%v err=%v, want %v %v", tt.name, dup, err, tt.dup, tt.err)
		}
	}
	if got := l.Total("EUR"); got != 1000 {
		t.Fatalf("total %d, want 1000 (two distinct gifts of 500)", got)
	}
}

func TestLedgerForgetsOldestKeys(t *testing.T) {
	l := NewLedger(2)
	for _, k := range []string{"1", "2", "3"} {
		if _, _, err := l.Record(Gift{Key: k, From: "a", Amount: 1, Currency: "USD"}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, dup, _ := l.Check(Gift{Key: "3", From: "a", Amount: 1, Currency: "USD"}); !dup {
		t.Fatal("recent key forgotten")
	}
	if _, dup, _ := l.Check(Gift{Key: "1", From: "a", Amount: 1, Currency: "USD"}); dup {
		t.Fatal("oldest key should be forgotten beyond the ledger's size")
	}
}

// TestLedgerKeepsLogSeq: a retry is answered with the sequence of the first record, so
// its ack can name it; a later record of the same gift does not move it.
func TestLedgerKeepsLogSeq(t *testing.T) {
	l := NewLedger(10)
	g := Gift{Key: "k", From: "a", Amount: 1, Currency: "USD"}
	if e, dup, err := l.Record(g, 77); err != nil || dup || e.Seq != 77 {
		t.Fatalf("record: %+v %v %v", e, dup, err)
	}
	if e, dup, err := l.Check(g); err != nil || !dup || e.Seq != 77 || e.Key != "k" {
		t.Fatalf("check of a retry: %+v %v %v", e, dup, err)
	}
	if e, dup, err := l.Record(g, 80); err != nil || !dup || e.Seq != 77 {
		t.Fatalf("record of a retry: %+v %v %v", e, dup, err)
	}
}
