package simulcast

import "testing"

// TestPadKeepsOutputDense: padding packets take the next output numbers, the media after
// them continues without a hole, NACKs still translate for media and never for padding.
func TestPadKeepsOutputDense(t *testing.T) {
	var m Munger
	if _, _, ok := m.Pad(); ok {
		t.Fatal("padded before any packet")
	}
	out := func(seq uint16) uint16 {
		o, _, ok := m.Rewrite(seq, 9000, 0, 90000)
		if !ok {
			t.Fatalf("packet %d dropped", seq)
		}
		return o
	}
	a := out(100)
	b := out(101)
	p1, ts, ok := m.Pad()
	if !ok {
		t.Fatal("Pad refused after packets")
	}
	p2, _, _ := m.Pad()
	c := out(102)
	if b != a+1 || p1 != b+1 || p2 != p1+1 || c != p2+1 || ts != 9000 {
		t.Fatalf("outputs %d %d pad %d %d then %d (ts %d)", a, b, p1, p2, c, ts)
	}
	for _, tc := range []struct {
		out  uint16
		in   uint16
		want bool
	}{{a, 100, true}, {b, 101, true}, {c, 102, true}, {p1, 0, false}, {p2, 0, false}} {
		in, ok := m.InputSeq(tc.out)
		if ok != tc.want || (ok && in != tc.in) {
			t.Errorf("InputSeq(%d) = %d, %v; want %d, %v", tc.out, in, ok, tc.in, tc.want)
		}
	}
	// A late packet from before the padding keeps its place.
	if o, _, _ := m.Rewrite(101, 9000, 0, 90000); o != b {
		t.Errorf("late 101 rewrote to %d, first sent as %d", o, b)
	}
	m.Switch()
	if _, _, ok := m.Pad(); ok {
		t.Error("padded while a switch was pending")
	}
}
