package llhls

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// vp8State is a VP8 host's way to LL-HLS: its top layer's frames go through ffmpeg
// (transcoder.go) and come back as H.264 access units, which then take the same road as a
// host's own H.264 (handleAU), on the VP8 layer's clock: each comes back with the pts it went
// in with, and that pts finds the frame's RTP timestamp again. Owned by the stream's goroutine.
type vp8State struct {
	transcodeSlot
	src     *sfu.Receiver // the layer being transcoded
	top     int           // the layer transcoded: the highest with media (pickTop)
	seen    [numLayers]layerSeen
	asm     *vp8Assembler
	w, h    int
	lastPLI time.Time

	// pts: milliseconds since this transcoder's first frame, and the RTP timestamps they stand for
	rtp    rtpUnwrap
	lastMS int64
	stamps [64]vp8Stamp
	n      int
}

type vp8Stamp struct {
	ms int64
	ts uint32
}

// stamp gives a frame's RTP timestamp its pts in milliseconds, strictly increasing.
func (v *vp8State) stamp(ts uint32) int64 {
	ms := v.rtp.next(ts) / 90
	if v.n > 0 && ms <= v.lastMS {
		ms = v.lastMS + 1
	}
	v.lastMS = ms
	v.stamps[v.n%len(v.stamps)] = vp8Stamp{ms: ms, ts: ts}
	v.n++
	return ms
}

// rtpTimestamp finds the RTP timestamp of the frame that went in at ms.
func (v *vp8State) rtpTimestamp(ms int64) (uint32, bool) {
	for i := 1; i <= len(v.stamps) && i <= v.n; i++ {
		if s := v.stamps[(v.n-i)%len(v.stamps)]; s.ms == ms {
			return s.ts, true
		}
	}
	return 0, false
}

// stopTranscoder ends the running ffmpeg, if any; the next keyframe starts a new one.
func (s *stream) stopTranscoder() {
	v := &s.vp
	v.stop()
	v.rtp, v.lastMS, v.n = rtpUnwrap{}, 0, 0
}

// handleVP8 takes a packet of a VP8 host's video: frames of its top layer go to ffmpeg.
func (s *stream) handleVP8(src *sfu.Receiver, keyframe bool) {
	v := &s.vp
	now := time.Now()
	if len(s.pkt.Payload) > 0 {
		v.see(src.Layer(), now)
	}
	if v.src == nil {
		v.pickTop(now) // then once a second (housekeep)
	}
	if src.Layer() != v.top {
		return
	}
	if v.src != src {
		s.stopTranscoder()
		v.src, v.asm = src, newVP8Assembler()
	}
	frame, ts, key, err := v.asm.push(&s.pkt, keyframe)
	if err != nil {
		s.log.Debug("LL-HLS VP8", zap.Error(err))
	}
	if v.asm.needKey {
		s.askVP8Keyframe(now)
	}
	if frame == nil {
		return
	}
	if key {
		if w, h, ok := vp8Size(frame); ok && (v.tc == nil || w != v.w || h != v.h) {
			s.startTranscoder(w, h, now)
		}
	}
	if v.hung(now) {
		s.transcoderFailed(fmt.Sprintf("no output for %v while frames went in", transcodeStall))
	}
	if v.tc == nil {
		if v.canStart(now) {
			s.askVP8Keyframe(now) // a new ffmpeg starts at the next keyframe
		}
		return
	}
	v.fed(now)
	if !v.tc.push(frame, v.stamp(ts)) {
		// ffmpeg is behind: this frame is lost to it, and every one after until a keyframe.
		transcodeDropped.Inc()
		v.asm.drop()
		s.askVP8Keyframe(now)
	}
}

// startTranscoder (re)starts ffmpeg for a w x h picture, unless one failed a moment ago.
func (s *stream) startTranscoder(w, h int, now time.Time) {
	v := &s.vp
	s.stopTranscoder()
	if !v.canStart(now) {
		return
	}
	tc, err := startVP8Transcoder(s.cfg, w, h)
	if err != nil {
		s.transcoderFailed(err.Error())
		return
	}
	v.started(tc)
	v.w, v.h = w, h
	s.log.Info("LL-HLS transcodes the host's VP8 to H.264", zap.String("layer", sfu.LayerName(v.top)),
		zap.Int("width", w), zap.Int("height", h))
}

// handleTranscoded takes one access unit from ffmpeg, or its end (ok false).
func (s *stream) handleTranscoded(t transcodedAU, ok bool) {
	v := &s.vp
	if !ok {
		s.transcoderFailed("")
		return
	}
	v.gotOutput()
	ts, found := v.rtpTimestamp(t.ms)
	if !found {
		s.log.Debug("LL-HLS: a transcoded frame with no known timestamp", zap.Int64("ms", t.ms))
		return
	}
	l := v.src.Layer()
	ls := &s.layers[l]
	if ls.src != v.src {
		if ls.src != nil {
			s.dropVariant(l, "host republished")
		}
		*ls = layerState{src: v.src, transcoded: true, cont: ls.cont} // the playlists go on (continuity)
	}
	s.handleAU(l, ls, t.au, ts)
}

// transcoderFailed stops a crashed, hung or unstartable ffmpeg (transcodeSlot.failed) and
// logs why; the next starts at a keyframe.
func (s *stream) transcoderFailed(why string) {
	v := &s.vp
	why, wait := v.failed(time.Now(), why)
	s.stopTranscoder()
	s.log.Warn("LL-HLS: the VP8 transcoder failed; a new one starts at a keyframe",
		zap.String("why", why), zap.Duration("after", wait))
	v.asm.drop()
}

// askVP8Keyframe asks the VP8 host for a keyframe (the decoder starts at one), once a second.
func (s *stream) askVP8Keyframe(now time.Time) {
	v := &s.vp
	if now.Sub(v.lastPLI) < time.Second || !v.src.CanRequestKeyframe() {
		return
	}
	v.lastPLI = now
	v.src.RequestKeyframe()
}

// layerSeen is when a layer's media (not padding) last came, and since when without a
// second's break.
type layerSeen struct{ first, last time.Time }

// see notes media of layer l at now.
func (v *vp8State) see(l int, now time.Time) {
	s := &v.seen[l]
	if now.Sub(s.last) > time.Second {
		s.first = now
	}
	s.last = now
}

// flowing reports whether layer l has sent media in the last second, for at least d.
func (v *vp8State) flowing(l int, now time.Time, d time.Duration) bool {
	s := v.seen[l]
	return now.Sub(s.last) < time.Second && now.Sub(s.first) >= d
}

// pickTop chooses the layer to transcode: the highest with media. A browser pauses its top
// layer when bandwidth or CPU is short (it then sends padding only): the next one down takes
// over at the next check (housekeep, once a second); a higher layer takes over again once it has flowed for upSwitch, so that a
// layer that flaps does not restart ffmpeg (and the variant) every time.
func (v *vp8State) pickTop(now time.Time) {
	if v.src != nil && v.flowing(v.top, now, 0) {
		for l := numLayers - 1; l > v.top; l-- {
			if v.flowing(l, now, upSwitch) {
				v.top = l
				return
			}
		}
		return
	}
	for l := numLayers - 1; l >= 0; l-- {
		if v.flowing(l, now, 0) {
			v.top = l
			return
		}
	}
}

const upSwitch = 5 * time.Second
