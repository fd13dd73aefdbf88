package llhls

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/pion/rtp"
)

// fuzzPackets turns fuzz input into RTP packets: each is a flags byte (bit 0 marker, bit
// 1 keyframe, bit 2 new timestamp, bit 3 sequence jump), a sequence step, a payload
// length and that many payload bytes (fewer at the end of the input).
func fuzzPackets(data []byte, each func(p *rtp.Packet, keyframe bool) bool) {
	seq, ts := uint16(65530), uint32(1)
	for len(data) >= 3 {
		flags, step, n := data[0], data[1], int(data[2])
		data = data[3:]
		if n > len(data) {
			n = len(data)
		}
		payload := data[:n]
		data = data[n:]
		if flags&8 != 0 {
			seq += uint16(int8(step)) // loss, reordering, duplicates
		} else {
			seq++
		}
		if flags&4 != 0 {
			ts += 3000
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: flags&1 != 0}, Payload: payload}
		if !each(p, flags&2 != 0) {
			return
		}
	}
}

func pkt(flags, step byte, payload ...byte) []byte {
	return append([]byte{flags, step, byte(len(payload))}, payload...)
}

// FuzzAUAssembler: random RTP packets into the H.264 assembler never panic, never give an
// access unit over maxAccessUnit or with an empty NAL unit, give one only at a marker, and
// after a loss give nothing until a keyframe.
func FuzzAUAssembler(f *testing.F) {
	idr := []byte{0x65, 0x88, 0x84, 0x00}
	sps := []byte{0x67, 0x42, 0xc0, 0x1e}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	stap := append(append(append(append([]byte{0x78, 0, byte(len(sps))}, sps...), 0, byte(len(pps))), pps...), 0, byte(len(idr)))
	stap = append(stap, idr...)
	f.Add(pkt(7, 0, idr...))                                                                                     // one single-NAL keyframe
	f.Add(append(pkt(6, 0, stap...), pkt(1, 0, 0x41, 0x9a)...))                                                  // STAP-A then a P slice in the same frame
	f.Add(append(append(pkt(6, 0, 0x7c, 0x85, 1, 2), pkt(0, 0, 0x7c, 0x05, 3)...), pkt(1, 0, 0x7c, 0x45, 4)...)) // FU-A start, middle, end
	f.Add(append(pkt(7, 0, idr...), pkt(13, 3, 0x41, 0x9a)...))                                                  // a loss before a P frame
	f.Add(append(pkt(6, 0, 0x7c, 0x85, 1), pkt(5, 0, 0x7c, 0x45, 2)...))                                         // FU-A across a timestamp change
	f.Add(pkt(7, 0, 0x79, 0, 1))                                                                                 // STAP-B (refused)
	f.Add(pkt(7, 0, 0x78, 0, 9, 0x65))                                                                           // STAP-A with a short NAL unit
	f.Fuzz(func(t *testing.T, data []byte) {
		a := newAUAssembler()
		waitingIDR := true
		fuzzPackets(data, func(p *rtp.Packet, keyframe bool) bool {
			before := a.dropped
			au, _, _ := a.push(p, keyframe)
			if a.dropped < before {
				t.Fatal("dropped count went down")
			}
			if au == nil {
				if a.needIDR {
					waitingIDR = true
				}
				return true
			}
			if !p.Marker {
				t.Fatal("access unit without a marker")
			}
			size := 0
			for _, n := range au {
				if len(n) == 0 {
					t.Fatal("empty NAL unit in an access unit")
				}
				size += len(n)
			}
			if size > maxAccessUnit {
				t.Fatalf("access unit of %d bytes", size)
			}
			if waitingIDR && !hasNALU(au, 5) {
				t.Fatalf("access unit without IDR after a loss: %x", au)
			}
			waitingIDR = false
			return true
		})
	})
}

// TestAUAssemblerOversized: a frame over maxAccessUnit (FU-A fragments that never stop)
// is dropped, and the next keyframe comes through.
func TestAUAssemblerOversized(t *testing.T) {
	a := newAUAssembler()
	chunk := bytes.Repeat([]byte{0xab}, 1200)
	seq := uint16(1)
	push := func(payload []byte, marker bool, ts uint32) [][]byte {
		seq++
		au, _, _ := a.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}, true)
		return au
	}
	push(append([]byte{0x7c, 0x85}, chunk...), false, 1) // FU-A start of an IDR
	for range maxAccessUnit/len(chunk) + 10 {
		if au := push(append([]byte{0x7c, 0x05}, chunk...), false, 1); au != nil {
			t.Fatal("access unit before the end")
		}
	}
	if au := push(append([]byte{0x7c, 0x45}, chunk...), true, 1); au != nil {
		t.Fatalf("oversized access unit of %d NAL units returned", len(au))
	}
	if cap(a.buf) > 2*maxAccessUnit {
		t.Fatalf("buffer grew to %d bytes", cap(a.buf))
	}
	au := push([]byte{0x65, 0x88, 0x84}, true, 2)
	if au == nil || !hasNALU(au, 5) {
		t.Fatal("the next keyframe after an oversized frame was not assembled")
	}
}

// FuzzBlockingQuery: any query reads as no blocking request, a valid one, or ErrBadQuery.
func FuzzBlockingQuery(f *testing.F) {
	for _, q := range []string{"", "_HLS_msn=5", "_HLS_msn=5&_HLS_part=2", "_HLS_part=1", "_HLS_msn=-1",
		"_HLS_msn=99999999999", "_HLS_msn=5&_HLS_part=x", "_HLS_msn=1&_HLS_msn=2", "_HLS_skip=YES&access_token=t",
		"_HLS_msn=%2B5", "_HLS_msn=0x10", "_HLS_msn=5&_HLS_part="} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		msn, part, blocking, err := blockingQuery(q)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("%q: %v is not ErrBadQuery", raw, err)
			}
			if status(err) != 400 {
				t.Fatalf("%q: status %d", raw, status(err))
			}
			return
		}
		if !blocking {
			if q.Get("_HLS_msn") != "" || q.Get("_HLS_part") != "" {
				t.Fatalf("%q: not blocking", raw)
			}
			return
		}
		if msn < 0 || part < 0 || msn >= 1<<31 || part >= 1<<31 {
			t.Fatalf("%q: msn %d part %d", raw, msn, part)
		}
		// The live-edge checks take any values.
		s := &snapshot{msn: 7, lastPart: 2}
		_ = s.has(msn, part)
		_ = s.tooFar(msn, part)
	})
}

// FuzzWithQuery: carrying a request's query (what is left of it once the blocking-reload
// parameters are taken out, re-encoded) into a playlist's URIs keeps every line, appends
// the query to every URI line and URI attribute, and touches nothing else.
func FuzzWithQuery(f *testing.F) {
	f.Add("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PART:DURATION=0.2,URI=\"p0.mp4\"\n#EXTINF:1,\nseg.mp4\n", "access_token=abc&_HLS_msn=3")
	f.Add("#EXT-X-STREAM-INF:BANDWIDTH=1\nf/video1_stream.m3u8?x=1\n", "access_token=a%20b")
	f.Add("#EXT-X-MEDIA:URI=\"unterminated\n\r\n\nx", "t=1")
	f.Add("0", "\n") // a raw newline in the query: encoded, it cannot split a line
	f.Add("", "")
	f.Fuzz(func(t *testing.T, body, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		query := carriedQuery(values)
		carried, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("%q: carried query %q does not parse: %v", raw, query, err)
		}
		for k := range carried {
			if strings.HasPrefix(k, "_HLS_") {
				t.Fatalf("%q: blocking-reload parameter %q carried", raw, k)
			}
		}
		out := string(withQuery([]byte(body), query))
		if query == "" {
			if out != body {
				t.Fatal("an empty query changed the playlist")
			}
			return
		}
		in := lines(body)
		got := lines(out)
		if len(in) != len(got) {
			t.Fatalf("%d lines in, %d out", len(in), len(got))
		}
		for i, line := range in {
			switch {
			case line == "":
				if got[i] != "" {
					t.Fatalf("line %d: empty became %q", i, got[i])
				}
			case !strings.HasPrefix(line, "#"):
				if got[i] != appendQuery(line, query) {
					t.Fatalf("line %d: %q became %q", i, line, got[i])
				}
			case strings.Contains(line, `URI="`) && strings.Contains(line[strings.Index(line, `URI="`)+5:], `"`):
				if !strings.Contains(got[i], query+`"`) || len(got[i]) != len(line)+len(query)+1 {
					t.Fatalf("line %d: %q became %q", i, line, got[i])
				}
			default:
				if got[i] != line {
					t.Fatalf("line %d: tag %q became %q", i, line, got[i])
				}
			}
		}
	})
}

// lines splits a playlist as withQuery does.
func lines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		out = append(out, strings.TrimRight(line, "\r\n"))
	}
	return out
}

// TestSnapshotEdge: which blocking requests are answered, waited for or refused.
func TestSnapshotEdge(t *testing.T) {
	s := &snapshot{msn: 10, lastPart: 2} // part 2 of segment 10 is the newest
	for _, tc := range []struct {
		msn, part int
		has, far  bool
	}{
		{9, 0, true, false},
		{9, 40, true, false}, // past the end of a finished segment: the next one's first part
		{10, 2, true, false},
		{10, 3, false, false},
		{10, 5, false, false},
		{10, 6, false, true}, // beyond the advance part limit (3)
		{11, 0, false, false},
		{12, 0, false, false},
		{12, 11, false, false},
		{12, 12, false, true},
		{13, 0, false, true}, // beyond the last segment plus two
	} {
		if got := s.has(tc.msn, tc.part); got != tc.has {
			t.Errorf("has(%d, %d) = %v, want %v", tc.msn, tc.part, got, tc.has)
		}
		if got := s.tooFar(tc.msn, tc.part); got != tc.far {
			t.Errorf("tooFar(%d, %d) = %v, want %v", tc.msn, tc.part, got, tc.far)
		}
	}
}
