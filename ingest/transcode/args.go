package transcode

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// rtpTarget is where one ffmpeg output sends: our sockets and the local ports ffmpeg must
// send from (so the kernel can filter on them: see output.connect).
type rtpTarget struct {
	Port, RTCPPort           int // our RTP and RTCP sockets
	LocalPort, LocalRTCPPort int // ffmpeg's side
	SSRC                     uint32
	PayloadType              uint8
}

// url is the rtp:// URL of an ffmpeg output. rtcpport sends ffmpeg's sender reports to our
// RTCP socket rather than to Port+1, which might be anyone's.
func (t rtpTarget) url() string {
	return fmt.Sprintf("rtp://127.0.0.1:%d?localport=%d&localrtcpport=%d&rtcpport=%d&pkt_size=%d",
		t.Port, t.LocalPort, t.LocalRTCPPort, t.RTCPPort, rtpPacketSize)
}

// rtpPacketSize keeps every datagram under a typical path MTU once the SFU has added SRTP,
// header extensions and the UDP/IP headers.
const rtpPacketSize = 1200

// jobArgs is one ffmpeg run: which outputs it makes and where they go.
type jobArgs struct {
	Cfg   Config      // after Defaults
	FPS   float64     // source frame rate, 0 when unknown
	Rungs []rung      // video renditions, tallest first; empty: no video output (passthrough)
	Video []rtpTarget // one per rung
	Audio *rtpTarget  // nil: no audio output
	// Seek starts every output this far into the input (0: at its start): a process given
	// the held GOP decodes it and encodes from its newest frame on (replay.go).
	Seek time.Duration
}

// defaultFPS stands in for an unknown source frame rate when counting the GOP in frames.
const defaultFPS = 30

// build returns ffmpeg's arguments (without the program name).
func (j jobArgs) build() []string {
	a := []string{
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		// Low-latency input: decode from the first packet and probe as little as possible
		// (the MPEG-TS PMT already says which codecs arrive). Not -fflags nobuffer: it
		// throws away the packets the probe read, the host's first IDR among them, and
		// the decoder then waited a whole GOP for the next: the first picture came 1.1 s
		// after the host's first frame instead of 0.17 s (docs/BENCHMARKS.md).
		"-fflags", "+genpts", "-flags", "low_delay",
		"-probesize", "32", "-analyzeduration", "0",
		"-f", "mpegts", "-i", "pipe:0",
	}
	if len(j.Rungs) > 0 {
		a = append(a, "-filter_complex", j.filterGraph())
		frameThreads := j.pixelRate() > slicedPixelRate
		for i, r := range j.Rungs {
			a = append(a, "-map", fmt.Sprintf("[v%d]", i))
			a = append(a, j.x264Args(r, frameThreads)...)
			a = append(a, j.seekArgs()...)
			a = append(a, "-an", "-f", "rtp",
				"-ssrc", ssrcArg(j.Video[i].SSRC),
				"-payload_type", strconv.Itoa(int(j.Video[i].PayloadType)),
				j.Video[i].url())
		}
	}
	if j.Audio != nil {
		a = append(a, "-map", "0:a:0", "-vn",
			"-c:a", "libopus", "-b:a", strconv.Itoa(j.Cfg.AudioBitrate),
			"-ar", "48000", "-ac", "2", "-application", "lowdelay", "-frame_duration", "20")
		a = append(a, j.seekArgs()...)
		a = append(a, "-f", "rtp",
			"-ssrc", ssrcArg(j.Audio.SSRC),
			"-payload_type", strconv.Itoa(int(j.Audio.PayloadType)),
			j.Audio.url())
	}
	return a
}

// seekArgs start an output at Seek: ffmpeg decodes and discards what comes before it.
func (j jobArgs) seekArgs() []string {
	if j.Seek <= 0 {
		return nil
	}
	return []string{"-ss", strconv.FormatFloat(j.Seek.Seconds(), 'f', 3, 64)}
}

// filterGraph decodes once and scales once per rung: one split rather than one decoder per
// output, which would double the decoding CPU.
func (j jobArgs) filterGraph() string {
	var b strings.Builder
	n := len(j.Rungs)
	if n == 1 {
		fmt.Fprintf(&b, "[0:v:0]scale=%d:%d:flags=bilinear[v0]", j.Rungs[0].Width, j.Rungs[0].Height)
		return b.String()
	}
	fmt.Fprintf(&b, "[0:v:0]split=%d", n)
	for i := range n {
		fmt.Fprintf(&b, "[s%d]", i)
	}
	for i, r := range j.Rungs {
		// bilinear: on 2 cores the ladder must stay real time; the difference from bicubic
		// is not visible at these bitrates.
		fmt.Fprintf(&b, ";[s%d]scale=%d:%d:flags=bilinear[v%d]", i, r.Width, r.Height, i)
	}
	return b.String()
}

// x264Args encode one rung for WebRTC: constrained baseline (every browser decodes it in
// hardware or software), no B-frames (the SFU forwards in decode order, and B-frames add a
// frame of delay), a keyframe every GOP and never elsewhere (scene cuts would add keyframes
// viewers do not need), SPS/PPS before every IDR (viewers join mid-stream), and zero-latency
// rate control with a one-second VBV.
func (j jobArgs) x264Args(r rung, frameThreads bool) []string {
	fps := j.fps()
	x264 := "repeat-headers=1:fps=" + strconv.FormatFloat(fps, 'f', -1, 64)
	if frameThreads {
		x264 += ":sliced-threads=0"
	}
	gopFrames := max(1, int(math.Round(fps*j.Cfg.GOP.Seconds())))
	br := strconv.Itoa(r.Bitrate)
	return []string{
		"-c:v", "libx264", "-preset", j.Cfg.Preset, "-tune", "zerolatency",
		"-profile:v", "baseline", "-level:v", levelFor(r.Width, r.Height, fps), "-pix_fmt", "yuv420p", "-bf", "0",
		"-g", strconv.Itoa(gopFrames), "-keyint_min", strconv.Itoa(gopFrames), "-sc_threshold", "0",
		// The frame count above assumes a steady rate; RTMP sources are often variable, so
		// keyframes are also forced by time.
		"-force_key_frames", "expr:gte(t,n_forced*" + seconds(j.Cfg.GOP) + ")",
		"-b:v", br, "-maxrate", br, "-bufsize", br,
		// fps: the low-probe input leaves the frame rate unknown, and x264 would take the
		// 90 kHz clock's for it; it sizes rate control per frame from this (timestamps still
		// pass through).
		"-x264-params", x264,
		"-threads", "2", "-fps_mode", "passthrough",
	}
}

// fps is the source frame rate, or defaultFPS when unknown or absurd.
func (j jobArgs) fps() float64 {
	if j.FPS <= 0 || j.FPS > 240 || math.IsNaN(j.FPS) {
		return defaultFPS
	}
	return j.FPS
}

// pixelRate is how many pixels a second the ladder encodes.
func (j jobArgs) pixelRate() float64 {
	px := 0
	for _, r := range j.Rungs {
		px += r.Width * r.Height
	}
	return float64(px) * j.fps()
}

// slicedPixelRate is the most a ladder may encode with x264's sliced threads, which
// -tune zerolatency picks: each frame is split across the threads, so it adds no delay, but
// ffmpeg (5.x) calls its encoders one after another on one thread and waits for each, so the
// cores idle between them. Measured on the 2-core machine (docs/BENCHMARKS.md): 720p30 + 480p30
// (40 Mpx/s) kept real time sliced; 1080p + 720p + 480p at 30 fps (101 Mpx/s) fell to
// 21 fps sliced and kept 29 fps with frame threads, which cost one frame (33 ms) of delay.
const slicedPixelRate = 60e6

// seconds formats d for an ffmpeg expression.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// ssrcArg formats an SSRC for ffmpeg's -ssrc, a signed 32-bit option: SSRCs of 2^31 and up
// are passed as the negative number with the same bits, which is what ffmpeg then sends.
func ssrcArg(ssrc uint32) string { return strconv.FormatInt(int64(int32(ssrc)), 10) }
