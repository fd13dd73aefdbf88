package simulcast

// maxGaps bounds the history of sequence offsets kept for placing late packets and
// translating NACKs. Each run of dropped padding packets adds one; older entries are
// forgotten, after which a packet that old is dropped and a NACK for it is simply not answered
// (the packet cache has moved on by then too).
const maxGaps = 32

// window is how far behind the newest input a packet can be and still be told apart from a
// new one: half the sequence space. Gaps are kept within it so that the int16 comparisons in
// offsetFor and InputSeq stay exact on a source that runs for more than 32768 packets.
const window = 1 << 15

// Munger maps the sequence numbers and timestamps of whichever source currently feeds an
// outgoing stream onto one continuous output, so a decoder never sees a jump when the
// publisher restarts or a viewer's layer changes. Not safe for concurrent use: the owner
// (a DownTrack) serialises calls. The zero value is ready; it allocates nothing.
type Munger struct {
	started   bool
	switching bool

	seqOffset uint16
	tsOffset  uint32

	// Input side of the current source. Its oldest placeable seq is gaps[0].from.
	highestIn uint16

	// Output side, across sources.
	lastOutSeq  uint16
	lastOutTS   uint32
	lastArrival int64 // unix nanos when lastOutTS was sent

	// gaps[i].offset applies to input seqs >= gaps[i].from (current source only), newest
	// last. Every from lies in [highestIn-window+1, highestIn+1]; see age.
	gaps    [maxGaps]gap
	numGaps int
}

type gap struct {
	from   uint16
	offset uint16
}

// Switch announces that the next packet comes from a different source. The caller must only
// feed that source from a keyframe on; the munger joins it to the output seamlessly.
func (m *Munger) Switch() { m.switching = true }

// Started reports whether any packet has been written.
func (m *Munger) Started() bool { return m.started }

// LastOut returns the last output sequence number and timestamp.
func (m *Munger) LastOut() (seq uint16, ts uint32) { return m.lastOutSeq, m.lastOutTS }

// Rewrite returns the output sequence number and timestamp for an input packet that arrived
// at arrival (unix nanos). ok is false for a packet that must be dropped: one older than the
// start of the current source, whose output slot belongs to the previous source, or one so
// late that the offset it was due has been forgotten (see maxGaps and window).
func (m *Munger) Rewrite(seq uint16, ts uint32, arrival int64, clockRate uint32) (outSeq uint16, outTS uint32, ok bool) {
	if !m.started || m.switching {
		m.join(seq, ts, arrival, clockRate)
	}
	if d := int16(seq - m.highestIn); d > 0 {
		m.highestIn = seq
		m.age()
	} else if int16(seq-m.gaps[0].from) < 0 {
		// Before the current source joined, or so late its offset has been forgotten: its
		// output slot may already belong to another packet.
		return 0, 0, false
	}
	outSeq, outTS = seq+m.offsetFor(seq), ts+m.tsOffset
	if int16(outSeq-m.lastOutSeq) > 0 {
		m.lastOutSeq = outSeq
	}
	if int32(outTS-m.lastOutTS) > 0 {
		m.lastOutTS, m.lastArrival = outTS, arrival
	}
	return outSeq, outTS, true
}

// join starts a new segment at seq: output continues one past the last sequence number,
// and the timestamp advances by the wall-clock time since the last packet (at least one
// tick), so playout timing across the splice stays true.
func (m *Munger) join(seq uint16, ts uint32, arrival int64, clockRate uint32) {
	delta := uint32(1)
	if m.started && arrival > m.lastArrival && clockRate > 0 {
		if d := uint64(arrival-m.lastArrival) * uint64(clockRate) / 1e9; d > 1 && d < 1<<31 {
			delta = uint32(d)
		}
	}
	if m.started {
		m.seqOffset = m.lastOutSeq + 1 - seq
		m.tsOffset = m.lastOutTS + delta - ts
	} else {
		// The first source keeps its own numbering; there is nothing to be continuous with.
		m.seqOffset, m.tsOffset = 0, 0
		m.lastOutSeq, m.lastOutTS, m.lastArrival = seq-1, ts, arrival
	}
	m.started, m.switching = true, false
	m.highestIn = seq
	m.numGaps = 0
	m.pushGap(seq, m.seqOffset)
}

// Skip drops an input packet without leaving a hole in the output: used for padding-only
// packets, which carry no media and would otherwise need to be forwarded to keep sequence
// numbers dense. Only an in-order packet can be closed up; anything else is left as a gap
// that the receiver may NACK and the sender answers from its cache.
func (m *Munger) Skip(seq uint16) {
	if !m.started || m.switching || seq != m.highestIn+1 {
		return
	}
	m.highestIn = seq
	m.seqOffset--
	if last := &m.gaps[m.numGaps-1]; m.numGaps > 1 && last.from == seq {
		// A burst of padding: nothing has used the previous skip's gap yet, so widen it
		// rather than spend history on every packet of the burst.
		last.from, last.offset = seq+1, m.seqOffset
	} else {
		m.pushGap(seq+1, m.seqOffset)
	}
	m.age()
}

// age forgets gaps that have fallen a window behind highestIn. A gap that starts that far
// back applies to every packet still placeable, so the ones before it never apply again; the
// oldest left is trimmed to the window so its start still compares correctly.
func (m *Munger) age() {
	for m.numGaps > 1 && m.stale(m.gaps[1].from) {
		copy(m.gaps[:], m.gaps[1:m.numGaps])
		m.numGaps--
	}
	if m.stale(m.gaps[0].from) {
		m.gaps[0].from = m.highestIn - (window - 1)
	}
}

// stale reports whether from is a window or more behind highestIn. highestIn only moves on
// by less than a window at a time and age runs after every move, so the distance never
// wraps; a from of highestIn+1 (a gap for the next packet) is not stale.
func (m *Munger) stale(from uint16) bool {
	d := m.highestIn - from
	return d >= window && d != 0xffff
}

func (m *Munger) pushGap(from, offset uint16) {
	if m.numGaps == maxGaps {
		copy(m.gaps[:], m.gaps[1:])
		m.numGaps--
	}
	m.gaps[m.numGaps] = gap{from: from, offset: offset}
	m.numGaps++
}

// offsetFor returns the sequence offset in force for input seq of the current source.
func (m *Munger) offsetFor(seq uint16) uint16 {
	for i := m.numGaps - 1; i > 0; i-- {
		if int16(seq-m.gaps[i].from) >= 0 {
			return m.gaps[i].offset
		}
	}
	return m.gaps[0].offset
}

// InputSeq translates an output sequence number (from a receiver's NACK) back to the input
// sequence number of the current source. ok is false when the packet belonged to an earlier
// source or is too old to translate, and between Switch and the new source's first packet,
// when no output packet belongs to the current source yet.
func (m *Munger) InputSeq(outSeq uint16) (seq uint16, ok bool) {
	if !m.started || m.switching || m.numGaps == 0 || int16(outSeq-m.lastOutSeq) > 0 {
		return 0, false
	}
	end := m.highestIn + 1 // each offset applies from its gap's start to the next gap's
	for i := m.numGaps - 1; i >= 0; i-- {
		g := m.gaps[i]
		in := outSeq - g.offset
		if int16(in-g.from) >= 0 && int16(end-in) > 0 {
			return in, true
		}
		end = g.from
	}
	return 0, false
}

// Pad reserves the next output sequence number for a packet the sender makes itself (a
// padding-only bandwidth probe) and returns it with the last output timestamp. Input
// packets after it move up by one so the output stays dense. ok is false before the first
// packet and while a switch is pending. A NACK for a padding packet translates to nothing.
func (m *Munger) Pad() (seq uint16, ts uint32, ok bool) {
	if !m.started || m.switching {
		return 0, 0, false
	}
	m.seqOffset++
	if last := &m.gaps[m.numGaps-1]; m.numGaps > 1 && last.from == m.highestIn+1 {
		last.offset = m.seqOffset
	} else {
		m.pushGap(m.highestIn+1, m.seqOffset)
	}
	m.lastOutSeq++
	return m.lastOutSeq, m.lastOutTS, true
}

// OutputTS translates a timestamp of the current source, such as the RTP time of a sender
// report, into the output timeline.
func (m *Munger) OutputTS(ts uint32) uint32 { return ts + m.tsOffset }
