package llhls

import "time"

// A video frame waits (in its layer's holdback) until the room's audio has reached its
// timestamp, so that every part carries all the audio it spans.
//
// gohlslib writes a sample into the open part only when the track's next sample arrives
// (it needs that to know the duration), and closes a part on a video frame. Opus comes in
// 20 ms packets sent after they are captured, so when video was muxed as it came, the
// audio packet that started just before a part's end was still held when the part closed
// and went into the next part: the audio part declared to end at t held audio to t-16 ms.
// hls.js plays audio parts by their declared end; its buffer ended short of it, it took
// that for a part it had already loaded ("loop loading") and stopped loading audio until
// the next segment: a 1.4 s stall every 20-40 s in Chromium (webclient/e2e/hls_latency.mjs).
// Muxing a frame only once an audio packet at or after its timestamp has been written
// flushes every earlier audio packet into the part first. It costs the wait for that packet
// (about a packet's length); audioHold bounds it for a host whose audio stops (DTX, a
// muted track).
// AAC comes out of ffmpeg 38-64 ms after the Opus at or past its time went in (the
// encoder's frame and look-ahead; measured), and a sender holds each Opus packet its 20 ms
// first, so with AAC the bound is aacHold.
const (
	audioHold = 80 * time.Millisecond
	aacHold   = 150 * time.Millisecond
)

// holdCap is how many frames a layer holds at most (a second is far more than audioHold
// needs at any frame rate); a full holdback writes its oldest frame at once.
const holdCap = 32

// heldFrame is one access unit waiting to be muxed; its bytes live in buf, reused.
type heldFrame struct {
	ntp     time.Time
	pts     int64
	size    int
	arrived time.Time
	buf     []byte
	au      [][]byte // slices of buf
}

// holdback is a layer's queue of frames waiting for audio: a ring whose slots keep their
// buffers, so holding a frame allocates nothing once the ring has warmed up.
type holdback struct {
	slots [holdCap]heldFrame
	head  int
	n     int
}

func (h *holdback) len() int { return h.n }

// push copies au into the next slot; the caller makes room first when the ring is full.
func (h *holdback) push(ntp time.Time, pts int64, au [][]byte, size int, now time.Time) {
	f := &h.slots[(h.head+h.n)%holdCap]
	h.n++
	f.ntp, f.pts, f.size, f.arrived = ntp, pts, size, now
	f.buf = f.buf[:0]
	for _, n := range au {
		f.buf = append(f.buf, n...)
	}
	// Sliced once buf is whole: an append above may have moved it.
	f.au = f.au[:0]
	off := 0
	for _, n := range au {
		f.au = append(f.au, f.buf[off:off+len(n):off+len(n)])
		off += len(n)
	}
}

// front is the oldest frame; its access unit is valid until the next push.
func (h *holdback) front() *heldFrame { return &h.slots[h.head] }

func (h *holdback) pop() {
	h.head = (h.head + 1) % holdCap
	h.n--
}

func (h *holdback) reset() { h.head, h.n = 0, 0 }
