package transcode

// h264Levels are the levels x264 may be told, with their limits (H.264 Table A-1): macroblocks
// a second and macroblocks a frame.
var h264Levels = []struct {
	name       string
	mbps, mbfs int
}{
	{"3.0", 40_500, 1_620},
	{"3.1", 108_000, 3_600},
	{"3.2", 216_000, 5_120},
	{"4.0", 245_760, 8_192},
	{"4.2", 522_240, 8_704},
	{"5.0", 589_824, 22_080},
	{"5.1", 983_040, 36_864},
	{"5.2", 2_073_600, 36_864},
}

// levelFor is the lowest H.264 level that holds width×height at fps. x264 must be told:
// fed by a low-probe MPEG-TS with pass-through timestamps it does not know the frame rate,
// assumes the 90 kHz clock's, and writes level 6.2 into the SPS, which hardware decoders
// refuse.
func levelFor(width, height int, fps float64) string {
	mbs := ((width + 15) / 16) * ((height + 15) / 16)
	rate := int(float64(mbs) * fps)
	for _, l := range h264Levels {
		if mbs <= l.mbfs && rate <= l.mbps {
			return l.name
		}
	}
	return h264Levels[len(h264Levels)-1].name
}
