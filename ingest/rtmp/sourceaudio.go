package rtmp

import (
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtcp"

	"github.com/glintlive/glint/sfu"
)

// sourceAudio hands the host's AAC to the room as it came (sfu.SourceAudio), so LL-HLS
// serves the encoder's own audio rather than the ladder's Opus transcoded back to AAC.
// Each unit is dated on the media clock of the stage's video, which the ladder's sender
// reports define:
//   - passthrough: a report is sent as a frame is written, dated now, every second, so
//     stream time t is at the latest report's time plus (t - that frame's decode time).
//     Each report moves the anchor with the host's arrival, as it moves the video's clock:
//     LL-HLS reads both when its stream starts, which may be long after the first;
//   - ffmpeg: its RTP muxer dates its first report when its first packet leaves and counts
//     the timestamps from the stream's start (the earliest time written to it), so t is at
//     that report's time plus t less that start; later reports follow from the first.
//
// Units before the video's first report are not passed on: LL-HLS starts its variants at a
// keyframe after the audio clock, so nothing that would be muxed is lost. A stream with no
// video is dated by the arrival of its first unit.
type sourceAudio struct {
	rate        uint32
	video       bool
	passthrough bool

	mu       sync.Mutex
	out      *sfu.SourceAudio // nil until the session is on the stage
	lastDTS  time.Duration    // the decode time of the last video frame written
	haveKey  bool             // a keyframe has been written
	start    time.Duration    // the earliest time written to the ladder
	started  bool
	anchor   time.Time // the capture time of stream time 0
	anchored bool

	// the feeder's goroutine only
	next     uint32 // where the next unit starts when on the grid
	haveNext bool
}

// newSourceAudio returns the stamper for src, or nil when its audio is not one LL-HLS
// can carry as it came: AAC-LC in mono or stereo (what every HLS player decodes; other
// AAC goes through the ladder's Opus as before).
func newSourceAudio(src Source, passthrough bool) *sourceAudio {
	if !src.HasAudio {
		return nil
	}
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(src.AudioConfig); err != nil {
		return nil
	}
	if c.Type != mpeg4audio.ObjectTypeAACLC || c.ExtensionType != 0 || c.ChannelConfig < 1 || c.ChannelConfig > 2 || c.SampleRate <= 0 {
		return nil
	}
	return &sourceAudio{rate: uint32(c.SampleRate), video: src.HasVideo, passthrough: passthrough}
}

// offer puts the audio on room's stage for host session p; false when p is no longer the
// host.
func (a *sourceAudio) offer(room *sfu.Room, p *sfu.Peer, config []byte) bool {
	if a == nil {
		return true
	}
	out := room.SetSourceAudio(p, config, a.rate)
	a.mu.Lock()
	a.out = out
	a.mu.Unlock()
	return out != nil
}

// wroteVideo notes a video frame about to be written to the ladder (dts: its decode
// time), before it is: a passthrough's report comes from inside the write.
func (a *sourceAudio) wroteVideo(dts time.Duration, keyframe bool) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.note(dts)
	a.lastDTS, a.haveKey = dts, a.haveKey || keyframe
}

// wroteAudio notes an audio unit about to be written to the ladder.
func (a *sourceAudio) wroteAudio(t time.Duration) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.note(t)
}

// note keeps the earliest time written: ffmpeg's zero.
func (a *sourceAudio) note(t time.Duration) {
	if !a.started || t < a.start {
		a.start, a.started = t, true
	}
}

// videoReport takes a sender report of the stage's video: a passthrough's each, made as a
// frame is written, anchors the audio; an ffmpeg's first does.
func (a *sourceAudio) videoReport(sr *rtcp.SenderReport) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ref := a.start
	switch {
	case a.passthrough && !a.haveKey:
		return
	case a.passthrough:
		ref = a.lastDTS
	case a.anchored:
		return
	}
	a.anchor, a.anchored = sfu.NTPTime(sr.NTPTime).Add(-ref), true
}

// write passes one AAC unit at stream time t on to the room.
func (a *sourceAudio) write(t time.Duration, unit []byte) {
	if a == nil {
		return
	}
	a.mu.Lock()
	if !a.anchored && !a.video {
		a.anchor, a.anchored = time.Now().Add(-t), true
	}
	out, anchor, ok := a.out, a.anchor, a.anchored
	a.mu.Unlock()
	if !ok || out == nil {
		return
	}
	ts := uint32(int64(t/time.Second)*int64(a.rate) + int64(t%time.Second)*int64(a.rate)/int64(time.Second))
	// RTMP dates units in whole milliseconds: a unit within half a frame of where the last
	// one ends starts there, so frames stay exactly a frame's samples apart.
	const frame = mpeg4audio.SamplesPerAccessUnit
	if d := int32(ts - a.next); a.haveNext && d > -frame/2 && d < frame/2 {
		ts = a.next
	}
	a.next, a.haveNext = ts+frame, true
	out.Write(ts, anchor.Add(t), unit)
}
