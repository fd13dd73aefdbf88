package transcode

// munger keeps one track's RTP sequence numbers and timestamps continuous across ffmpeg
// restarts. Each ffmpeg process starts its outputs at random numbers; the SFU's Receiver
// caches by sequence number and each viewer's DownTrack takes a backwards jump for stale
// packets and drops them, so without this a restart would freeze every viewer until the new
// numbering happened to pass the old. A segment is one process's packets (told apart by the
// local port ffmpeg sends from); the first packet of a new segment follows the last one
// sent: next sequence number, timestamp advanced by the wall-clock time in between.
//
// Not safe for concurrent use: one output's reader goroutine owns it.
type munger struct {
	started     bool
	segment     uint16 // ffmpeg's local port for the current segment
	seqOffset   uint16
	tsOffset    uint32
	lastSeq     uint16 // highest output sequence number sent
	lastTS      uint32 // highest output timestamp sent
	lastArrival int64  // unix nanos lastTS was sent
}

// rewrite maps one input packet of segment seg to its output sequence number and timestamp.
func (m *munger) rewrite(seg, seq uint16, ts uint32, arrival int64, clockRate uint32) (uint16, uint32) {
	if !m.started || seg != m.segment {
		m.join(seg, seq, ts, arrival, clockRate)
	}
	outSeq, outTS := seq+m.seqOffset, ts+m.tsOffset
	if int16(outSeq-m.lastSeq) > 0 {
		m.lastSeq = outSeq
	}
	if int32(outTS-m.lastTS) > 0 {
		m.lastTS, m.lastArrival = outTS, arrival
	}
	return outSeq, outTS
}

func (m *munger) join(seg, seq uint16, ts uint32, arrival int64, clockRate uint32) {
	if !m.started {
		// Nothing to be continuous with: the first process keeps its own numbering.
		m.started, m.segment = true, seg
		m.lastSeq, m.lastTS, m.lastArrival = seq-1, ts, arrival
		return
	}
	delta := uint32(1)
	if arrival > m.lastArrival && clockRate > 0 {
		if d := uint64(arrival-m.lastArrival) * uint64(clockRate) / 1e9; d > 1 && d < 1<<31 {
			delta = uint32(d)
		}
	}
	m.segment = seg
	m.seqOffset = m.lastSeq + 1 - seq
	m.tsOffset = m.lastTS + delta - ts
}
