package transcode

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// input muxes the host's access units into MPEG-TS for ffmpeg's stdin. Muxing happens on the
// caller's goroutine (the RTMP reader) and is cheap; the write into the pipe, which blocks
// when ffmpeg falls behind, happens on the process's feeder goroutine behind a bounded queue,
// so the RTMP reader never waits for ffmpeg. The queue is bounded in access units and in bytes
// (an access unit can be megabytes); a full queue drops video until the next keyframe (a
// decoder cannot use frames after a gap) and drops audio frame by frame.
type input struct {
	video, audio bool // what goes into the stream (passthrough sends audio only)
	aac          mpeg4audio.AudioSpecificConfig

	mu      sync.Mutex
	gen     uint64 // the ffmpeg process the muxer's stream belongs to
	w       *mpegts.Writer
	vTrack  *mpegts.Track
	aTrack  *mpegts.Track
	buf     bytes.Buffer
	waitKey bool    // dropping video until a keyframe: a new process, or after an overflow
	gop     heldGOP // the host's input since its last keyframe, for a restarted process (replay.go)
	params  params
	closed  bool
	// queue is the current process's; a process being handed over from (process.go) keeps
	// feeding from the queue it had, which goes on getting input (prev), so it goes on
	// while its successor starts.
	queue    chan chunk
	prev     *outgoing // the process being handed over from, fed too (handoverfeed.go)
	maxBytes int64
	// current is gen, for the feeders (which do not take mu): only the current process's
	// feeder reports lag.
	current atomic.Uint64
	// queued is the bytes of the current queue's chunks, in it or being written by its
	// feeder: added under mu by enqueue, subtracted by release (through the chunk's own
	// pointer) once a chunk is back in the pool. Each queue has its own, so the backlog of
	// a process being handed over from is not counted against its successor's; input may
	// then hold up to twice maxBytes, for the handover (at most 3 s).
	queued   *atomic.Int64
	lastFeed atomic.Int64 // unix nanos of the last input for a running process: "input flows" for stall detection
	// lag is how long the last access unit ffmpeg took had waited in the queue (nanos):
	// how far behind the process is (shed.go).
	lag      atomic.Int64
	writing  atomic.Int64 // when the access unit being written to ffmpeg was queued; 0 between writes
	gapEnded atomic.Int64 // unix nanos of the first input after a pause of inputGap or more
}

// chunk is the MPEG-TS of one access unit, tagged with the process it was muxed for and
// when it was queued.
type chunk struct {
	gen    uint64
	at     int64
	b      *bytes.Buffer
	budget *atomic.Int64 // the queued of the queue it went into
}

var chunkPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newInput(video, audio bool, aac mpeg4audio.AudioSpecificConfig, sps, pps []byte, queueFrames, queueBytes int) *input {
	in := &input{video: video, audio: audio, aac: aac, queue: make(chan chunk, queueFrames), maxBytes: int64(queueBytes), queued: new(atomic.Int64)}
	in.params.sps, in.params.pps = append([]byte(nil), sps...), append([]byte(nil), pps...)
	if len(sps) == 0 || len(pps) == 0 {
		in.params.sps, in.params.pps = nil, nil
	}
	return in
}

// restart begins a new MPEG-TS stream for process gen: fresh tables and continuity
// counters, and nothing left over from the last process. With replay it starts with the
// held GOP (replay.go) and says where the process should start its outputs (ok false: it
// gets video from the host's next keyframe). With handover the last process's queue is
// left to its feeder (it still runs, see supervisor.watch) and gen gets a new one;
// without, what is queued is dropped.
func (in *input) restart(gen uint64, replay, handover bool) (seek time.Duration, ok bool, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if handover {
		in.handOver()
		in.queue, in.queued = make(chan chunk, cap(in.queue)), new(atomic.Int64)
	} else {
		in.prev = nil
		in.drain()
	}
	in.gen = gen
	in.current.Store(gen)
	in.writing.Store(0)
	in.lag.Store(0)
	in.buf.Reset()
	in.w = &mpegts.Writer{W: &in.buf}
	in.vTrack, in.aTrack = nil, nil
	if in.video {
		in.vTrack = &mpegts.Track{Codec: &codecs.H264{}}
		in.w.Tracks = append(in.w.Tracks, in.vTrack)
	}
	if in.audio {
		in.aTrack = &mpegts.Track{Codec: &codecs.MPEG4Audio{Config: in.aac}}
		in.w.Tracks = append(in.w.Tracks, in.aTrack)
	}
	in.waitKey = true
	if err := in.w.Initialize(); err != nil {
		return 0, false, fmt.Errorf("transcode: MPEG-TS writer: %w", err)
	}
	if !replay || !in.video || !in.gop.ok || len(in.gop.aus) == 0 || len(in.gop.arena) > int(in.maxBytes/2) {
		return 0, false, nil
	}
	newest := in.gop.newestVideo()
	for _, h := range in.gop.aus {
		var err error
		switch {
		case h.video:
			err = in.w.WriteH264(in.vTrack, ticks90k(h.pts), ticks90k(h.dts), h.nalus)
		case in.audio && h.pts >= newest-replayAudio:
			err = in.w.WriteMPEG4Audio(in.aTrack, ticks90k(h.pts), h.nalus)
		}
		if err != nil {
			return 0, false, fmt.Errorf("transcode: mux the held GOP: %w", err)
		}
	}
	in.enqueue() // one chunk: the queue's count of access units does not bound the replay
	in.waitKey = false
	replayedRestarts.Inc()
	return in.gop.seek(), true, nil
}

// pause discards input while no ffmpeg runs (between a crash and the restart): queueing it
// would only be thrown away, and would count as drops.
func (in *input) pause() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.w, in.prev = nil, nil
	in.drain()
}

func (in *input) drain() { in.drainQueue(in.queue) }

// writeH264 muxes one access unit; it never blocks on ffmpeg.
func (in *input) writeH264(pts, dts time.Duration, au [][]byte) error {
	if len(au) == 0 {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrClosed
	}
	if !in.video {
		return nil
	}
	au = in.params.apply(au)
	key := isKeyframe(au)
	if pts < dts {
		pts = dts // a broken composition offset; ffmpeg would drop the frame
	}
	in.gop.holdVideo(pts, dts, au, key) // also between processes: a restart replays it
	if in.w == nil {
		return nil
	}
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	in.toOutgoing(n, key, func(p *outgoing) error {
		return p.w.WriteH264(p.vTrack, ticks90k(pts), ticks90k(dts), au)
	})
	if in.full(n) {
		in.overflow()
		return nil
	}
	if in.waitKey && !key {
		return nil // the process cannot decode it without the keyframe it depends on
	}
	if err := in.w.WriteH264(in.vTrack, ticks90k(pts), ticks90k(dts), au); err != nil {
		in.buf.Reset()
		return fmt.Errorf("transcode: mux H.264: %w", err)
	}
	in.waitKey = false
	in.enqueue()
	return nil
}

// writeAAC muxes one raw AAC access unit; it never blocks on ffmpeg.
func (in *input) writeAAC(pts time.Duration, au []byte) error {
	if len(au) == 0 {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrClosed
	}
	if !in.audio {
		return nil
	}
	in.gop.holdAudio(pts, au)
	if in.w == nil {
		return nil
	}
	in.toOutgoing(len(au), true, func(p *outgoing) error {
		return p.w.WriteMPEG4Audio(p.aTrack, ticks90k(pts), [][]byte{au})
	})
	if in.full(len(au)) {
		in.overflow()
		return nil
	}
	if err := in.w.WriteMPEG4Audio(in.aTrack, ticks90k(pts), [][]byte{au}); err != nil {
		in.buf.Reset()
		return fmt.Errorf("transcode: mux AAC: %w", err)
	}
	in.enqueue()
	return nil
}

// full reports whether an access unit of n bytes does not fit the queue. The check comes
// before muxing, since a muxed unit that is then dropped would break the MPEG-TS continuity
// counters, so it uses the payload size: the queue may pass maxBytes by the MPEG-TS overhead
// of its last unit, about 2%.
func (in *input) full(n int) bool {
	return len(in.queue) == cap(in.queue) || in.queued.Load()+int64(n) > in.maxBytes
}

// overflow drops an access unit that does not fit the queue. Video then waits for a keyframe,
// since the frames after a gap cannot be decoded. The drop still counts as input flowing: a
// hung ffmpeg fills the queue, and stall detection must not lose sight of the host then.
func (in *input) overflow() {
	inputDropped.Inc()
	in.waitKey = true
	in.lastFeed.Store(time.Now().UnixNano())
}

// enqueue moves the muxed bytes into the queue. The caller holds mu and has checked there
// is room: only callers holding mu add to the queue.
func (in *input) enqueue() {
	now := in.enqueueTo(in.gen, in.queue, in.queued)
	if last := in.lastFeed.Swap(now); now-last >= int64(inputGap) {
		in.gapEnded.Store(now)
	}
}

// queueOf is the queue process gen is fed from: the current one (call it when gen has
// just been made current by restart).
func (in *input) queueOf() chan chunk {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.queue
}

// feed copies q into ffmpeg's stdin until stop closes or the pipe breaks (ffmpeg died).
// It runs on one goroutine per process. A process being handed over from keeps its queue
// (restart) and goes on with its backlog; its lag no longer counts (the successor's does).
func (in *input) feed(gen uint64, q chan chunk, stdin *os.File, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case c := <-q:
			if c.gen != gen {
				in.release(c)
				continue
			}
			current := in.current.Load() == gen
			if current {
				in.lag.Store(time.Now().UnixNano() - c.at)
				in.writing.Store(c.at)
			}
			_, err := stdin.Write(c.b.Bytes())
			if current {
				in.writing.Store(0)
			}
			in.release(c) // only now: the bytes were held until the write returned
			if err != nil {
				return
			}
		}
	}
}

// drainQueue releases what is left in q, the queue of a process that has ended.
func (in *input) drainQueue(q chan chunk) {
	for {
		select {
		case c := <-q:
			in.release(c)
		default:
			return
		}
	}
}

// lagAt is how far behind ffmpeg's input is at now: how long the last access unit it took
// had waited, or the one it is taking now has, if longer (a process that stopped reading).
func (in *input) lagAt(now int64) time.Duration {
	lag := in.lag.Load()
	if w := in.writing.Load(); w != 0 {
		lag = max(lag, now-w)
	}
	return time.Duration(lag)
}

// release returns a chunk taken from a queue to the pool and its bytes to its queue's
// budget.
func (in *input) release(c chunk) {
	c.budget.Add(-int64(c.b.Len()))
	chunkPool.Put(c.b)
}

func (in *input) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	in.drain()
}

// ticks90k converts a stream time to MPEG-TS's 90 kHz clock.
func ticks90k(d time.Duration) int64 { return (int64(d)*9 + 50_000) / 100_000 }
