package simulcast

import (
	"math/rand/v2"
	"testing"
)

// outPictureID rewrites a packet of picture pid (15-bit form) and returns its output
// picture ID.
func outPictureID(t *testing.T, m *VP8Munger, pid, tl0, tid int, short bool) uint16 {
	t.Helper()
	h := hdr(pid, tl0, tid, -1)
	h.short = short
	in := buildVP8(h, vp8Inter)
	out, ok := m.Rewrite(make([]byte, len(in)+1), in)
	if !ok {
		t.Fatalf("rewrite of picture %d failed", pid)
	}
	d, _, err := ParseVP8Descriptor(out)
	if err != nil {
		t.Fatal(err)
	}
	return d.PictureID
}

func dropPicture(m *VP8Munger, pid, tl0, tid int, short bool) {
	h := hdr(pid, tl0, tid, -1)
	h.short = short
	d, _, _ := ParseVP8Descriptor(buildVP8(h, vp8Inter))
	m.DropPicture(d)
}

// TestVP8MungerDropPicture: with the TL2 pictures of an L1T3 stream dropped, the pictures
// forwarded get consecutive picture IDs; a late packet of a forwarded picture keeps its
// output ID; a new source starts without the old source's drops.
func TestVP8MungerDropPicture(t *testing.T) {
	for _, short := range []bool{false, true} {
		var m VP8Munger
		tids := []int{0, 2, 1, 2}
		first := 32760 // across the 15-bit wrap (and the 7-bit one many times)
		if short {
			first = 120
		}
		outs := map[int]uint16{}
		var prev uint16
		for i := range 40 {
			pid := (first + i) & pictureIDMask
			if short {
				pid &= 0x7f
			}
			tid := tids[i%4]
			if tid == 2 && i > 0 {
				dropPicture(&m, pid, i/4, tid, short)
				continue
			}
			out := outPictureID(t, &m, pid, i/4, tid, short)
			if len(outs) > 0 && out != (prev+1)&pictureIDMask {
				t.Fatalf("short=%v picture %d (#%d) -> %d after %d: not consecutive", short, pid, i, out, prev)
			}
			prev, outs[i] = out, out
			if i >= 6 { // a late packet of the picture forwarded four pictures ago
				late := (first + i - 4) & pictureIDMask
				if short {
					late &= 0x7f
				}
				if got := outPictureID(t, &m, late, (i-4)/4, tids[(i-4)%4], short); got != outs[i-4] {
					t.Fatalf("short=%v late packet of picture #%d -> %d, first sent as %d", short, i-4, got, outs[i-4])
				}
			}
		}
		m.Switch()
		if out := outPictureID(t, &m, 5000&pictureIDMask&^0x7f, 0, 0, false); out != (prev+1)&pictureIDMask {
			t.Fatalf("new source starts at %d, want %d", out, (prev+1)&pictureIDMask)
		}
	}
}

// TestVP8MungerRandomDrops: random drop patterns, with late packets of recent pictures,
// keep the forwarded pictures' output IDs dense and stable.
func TestVP8MungerRandomDrops(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for run := range 200 {
		var m VP8Munger
		first := r.IntN(1 << 15)
		outs := map[int]uint16{}
		var prev uint16
		n := 0
		for i := range 300 {
			pid := (first + i) & pictureIDMask
			if i > 0 && r.IntN(3) == 0 {
				dropPicture(&m, pid, -1, 2, false)
				continue
			}
			out := outPictureID(t, &m, pid, -1, 0, false)
			if n > 0 && out != (prev+1)&pictureIDMask {
				t.Fatalf("run %d: picture #%d -> %d after %d", run, i, out, prev)
			}
			prev, outs[i] = out, out
			n++
			if back := r.IntN(20); back > 0 && i-back >= 0 {
				if want, ok := outs[i-back]; ok {
					if got := outPictureID(t, &m, (first+i-back)&pictureIDMask, -1, 0, false); got != want {
						t.Fatalf("run %d: late packet of picture #%d -> %d, first %d", run, i-back, got, want)
					}
				}
			}
		}
	}
}
