package transcode

import "time"

// Replay: a restarted ffmpeg (after a crash, a stall or a shed) used to get the host's
// input from the host's next keyframe on, so viewers saw the picture stop for up to a
// whole host GOP (OBS's "auto" lets x264 go 8 s between keyframes), and RTMP has no way to
// ask the encoder for one sooner. Instead the input keeps what the host sent since its
// last keyframe (a held GOP) and gives it to the new process first; ffmpeg decodes it as
// fast as it can and, told to start its outputs at the newest held frame (`-ss` on each
// output: frames before it are decoded and discarded, never encoded), encodes from there,
// its first frame a keyframe. The picture resumes after ffmpeg's start and the decode of
// part of a GOP, at the live edge, not after the host's next keyframe.

// Bounds on the held GOP: past any, the GOP is not kept (a restart then waits for the next
// keyframe, as before). The span bounds the burst of decoding a restart costs; the count
// (three quarters of the input queue: the host's frames keep coming while ffmpeg starts)
// and bytes keep the replay within the input queue. With the default queue of 256 access
// units a 30 fps host with audio is held for about 2.6 s after each keyframe.
const (
	replayMaxSpan  = 3 * time.Second
	replayMaxBytes = 8 << 20
)

// heldAU is one access unit of the held GOP; its NAL units (or AAC frame) point into the
// GOP's arena.
type heldAU struct {
	video    bool
	pts, dts time.Duration
	nalus    [][]byte
}

// heldGOP is the host's input since its last video keyframe. Owned by input, under its mu.
// Its arena and slices are reused from one GOP to the next.
type heldGOP struct {
	arena []byte
	aus   []heldAU
	ok    bool      // aus is a whole GOP from its keyframe, within the bounds
	one   [1][]byte // an audio frame as an access unit, without allocating
}

// holdVideo keeps a video access unit: a keyframe starts a new GOP.
func (g *heldGOP) holdVideo(pts, dts time.Duration, au [][]byte, key bool, maxAUs int) {
	if key {
		g.arena, g.aus, g.ok = g.arena[:0], g.aus[:0], true
	}
	g.hold(true, pts, dts, au, maxAUs)
}

// holdAudio keeps an audio access unit of the GOP being held.
func (g *heldGOP) holdAudio(pts time.Duration, au []byte, maxAUs int) {
	if len(g.aus) == 0 {
		return // before the first keyframe: nothing to replay it with
	}
	g.one[0] = au
	g.hold(false, pts, pts, g.one[:], maxAUs)
	g.one[0] = nil
}

func (g *heldGOP) hold(video bool, pts, dts time.Duration, au [][]byte, maxAUs int) {
	if !g.ok {
		return
	}
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	if len(g.aus) >= maxAUs || len(g.arena)+n > replayMaxBytes || (len(g.aus) > 0 && pts-g.aus[0].pts > replayMaxSpan) {
		g.ok = false
		return
	}
	if len(g.aus) < cap(g.aus) {
		g.aus = g.aus[:len(g.aus)+1]
	} else {
		g.aus = append(g.aus, heldAU{})
	}
	h := &g.aus[len(g.aus)-1]
	h.video, h.pts, h.dts, h.nalus = video, pts, dts, h.nalus[:0]
	for _, nalu := range au {
		start := len(g.arena)
		g.arena = append(g.arena, nalu...)
		h.nalus = append(h.nalus, g.arena[start:len(g.arena):len(g.arena)])
	}
}

// seek is where a process given the held GOP should start its outputs, on ffmpeg's
// timeline (zero at the earliest time it gets): the newest held frame, so the picture
// resumes at the live edge and nothing already shown is shown again.
func (g *heldGOP) seek() time.Duration {
	start, newest := g.aus[0].pts, g.aus[0].pts
	for _, h := range g.aus {
		start = min(start, h.pts)
		if h.video {
			newest = max(newest, h.pts)
		}
	}
	return newest - start
}
