package loadtest

import (
	"math"
	"sync/atomic"
	"time"
)

// histBucket is the resolution of latency figures; histMax the largest value binned
// exactly (anything above still counts, at histMax, and in max).
const (
	histBucket = 50 * time.Microsecond
	histMax    = 5 * time.Second
	histSize   = int(histMax/histBucket) + 1
)

// Histogram records durations from many goroutines without locks.
type Histogram struct {
	buckets [histSize]atomic.Uint32
	count   atomic.Uint64
	max     atomic.Int64
}

// Record adds one duration; negative values (clock skew) count as zero.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	i := int(d / histBucket)
	if i >= histSize {
		i = histSize - 1
	}
	h.buckets[i].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Count is how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Max is the largest duration recorded.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the q-quantile (0..1), at the upper edge of its bucket: a conservative
// figure, never better than the truth by more than one bucket.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.buckets {
		seen += uint64(h.buckets[i].Load())
		if seen >= rank {
			return min(time.Duration(i+1)*histBucket, h.Max())
		}
	}
	return h.Max()
}

// Reset clears the histogram (between ramp steps).
func (h *Histogram) Reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.count.Store(0)
	h.max.Store(0)
}

// frameLatency keeps frame latencies (to the frame's arrival at the viewer's socket) of
// every frame, and of keyframes and other frames apart: a keyframe is several times
// larger, and its fan-out sets the tail. read is every frame's latency to when the
// viewer's read loop had it, which adds the client's own queue (arrival.go).
type frameLatency struct {
	all, key, delta, read *Histogram
}

func newFrameLatency() frameLatency {
	return frameLatency{all: &Histogram{}, key: &Histogram{}, delta: &Histogram{}, read: &Histogram{}}
}

func (l frameLatency) record(arrived, read time.Duration, keyframe bool) {
	l.all.Record(arrived)
	l.read.Record(read)
	if keyframe {
		l.key.Record(arrived)
	} else {
		l.delta.Record(arrived)
	}
}

func (l frameLatency) reset() {
	l.all.Reset()
	l.key.Reset()
	l.delta.Reset()
	l.read.Reset()
}
