package llhls

import "time"

// transcodeSlot is one kind of ffmpeg a stream keeps running (VP8 to H.264, Opus to AAC):
// the one that runs, and when the next may start once it fails. Owned by the stream's
// goroutine.
type transcodeSlot struct {
	tc       *transcoder
	retryAt  time.Time // no new ffmpeg before this
	failures int       // in a row
	waiting  time.Time // the first input since the last output (zero: none)
	lastIn   time.Time
}

// transcodeStall is how long a running ffmpeg may go without output while input goes in.
const transcodeStall = 5 * time.Second

// output is the running ffmpeg's output (nil, never ready, without one).
func (t *transcodeSlot) output() <-chan transcodedAU {
	if t.tc == nil {
		return nil
	}
	return t.tc.out
}

// canStart reports whether a new ffmpeg may start now.
func (t *transcodeSlot) canStart(now time.Time) bool { return t.tc == nil && !now.Before(t.retryAt) }

func (t *transcodeSlot) started(tc *transcoder) { t.tc, t.waiting = tc, time.Time{} }

// fed notes input pushed at now. Input that comes after a pause of over a second starts the
// wait for output afresh: ffmpeg holding its last frame or two through a pause is no hang.
func (t *transcodeSlot) fed(now time.Time) {
	if t.waiting.IsZero() || now.Sub(t.lastIn) > time.Second {
		t.waiting = now
	}
	t.lastIn = now
}

// gotOutput notes that ffmpeg gave something: it works.
func (t *transcodeSlot) gotOutput() { t.failures, t.waiting = 0, time.Time{} }

// hung reports whether the running ffmpeg is alive but silent: input kept coming for
// transcodeStall and nothing came out.
func (t *transcodeSlot) hung(now time.Time) bool {
	return t.tc != nil && !t.waiting.IsZero() && now.Sub(t.lastIn) <= time.Second && now.Sub(t.waiting) > transcodeStall
}

func (t *transcodeSlot) stop() {
	if t.tc != nil {
		t.tc.stop()
		t.tc = nil
	}
}

// reset stops the running ffmpeg for a new one at once: not a failure (a new source).
func (t *transcodeSlot) reset() {
	t.stop()
	t.retryAt, t.failures = time.Time{}, 0
}

// failed stops a crashed, hung or unstartable ffmpeg and sets when the next may start: at
// once after the first failure (its output is missed meanwhile), then after 1 s, doubling
// to 30 s. It returns why (ffmpeg's stderr when why is "") and the wait.
func (t *transcodeSlot) failed(now time.Time, why string) (string, time.Duration) {
	tc := t.tc
	t.stop() // reaps ffmpeg: its stderr is all in by then
	transcodeFailures.Inc()
	t.failures++
	wait := time.Duration(0)
	if t.failures > 1 {
		wait = min(time.Second<<min(t.failures-2, 5), 30*time.Second)
	}
	t.retryAt = now.Add(wait)
	if why == "" && tc != nil {
		why = tc.reason()
	}
	return why, wait
}
