package sfutest

import (
	"sync"
	"time"

	"github.com/glintlive/glint/sfu"
)

// SourceAudioUnit is one unit a SourceAudioLog was given.
type SourceAudioUnit struct {
	TS      uint32
	Capture time.Time
	Unit    string
}

// SourceAudioLog is an sfu.SourceAudioReader that keeps what it is given.
type SourceAudioLog struct {
	mu    sync.Mutex
	units []SourceAudioUnit
}

// ReadSourceAudio implements sfu.SourceAudioReader.
func (l *SourceAudioLog) ReadSourceAudio(_ *sfu.SourceAudio, ts uint32, capture time.Time, unit []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.units = append(l.units, SourceAudioUnit{ts, capture, string(unit)})
}

// Units is what it was given so far, in order.
func (l *SourceAudioLog) Units() []SourceAudioUnit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]SourceAudioUnit(nil), l.units...)
}
