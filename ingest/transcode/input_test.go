package transcode

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"go.uber.org/zap/zaptest"
)

// TestInputQueueBytes: the input queue is bounded in bytes as well as in access units. A few
// large keyframes fill 8 MiB long before 256 frames; the next one overflows (dropped and
// counted, video then waits for a keyframe), and the budget comes back as the feeder writes.
func TestInputQueueBytes(t *testing.T) {
	const mib = 1 << 20
	in := newInput(true, false, mpeg4audio.AudioSpecificConfig{}, testSPS, testPPS, 256, 8*mib)
	if _, _, err := in.restart(1, false, false); err != nil {
		t.Fatal(err)
	}
	idr := make([]byte, 3*mib)
	idr[0] = 0x65
	write := frameWriter(t, in)
	write(0, idr)
	write(1, idr)
	if len(in.queue) != 2 || in.queued.Load() < 6*mib {
		t.Fatalf("%d chunks, %d bytes queued after two 3 MiB keyframes", len(in.queue), in.queued.Load())
	}
	dropped := counterValue(inputDropped)
	write(2, idr) // 9 MiB > 8 MiB
	if got := counterValue(inputDropped) - dropped; got != 1 || len(in.queue) != 2 {
		t.Fatalf("third keyframe: %v dropped, %d chunks queued; want 1 dropped, 2 queued", got, len(in.queue))
	}
	write(3, []byte{0x41, 0x9a}) // fits, but follows a gap: must wait for a keyframe
	if len(in.queue) != 2 {
		t.Fatalf("a P-frame after an overflow was queued")
	}

	// The feeder gives the budget back as ffmpeg reads.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go io.Copy(io.Discard, r)
	stop, fed := make(chan struct{}), make(chan struct{})
	go func() { defer close(fed); in.feed(1, in.queueOf(), w, stop) }()
	waitFor(t, 5*time.Second, "the queue to drain", func() bool { return in.queued.Load() == 0 })
	close(stop)
	<-fed
	w.Close()
	write(4, idr)
	if len(in.queue) != 1 {
		t.Fatalf("a keyframe after the queue drained was not queued")
	}
	in.close()
	if n := in.queued.Load(); n != 0 {
		t.Fatalf("%d bytes still counted after close", n)
	}
}

// TestInputQueueBytesAudio: audio is bounded by bytes too, and dropped frame by frame.
func TestInputQueueBytesAudio(t *testing.T) {
	const mib = 1 << 20
	var aac mpeg4audio.AudioSpecificConfig
	if err := aac.Unmarshal([]byte{0x12, 0x10}); err != nil {
		t.Fatal(err)
	}
	in := newInput(false, true, aac, nil, nil, 256, 8*mib)
	if _, _, err := in.restart(1, false, false); err != nil {
		t.Fatal(err)
	}
	defer in.close()
	au := make([]byte, 3*mib)
	dropped := counterValue(inputDropped)
	for i := range 3 {
		if err := in.writeAAC(time.Duration(i)*23*time.Millisecond, au); err != nil {
			t.Fatal(err)
		}
	}
	if got := counterValue(inputDropped) - dropped; got != 1 || len(in.queue) != 2 {
		t.Fatalf("%v dropped, %d queued; want 1 dropped, 2 queued", got, len(in.queue))
	}
}

// TestAccessUnitTooLarge: one access unit over MaxAccessUnitBytes is refused with a clear
// error rather than queued or packetized.
func TestAccessUnitTooLarge(t *testing.T) {
	l, err := Start(t.Context(), Config{FFmpeg: "/nonexistent/ffmpeg"}, passthroughSource(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	half := make([]byte, MaxAccessUnitBytes/2+1)
	half[0] = 0x41
	if err := l.WriteH264(0, 0, [][]byte{half, half}); !errors.Is(err, ErrAccessUnitTooLarge) {
		t.Errorf("WriteH264 of %d bytes: %v, want ErrAccessUnitTooLarge", 2*len(half), err)
	}
	if err := l.WriteH264(0, 0, [][]byte{half[:MaxAccessUnitBytes/2], half[:MaxAccessUnitBytes/2]}); err != nil {
		t.Errorf("WriteH264 of exactly MaxAccessUnitBytes: %v", err)
	}
	if err := l.WriteAAC(0, make([]byte, MaxAccessUnitBytes+1)); !errors.Is(err, ErrAccessUnitTooLarge) {
		t.Errorf("WriteAAC of %d bytes: %v, want ErrAccessUnitTooLarge", MaxAccessUnitBytes+1, err)
	}
}

// TestInputFeedsTheOutgoingProcess: during a handover the process being handed over from
// gets every access unit too, in its own MPEG-TS stream (its chunks tagged with its
// generation, in its own queue and budget), from the keyframe on where its queue was full;
// once it is retired (endHandover) only the successor gets input.
func TestInputFeedsTheOutgoingProcess(t *testing.T) {
	in := newInput(true, true, mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}, testSPS, testPPS, 4, 1<<24)
	if _, _, err := in.restart(1, false, false); err != nil {
		t.Fatal(err)
	}
	idr, p := []byte{0x65, 0x88}, []byte{0x41, 0x9a}
	write := frameWriter(t, in)
	write(0, idr)
	old, oldBudget := in.queueOf(), in.queued
	if _, _, err := in.restart(2, false, true); err != nil {
		t.Fatal(err)
	}
	next := in.queueOf()
	write(1, idr)
	if err := in.writeAAC(time.Second/30, []byte{0x21, 0x10}); err != nil {
		t.Fatal(err)
	}
	write(2, p)
	var oldTS bytes.Buffer // what the outgoing process reads: one MPEG-TS stream
	gens := func(q chan chunk) (g []uint64) {
		for len(q) > 0 {
			c := <-q
			g = append(g, c.gen)
			if q == old {
				oldTS.Write(c.b.Bytes())
			}
			in.release(c)
		}
		return g
	}
	if g := gens(old); len(g) != 4 || g[1] != 1 || g[3] != 1 {
		t.Errorf("the outgoing process's queue got generations %v; want its keyframe before the handover, then the keyframe, audio and P-frame after it, all generation 1", g)
	}
	// Its bytes are one stream, as its ffmpeg reads them: muxed by its own writer (tables
	// and continuity counters go on), its frames in order.
	if pts, errs := demuxVideo(t, oldTS.Bytes()); errs > 0 || len(pts) < 2 || pts[0] != 0 || pts[1] != 3000 {
		t.Errorf("the outgoing process's stream demuxes to video pts %v (90 kHz) with %d errors; want 0, 3000[, 6000] and none", pts, errs)
	}
	if oldBudget.Load() != 0 {
		t.Errorf("%d bytes left counted against the outgoing queue", oldBudget.Load())
	}
	if g := gens(next); len(g) != 3 || g[0] != 2 || g[2] != 2 {
		t.Errorf("the successor's queue got generations %v; want three units of generation 2", g)
	}

	// A full outgoing queue drops for it alone, and it waits for a keyframe after that.
	for i := range 4 {
		write(3+i, idr)
	}
	gens(next)
	write(7, p) // the outgoing queue is full (4): dropped for it
	gens(old)
	write(8, p) // room again, but no keyframe since the drop
	if len(old) != 0 || len(next) != 2 {
		t.Errorf("after a drop for the outgoing process: %d queued for it (want 0: it waits for a keyframe), %d for the successor (want 2)", len(old), len(next))
	}
	write(9, idr)
	if len(old) != 1 {
		t.Errorf("the keyframe after the drop was not given to the outgoing process")
	}
	gens(old)
	gens(next)

	in.endHandover(1)
	write(10, idr)
	if len(old) != 0 || len(next) != 1 {
		t.Errorf("after endHandover: %d queued for the retired process, %d for the successor; want 0 and 1", len(old), len(next))
	}
	in.close()
}

// demuxVideo reads an MPEG-TS stream as ffmpeg would and returns its H.264 frames' pts and
// the decode errors (continuity, tables) met.
func demuxVideo(t *testing.T, b []byte) (pts []int64, errs int) {
	t.Helper()
	r := &mpegts.Reader{R: bufio.NewReader(bytes.NewReader(b))}
	if err := r.Initialize(); err != nil {
		t.Fatalf("the stream has no tables: %v", err)
	}
	r.OnDecodeError(func(error) { errs++ })
	for _, tr := range r.Tracks() {
		if _, ok := tr.Codec.(*codecs.H264); ok {
			r.OnDataH264(tr, func(p, _ int64, _ [][]byte) error { pts = append(pts, p); return nil })
		}
	}
	for r.Read() == nil {
	}
	return pts, errs
}

// frameWriter writes access unit au as the host's frame i (30 fps) into in.
func frameWriter(t *testing.T, in *input) func(i int, au []byte) {
	return func(i int, au []byte) {
		t.Helper()
		d := time.Duration(i) * time.Second / 30
		if err := in.writeH264(d, d, [][]byte{au}); err != nil {
			t.Fatal(err)
		}
	}
}
