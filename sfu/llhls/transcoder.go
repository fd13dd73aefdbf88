package llhls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// transcoder is one ffmpeg that a stream feeds while its LL-HLS runs (it stops IdleTimeout
// after the last request): a VP8 host's top layer in as IVF, H.264 out (stream_vp8.go), or
// the host's Opus in as Ogg, AAC out (stream_aac.go); what comes back is FLV (flv.go).
// Neither side ever blocks the stream's goroutine: frames wait in a few reused buffers, and
// when those are full the frame is dropped (the caller decides what that costs).
type transcoder struct {
	cmd    *exec.Cmd
	stdin  *os.File
	format func(dst, frame []byte, stamp int64) []byte // a frame as the input container has it
	frames chan []byte                                 // formatted frames to write
	free   chan []byte                                 // their buffers, back from the writer
	out    chan transcodedAU
	quit   chan struct{}
	wg     sync.WaitGroup
	stderr tail
	errMu  sync.Mutex
	err    error // why it ended, once it did
	once   sync.Once
}

// transcodedAU is one H.264 access unit or AAC frame (au[0]) from ffmpeg and its pts in
// milliseconds, which is what its input went in with.
type transcodedAU struct {
	au     [][]byte
	ms     int64
	audio  bool
	config []byte // an AAC frame's AudioSpecificConfig (shared, read-only)
}

const transcodeBuffers = 8

// transcodersRunning counts the ffmpeg processes started and not yet reaped (the gauge's
// value, for tests).
var transcodersRunning atomic.Int64

// transcodeArgs (VP8 to H.264): decode with one thread (frame threads hold frames back), encode for low
// delay (zerolatency: no lookahead, no B-frames), a keyframe every segment, and keep the
// input's timestamps so that each frame finds its RTP timestamp again.
func transcodeArgs(segment time.Duration, maxKbps int, passthrough []string) []string {
	kbps := strconv.Itoa(maxKbps) + "k"
	args := []string{
		"-hide_banner", "-loglevel", "error",
		"-flags", "low_delay", "-probesize", "32", "-analyzeduration", "0", // not -fflags nobuffer: VP8 from IVF then fails to decode
		"-threads", "1", "-f", "ivf", "-i", "pipe:0",
		"-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
		"-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0",
		"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%g)", segment.Seconds()),
		"-crf", "23", "-maxrate", kbps, "-bufsize", kbps,
		"-copyts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1",
	}
	return append(append(args, passthrough...), "-f", "flv", "pipe:1")
}

// passthroughArgs tells ffmpeg to pass every frame with its timestamp: -fps_mode from 5.1 on,
// -vsync before it (Ubuntu 22.04 has 4.4; later versions deprecate -vsync).
func passthroughArgs(ffmpeg string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-h", "full").Output()
	if bytes.Contains(out, []byte("-fps_mode")) {
		return []string{"-fps_mode", "passthrough"}
	}
	return []string{"-vsync", "passthrough"}
}

// startVP8Transcoder starts ffmpeg for a w x h VP8 stream.
func startVP8Transcoder(cfg Config, w, h int) (*transcoder, error) {
	args := transcodeArgs(cfg.SegmentDuration, cfg.TranscodeMaxKbps, cfg.passthrough)
	return startTranscoder(cfg.FFmpeg, args, ivfHeader(w, h), appendIVFFrame)
}

// startTranscoder starts ffmpeg with args, writes header to its stdin, and formats every
// frame pushed with format.
func startTranscoder(ffmpeg string, args []string, header []byte, format func(dst, frame []byte, stamp int64) []byte) (*transcoder, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	t := &transcoder{
		stdin: inW, format: format, frames: make(chan []byte, transcodeBuffers), free: make(chan []byte, transcodeBuffers),
		out: make(chan transcodedAU, 16), quit: make(chan struct{}),
	}
	for range transcodeBuffers {
		t.free <- make([]byte, 0, 64<<10)
	}
	t.cmd = exec.Command(ffmpeg, args...)
	t.cmd.Stdin, t.cmd.Stdout, t.cmd.Stderr = inR, outW, &t.stderr
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = t.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("llhls: start ffmpeg: %w", err)
	}
	transcodersActive.Inc()
	transcodersRunning.Add(1)
	if _, err := inW.Write(header); err != nil {
		t.fail(err)
	}
	t.wg.Add(2)
	go t.write()
	go t.read(outR)
	return t, nil
}

// push queues one frame; false when every buffer is taken (the frame is dropped).
func (t *transcoder) push(frame []byte, stamp int64) bool {
	select {
	case b := <-t.free:
		t.frames <- t.format(b[:0], frame, stamp)
		return true
	default:
		return false
	}
}

func (t *transcoder) write() {
	defer t.wg.Done()
	defer t.stdin.Close() // ffmpeg sees the end of its input
	for {
		select {
		case <-t.quit:
			return
		case b := <-t.frames:
			_, err := t.stdin.Write(b)
			t.free <- b
			if err != nil {
				t.fail(err)
				return
			}
		}
	}
}

// read hands ffmpeg's access units on; out is closed when ffmpeg's output ends.
func (t *transcoder) read(outR *os.File) {
	defer t.wg.Done()
	defer close(t.out)
	defer outR.Close()
	f := newFLVReader(outR)
	err := f.header()
	var config []byte
	for err == nil {
		var au [][]byte
		var ms int64
		var audio bool
		if au, ms, audio, err = f.next(); err != nil {
			break
		}
		out := transcodedAU{au: cloneAU(au), ms: ms, audio: audio}
		if audio {
			if !bytes.Equal(f.asc, config) {
				config = bytes.Clone(f.asc)
			}
			out.config = config
		}
		select {
		case t.out <- out:
		case <-t.quit:
			return
		}
	}
	if !errors.Is(err, io.EOF) {
		t.fail(err)
	}
	t.fail(errors.New("ffmpeg's output ended"))
}

func (t *transcoder) fail(err error) {
	t.errMu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.errMu.Unlock()
}

// reason says why the transcoder ended, with the end of ffmpeg's stderr.
func (t *transcoder) reason() string {
	t.errMu.Lock()
	defer t.errMu.Unlock()
	msg := "ended"
	if t.err != nil {
		msg = t.err.Error()
	}
	if s := t.stderr.String(); s != "" {
		msg += ": " + s
	}
	return msg
}

// stop kills ffmpeg (a live stream has nothing to flush) and waits for everything it ran.
func (t *transcoder) stop() {
	t.once.Do(func() {
		close(t.quit)
		_ = unix.Kill(-t.cmd.Process.Pid, unix.SIGKILL)
		t.wg.Wait()
		_ = t.cmd.Wait()
		transcodersActive.Dec()
		transcodersRunning.Add(-1)
	})
}

// tail keeps the last bytes written to it (ffmpeg's stderr, for the log).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 1024

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > tailBytes {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailBytes:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
