package simulcast

import "testing"

// pic is one picture of an L1T3 stream for the filter tests.
type pic struct {
	id   uint16
	tid  uint8
	sync bool
	key  bool
}

func (p pic) desc(start bool) VP8Descriptor {
	return VP8Descriptor{Start: start, HasPictureID: true, PictureID15: true, PictureID: p.id,
		HasTID: true, TID: p.tid, LayerSync: p.sync, HasTL0PICIDX: true}
}

func TestTemporalFilter(t *testing.T) {
	// L1T3: temporal ids 0 2 1 2 0 2 1 2 ...
	pattern := func(first uint16, n int) []pic {
		tids := []uint8{0, 2, 1, 2}
		var ps []pic
		for i := range n {
			ps = append(ps, pic{id: first + uint16(i), tid: tids[i%4]})
		}
		return ps
	}
	cases := []struct {
		name   string
		target int
		// retarget at picture index at (to newTarget), -1 for never
		at, newTarget int
		pics          []pic
		want          string // one letter per picture: f forwarded, d dropped
	}{
		{"all layers by default", AllTemporal, -1, 0, pattern(10, 8), "ffffffff"},
		{"target 0 keeps TL0 only", 0, -1, 0, pattern(10, 8), "fdddfddd"},
		{"target 1 drops TL2", 1, -1, 0, pattern(10, 8), "fdfdfdfd"},
		{"going down takes effect at the next picture", AllTemporal, 2, 0, pattern(10, 8), "ffddfddd"},
		{"going up waits for a TL0 picture", 0, 1, AllTemporal, pattern(10, 8), "fdddffff"},
		{"a layer-sync picture allows going up early", 0, 1, 1,
			[]pic{{id: 1, tid: 0}, {id: 2, tid: 2}, {id: 3, tid: 1, sync: true}, {id: 4, tid: 2}, {id: 5, tid: 0}, {id: 6, tid: 2}}, "fdfdfd"},
		{"a sync picture above the target does not lift it", 0, 1, 1,
			[]pic{{id: 1, tid: 0}, {id: 2, tid: 2, sync: true}, {id: 3, tid: 1}, {id: 4, tid: 2}}, "fddd"},
		{"a keyframe takes the target at once", 0, 1, AllTemporal,
			[]pic{{id: 1, tid: 0}, {id: 2, tid: 2}, {id: 3, tid: 1, key: true}, {id: 4, tid: 2}}, "fdff"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f TemporalFilter
			f.SetTarget(c.target)
			got := ""
			for i, p := range c.pics {
				if i == c.at {
					f.SetTarget(c.newTarget)
				}
				// Three packets a picture: the verdict is the picture's, and only the
				// first packet of a dropped picture says so.
				fwd, dropped := f.Filter(p.desc(true), p.key)
				for range 2 {
					fwd2, dropped2 := f.Filter(p.desc(false), false)
					if fwd2 != fwd || dropped2 {
						t.Fatalf("picture %d: later packets forwarded=%v dropped=%v, first %v", p.id, fwd2, dropped2, fwd)
					}
				}
				if dropped == fwd {
					t.Fatalf("picture %d: forwarded=%v droppedPicture=%v", p.id, fwd, dropped)
				}
				if fwd {
					got += "f"
				} else {
					got += "d"
				}
			}
			if got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestTemporalFilterWithoutTemporalLayers(t *testing.T) {
	var f TemporalFilter
	f.SetTarget(0)
	for i := range 10 {
		if fwd, _ := f.Filter(VP8Descriptor{Start: i%3 == 0, HasPictureID: true, PictureID: uint16(i / 3)}, false); !fwd {
			t.Fatal("a stream without temporal indices was filtered")
		}
	}
}

func TestChooseTemporal(t *testing.T) {
	rates := [3]int{180_000, 90_000, 90_000}
	for _, c := range []struct{ budget, want int }{
		{1_000_000, AllTemporal},
		{360_000, AllTemporal},
		{300_000, 1},
		{270_000, 1},
		{200_000, 0},
		{50_000, 0},
	} {
		if got := ChooseTemporal(c.budget, rates); got != c.want {
			t.Errorf("budget %d: %d, want %d", c.budget, got, c.want)
		}
	}
	if got := ChooseTemporal(10, [3]int{}); got != AllTemporal {
		t.Errorf("no temporal layers: %d, want all", got)
	}
}
