package simulcast

// AllTemporal is the temporal target that forwards every temporal layer.
const AllTemporal = 3

// TemporalFilter drops the VP8 temporal layers above a target, a picture at a time: the
// cheapest way to fit a viewer whose link cannot carry even the lowest simulcast layer (a
// 30 fps L1T3 stream is 15 fps without layer 2 and 7.5 fps with layer 0 alone). Going down
// takes effect at the next picture; going up waits for a picture that every later one can
// be decoded from: a TL0 picture, or a layer-sync picture (Y bit) at or below the target.
// Streams without temporal layer indices pass untouched. The zero value forwards all
// layers; it is not safe for concurrent use and allocates nothing.
type TemporalFilter struct {
	target  int // highest temporal layer wanted, minus AllTemporal (so the zero value is "all")
	current int // highest temporal layer forwarded now, the same way
	started bool

	picture    uint16 // input picture ID of the picture being filtered
	hasPicture bool
	drop       bool
}

// SetTarget sets the highest temporal layer to forward (0..AllTemporal).
func (f *TemporalFilter) SetTarget(tid int) { f.target = min(max(tid, 0), AllTemporal) - AllTemporal }

// Target returns the highest temporal layer asked for.
func (f *TemporalFilter) Target() int { return f.target + AllTemporal }

// Filter decides for one packet, given its parsed descriptor and whether it starts a
// keyframe. droppedPicture is true on the first packet of a picture that is dropped, so
// the caller can close up its picture ID (VP8Munger.DropPicture).
func (f *TemporalFilter) Filter(d VP8Descriptor, keyframe bool) (forward, droppedPicture bool) {
	if !d.HasTID {
		return true, false
	}
	if !f.newPicture(d) {
		return !f.drop, false
	}
	target, current := f.target+AllTemporal, f.current+AllTemporal
	switch {
	case keyframe || !f.started:
		current = target
		f.started = true
	case target < current:
		current = target
	case target > current && d.TID == 0:
		current = target
	case target > current && d.LayerSync && int(d.TID) <= target:
		current = max(current, int(d.TID))
	}
	f.current = current - AllTemporal
	f.drop = int(d.TID) > current
	return !f.drop, f.drop
}

// newPicture reports whether the packet starts a picture other than the one being
// filtered: by picture ID when the stream has one, else by the start of partition 0.
func (f *TemporalFilter) newPicture(d VP8Descriptor) bool {
	if d.HasPictureID {
		if f.hasPicture && d.PictureID == f.picture {
			return false
		}
		f.picture, f.hasPicture = d.PictureID, true
		return true
	}
	f.hasPicture = false
	return d.Start && d.PartitionID == 0
}
