package transcode

import "time"

// Replay: a restarted ffmpeg (after a crash, a stall or a shed) used to get the host's
// input from the host's next keyframe on, so viewers saw the picture stop for up to a
// whole host GOP (OBS's "auto" lets x264 go 8 s between keyframes), and RTMP has no way to
// ask the encoder for one sooner. Instead the input keeps what the host sent since its
// last keyframe (a held GOP) and gives it to the new process first, in one chunk; ffmpeg
// decodes it as fast as it can and, told to start its outputs at the newest held frame
// (`-ss` on each output: frames before it are decoded and scaled, then discarded, never
// encoded), encodes from there, its first frame a keyframe. The picture resumes after
// ffmpeg's start and that decode, at the live edge, not after the host's next keyframe.
//
// Only the audio from just before the newest held frame is given again: ffmpeg dates each
// output's timeline (its RTP sender reports) from when that output starts, and audio from
// the GOP's start would start the Opus output a whole decode earlier than the video, so
// viewers would hear it 110-160 ms ahead of the picture until the next restart (measured
// by a review). Without that older audio the IDR is also the first packet ffmpeg's
// demuxer hands on, which is the zero of the timeline -ss counts on.

// Bounds on the held GOP: past either, the GOP is not kept (a restart then waits for the
// next keyframe, as before). The span bounds the burst of decoding a restart costs; the
// bytes keep the replay within the input queue's budget.
const (
	replayMaxSpan  = 3 * time.Second
	replayMaxBytes = 8 << 20
)

// replayAudio is how much audio before the newest held frame is given again.
const replayAudio = 50 * time.Millisecond

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
func (g *heldGOP) holdVideo(pts, dts time.Duration, au [][]byte, key bool) {
	if key {
		g.arena, g.aus, g.ok = g.arena[:0], g.aus[:0], true
	}
	g.hold(true, pts, dts, au)
}

// holdAudio keeps an audio access unit of the GOP being held.
func (g *heldGOP) holdAudio(pts time.Duration, au []byte) {
	if len(g.aus) == 0 {
		return // before the first keyframe: nothing to replay it with
	}
	g.one[0] = au
	g.hold(false, pts, pts, g.one[:])
	g.one[0] = nil
}

func (g *heldGOP) hold(video bool, pts, dts time.Duration, au [][]byte) {
	if !g.ok {
		return
	}
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	if len(g.arena)+n > replayMaxBytes || (len(g.aus) > 0 && pts-g.aus[0].pts > replayMaxSpan) {
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

// newestVideo is the presentation time of the newest held frame.
func (g *heldGOP) newestVideo() time.Duration {
	newest := g.aus[0].pts // the keyframe
	for _, h := range g.aus {
		if h.video {
			newest = max(newest, h.pts)
		}
	}
	return newest
}

// seek is where a process given the held GOP should start its outputs, on ffmpeg's
// timeline, whose zero is the keyframe (the first packet its demuxer hands on): the newest
// held frame, so the picture resumes at the live edge and nothing shown is shown again.
// A millisecond less, so that -ss's millisecond rounding keeps that frame. (A restore adds
// its lead, process.go: its old process goes on live while the new one starts.)
func (g *heldGOP) seek() time.Duration {
	d := g.newestVideo() - g.aus[0].pts - time.Millisecond
	return max(0, d.Truncate(time.Millisecond))
}
