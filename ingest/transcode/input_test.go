package transcode

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
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
	write := func(i int, au []byte) {
		t.Helper()
		d := time.Duration(i) * time.Second / 30
		if err := in.writeH264(d, d, [][]byte{au}); err != nil {
			t.Fatal(err)
		}
	}
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
