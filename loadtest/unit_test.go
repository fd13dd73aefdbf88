package loadtest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func TestTimingSEIRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sent  int64
		frame uint64
	}{
		{"zero (all-zero payload bytes)", 0, 0},
		{"small", 1, 1},
		{"now", time.Date(2026, 11, 24, 7, 40, 0, 0, time.UTC).UnixNano(), 123456},
		{"00 00 00 01 00 00 00 02", 0x0000000100000002, 0x0000000300000000},
		{"00 00 03 inside", 0x0100000300000001, 0x0000030000000003},
		{"max", math.MaxInt64, math.MaxUint64},
		{"negative", -1, 0x8000000000000000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nal := timingSEI(tc.sent, tc.frame)
			if nal[0] != 0x06 {
				t.Fatalf("NAL header %#x, want 0x06", nal[0])
			}
			checkNoStartCode(t, nal)
			sent, frame, err := parseTimingSEI(nal)
			if err != nil || sent != tc.sent || frame != tc.frame {
				t.Fatalf("parse = %d, %d, %v; want %d, %d", sent, frame, err, tc.sent, tc.frame)
			}
		})
	}
}

// checkNoStartCode fails if b holds 00 00 00, 00 00 01 or 00 00 02, which a decoder would
// read as a start code or an error, or 00 00 03 not followed by 00–03 (a stray escape).
func checkNoStartCode(t *testing.T, b []byte) {
	t.Helper()
	for i := 0; i+2 < len(b); i++ {
		if b[i] != 0 || b[i+1] != 0 {
			continue
		}
		if b[i+2] <= 2 || (b[i+2] == 3 && i+3 < len(b) && b[i+3] > 3) {
			t.Fatalf("% x: unescaped 00 00 %02x at %d", b, b[i+2], i)
		}
	}
}

func TestParseTimingSEIRejects(t *testing.T) {
	good := timingSEI(42, 7)
	otherUUID := unescape(good[1:])
	otherUUID[2] ^= 0xff
	for _, tc := range []struct {
		name string
		nal  []byte
	}{
		{"empty", nil},
		{"not SEI", append([]byte{0x65}, good[1:]...)},
		{"truncated", good[:20]},
		{"other UUID", append([]byte{0x06}, escape(otherUUID)...)},
		{"other payload type", append([]byte{0x06, 0x04}, good[2:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := parseTimingSEI(tc.nal); err == nil {
				t.Fatal("parsed, want an error")
			}
		})
	}
}

func TestEscapeUnescape(t *testing.T) {
	for _, tc := range []struct{ raw, escaped []byte }{
		{nil, nil},
		{[]byte{0, 0}, []byte{0, 0}},
		{[]byte{0, 0, 0}, []byte{0, 0, 3, 0}},
		{[]byte{0, 0, 1}, []byte{0, 0, 3, 1}},
		{[]byte{0, 0, 2}, []byte{0, 0, 3, 2}},
		{[]byte{0, 0, 3}, []byte{0, 0, 3, 3}},
		{[]byte{0, 0, 4}, []byte{0, 0, 4}},
		{[]byte{0, 0, 0, 0, 0, 0}, []byte{0, 0, 3, 0, 0, 3, 0, 0}},
		{[]byte{1, 0, 0, 2, 0, 0, 0x80}, []byte{1, 0, 0, 3, 2, 0, 0, 0x80}},
		{[]byte{0, 1, 0, 0, 1}, []byte{0, 1, 0, 0, 3, 1}},
	} {
		if got := escape(tc.raw); !bytes.Equal(got, tc.escaped) {
			t.Errorf("escape(% x) = % x, want % x", tc.raw, got, tc.escaped)
		}
		if got := unescape(tc.escaped); !bytes.Equal(got, tc.raw) {
			t.Errorf("unescape(% x) = % x, want % x", tc.escaped, got, tc.raw)
		}
	}
	// Random bytes, mostly zeros and small values, round-trip and never hold a start code.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		raw := make([]byte, rng.IntN(40))
		for i := range raw {
			raw[i] = byte(rng.IntN(5))
		}
		esc := escape(raw)
		checkNoStartCode(t, append(esc, 0x80))
		if got := unescape(esc); !bytes.Equal(got, raw) {
			t.Fatalf("unescape(escape(% x)) = % x", raw, got)
		}
	}
}

// stapA builds an RTP STAP-A payload (RFC 6184 §5.7.1) from NAL units.
func stapA(nals ...[]byte) []byte {
	p := []byte{0x18}
	for _, n := range nals {
		p = append(p, byte(len(n)>>8), byte(len(n)))
		p = append(p, n...)
	}
	return p
}

// Synthetic NAL units. A slice whose byte after the header has its top bit set has
// first_mb_in_slice 0 (ue(v) "1"): it starts a picture.
var (
	testSPS   = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda}
	testPPS   = []byte{0x68, 0xce, 0x3c, 0x80}
	testIDR   = []byte{0x65, 0x88, 0x84, 0x21}
	testIDR2  = []byte{0x65, 0x40, 0x11} // second slice of the same picture
	testP1    = []byte{0x41, 0x9a, 0x02, 0x03}
	testP2    = []byte{0x41, 0x9a, 0x04}
	testAUD   = []byte{0x09, 0xf0}
	testOther = []byte{0x06, 0x05, 0x02, 0xaa, 0xbb, 0x80} // an SEI that is not ours
)

func TestFindTimingSEI(t *testing.T) {
	sei := timingSEI(1234567890, 9)
	for _, tc := range []struct {
		name    string
		payload []byte
		ok      bool
	}{
		{"single NAL", sei, true},
		{"STAP-A after SPS and PPS", stapA(testSPS, testPPS, sei), true},
		{"STAP-A first", stapA(sei, testIDR), true},
		{"STAP-A after another SEI", stapA(testOther, sei), true},
		{"STAP-A without it", stapA(testSPS, testPPS), false},
		{"STAP-A truncated", stapA(testSPS, sei)[:20], false},
		{"another SEI", testOther, false},
		{"slice", testIDR, false},
		{"FU-A", append([]byte{0x7c, 0x86}, sei[1:]...), false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent, ok := findTimingSEI(tc.payload)
			if ok != tc.ok || (ok && sent != 1234567890) {
				t.Fatalf("findTimingSEI = %d, %v; want ok=%v", sent, ok, tc.ok)
			}
		})
	}
}

func TestStartsKeyframe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"IDR", testIDR, true},
		{"SPS", testSPS, true},
		{"P slice", testP1, false},
		{"STAP-A SPS PPS", stapA(testSPS, testPPS), true},
		{"STAP-A SEI P", stapA(testOther, testP1), false},
		{"FU-A IDR start", []byte{0x7c, 0x85, 0x88}, true},
		{"FU-A IDR middle", []byte{0x7c, 0x05, 0x88}, false},
		{"FU-A P start", []byte{0x5c, 0x81, 0x9a}, false},
		{"too short", []byte{0x7c}, false},
	} {
		if got := startsKeyframe(tc.payload); got != tc.want {
			t.Errorf("%s: startsKeyframe = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// annexB joins NAL units with the given start codes (3 or 4 bytes each).
func annexB(scs []int, nals ...[]byte) []byte {
	var b []byte
	for i, n := range nals {
		if scs[i] == 4 {
			b = append(b, 0)
		}
		b = append(b, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// au4 is an access unit as splitAccessUnits returns it: 4-byte start codes.
func au4(nals ...[]byte) []byte { return annexB(slices.Repeat([]int{4}, len(nals)), nals...) }

func TestSplitNALsAndAccessUnits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream []byte
		nals   [][]byte
		aus    [][]byte
	}{
		{
			name: "SPS PPS IDR, P, P, SPS PPS IDR, mixed start codes",
			stream: annexB([]int{4, 3, 3, 3, 4, 3, 4, 4, 3},
				testSPS, testPPS, testIDR, testIDR2, testP1, testP2, testSPS, testPPS, testIDR),
			nals: [][]byte{testSPS, testPPS, testIDR, testIDR2, testP1, testP2, testSPS, testPPS, testIDR},
			aus: [][]byte{au4(testSPS, testPPS, testIDR, testIDR2), au4(testP1), au4(testP2),
				au4(testSPS, testPPS, testIDR)},
		},
		{
			name:   "access unit delimiters and an SEI",
			stream: annexB([]int{4, 4, 4, 4, 3, 3, 3}, testAUD, testSPS, testPPS, testIDR, testAUD, testOther, testP1),
			nals:   [][]byte{testAUD, testSPS, testPPS, testIDR, testAUD, testOther, testP1},
			aus:    [][]byte{au4(testAUD, testSPS, testPPS, testIDR), au4(testAUD, testOther, testP1)},
		},
		{
			name:   "bytes before the first start code are ignored",
			stream: append([]byte{0xff, 0xee}, annexB([]int{3, 3}, testP1, testP2)...),
			nals:   [][]byte{testP1, testP2},
			aus:    [][]byte{au4(testP1), au4(testP2)},
		},
		{
			name:   "parameter sets without a slice make no access unit",
			stream: annexB([]int{4, 4}, testSPS, testPPS),
			nals:   [][]byte{testSPS, testPPS},
		},
		{name: "no start code", stream: []byte{0x65, 0x88}},
		{name: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitNALs(tc.stream); !equalBytes(got, tc.nals) {
				t.Errorf("splitNALs = % x, want % x", got, tc.nals)
			}
			if got := splitAccessUnits(tc.stream); !equalBytes(got, tc.aus) {
				t.Errorf("splitAccessUnits = % x, want % x", got, tc.aus)
			}
		})
	}
}

func equalBytes(a, b [][]byte) bool { return slices.EqualFunc(a, b, bytes.Equal) }

func TestIsKeyAU(t *testing.T) {
	for _, tc := range []struct {
		name string
		au   []byte
		want bool
	}{
		{"SPS PPS IDR", au4(testSPS, testPPS, testIDR), true},
		{"IDR alone", annexB([]int{3}, testIDR), true},
		{"P", au4(testP1), false},
		{"SPS PPS only", au4(testSPS, testPPS), false},
		{"empty", nil, false},
	} {
		if got := isKeyAU(tc.au); got != tc.want {
			t.Errorf("%s: isKeyAU = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWithSEI(t *testing.T) {
	sei := timingSEI(99, 3)
	for _, tc := range []struct {
		name string
		au   []byte
		want [][]byte // NAL units after insertion
	}{
		{"keyframe: after the parameter sets", au4(testSPS, testPPS, testIDR, testIDR2), [][]byte{testSPS, testPPS, sei, testIDR, testIDR2}},
		{"P frame with AUD", annexB([]int{3, 3}, testAUD, testP1), [][]byte{testAUD, sei, testP1}},
		{"after another SEI", au4(testOther, testP1), [][]byte{testOther, sei, testP1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := withSEI(tc.au, 99, 3)
			if got := splitNALs(out); !equalBytes(got, tc.want) {
				t.Fatalf("NALs = % x, want % x", got, tc.want)
			}
			if aus := splitAccessUnits(out); len(aus) != 1 {
				t.Fatalf("the stamped AU splits into %d access units, want 1", len(aus))
			}
		})
	}
}

func TestClipNextKey(t *testing.T) {
	c := &Clip{keys: []int{0, 30, 60}}
	for pos, want := range map[int]int{0: 0, 1: 30, 30: 30, 59: 60, 60: 60, 61: 0, 89: 0} {
		if got := c.nextKey(pos); got != want {
			t.Errorf("nextKey(%d) = %d, want %d", pos, got, want)
		}
	}
}

// seqRange returns n sequence numbers from start, wrapping at 65536, skipping those skip
// reports true for.
func seqRange(start, n int, skip func(uint16) bool) []uint16 {
	var s []uint16
	for i := range n {
		seq := uint16(start + i)
		if skip == nil || !skip(seq) {
			s = append(s, seq)
		}
	}
	return s
}

func TestLossTracker(t *testing.T) {
	const cycles = 3 * 65536
	for _, tc := range []struct {
		name     string
		seqs     []uint16
		received int    // marks reported new
		expected uint64 // range the sequence numbers say was sent
	}{
		{"none", nil, 0, 0},
		{"in order", seqRange(10, 10, nil), 10, 10},
		{"gap", []uint16{1, 2, 4, 5}, 4, 5},
		{"gap filled by a retransmission", []uint16{1, 2, 4, 5, 3}, 5, 5},
		{"reordered", []uint16{1, 3, 2, 5, 4}, 5, 5},
		{"duplicates", []uint16{1, 2, 2, 3, 3, 3, 1}, 3, 3},
		{"wraparound", seqRange(65533, 6, nil), 6, 6},
		{"retransmission across the wrap", []uint16{65534, 0, 1, 65535}, 4, 4},
		{"several cycles in order", seqRange(65000, cycles, nil), cycles, cycles},
		{"several cycles, one lost per cycle", seqRange(65000, cycles, func(s uint16) bool { return s == 100 }), cycles - 3, cycles},
		// The window reaches half the sequence space back; further back is indistinguishable
		// from a jump ahead (RFC 3550 §A.1).
		{"gap filled at the window's edge", append(seqRange(0, 40000, func(s uint16) bool { return s == 39999-32767 }), 39999-32767), 40000, 40000},
		{"old duplicate within the window", append(seqRange(0, 40000, nil), 39999-32767), 40000, 40000},
		{"too old to judge", append(seqRange(0, 40000, func(s uint16) bool { return s == 39999-32768 }), 39999-32768), 39999, 40000},
		{"before the first", []uint16{100, 99, 101}, 2, 2},
		{"before the first, across the wrap", []uint16{0, 65535, 1}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l lossTracker
			received := 0
			for _, s := range tc.seqs {
				if l.mark(s) {
					received++
				}
			}
			if received != tc.received || l.expected() != tc.expected {
				t.Fatalf("received %d of %d expected; want %d of %d", received, l.expected(), tc.received, tc.expected)
			}
		})
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	if h.Count() != 0 || h.Quantile(0.5) != 0 || h.Max() != 0 {
		t.Fatal("empty histogram is not zero")
	}
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration // the true value; Quantile may add up to one bucket
	}{
		{0, time.Millisecond},
		{0.5, 50 * time.Millisecond},
		{0.95, 95 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1, 100 * time.Millisecond},
	} {
		if got := h.Quantile(tc.q); got < tc.want || got > tc.want+histBucket {
			t.Errorf("Quantile(%v) = %s, want %s (+%s)", tc.q, got, tc.want, histBucket)
		}
	}
	if h.Count() != 100 || h.Max() != 100*time.Millisecond {
		t.Errorf("Count %d, Max %s; want 100, 100ms", h.Count(), h.Max())
	}
	if got := h.Quantile(1); got != h.Max() {
		t.Errorf("Quantile(1) = %s, want Max %s", got, h.Max())
	}

	h.Reset()
	if h.Count() != 0 || h.Quantile(0.5) != 0 || h.Max() != 0 {
		t.Fatalf("after Reset: count %d, p50 %s, max %s", h.Count(), h.Quantile(0.5), h.Max())
	}

	h.Record(-time.Second) // clock skew counts as zero
	if h.Quantile(1) != 0 || h.Max() != 0 {
		t.Errorf("negative: p100 %s, max %s; want 0", h.Quantile(1), h.Max())
	}
	h.Record(time.Minute) // beyond histMax: binned at histMax, exact in Max
	if h.Max() != time.Minute || h.Quantile(1) < histMax {
		t.Errorf("overflow: max %s, p100 %s; want 1m0s, >= %s", h.Max(), h.Quantile(1), histMax)
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 || h.Max() != 7999*time.Microsecond {
		t.Fatalf("Count %d, Max %s; want 8000, 7.999ms", h.Count(), h.Max())
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc("self")
	// CPU time is counted in 10 ms ticks: spin until one has been charged.
	for deadline := time.Now().Add(5 * time.Second); err == nil && s.cpu == 0 && time.Now().Before(deadline); {
		s, err = readProc("self")
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.cpu <= 0 || s.rss <= 0 || s.peakKB*1024 < s.rss {
		t.Fatalf("cpu %s, rss %d, peak %d KiB; want cpu > 0, 0 < rss <= peak", s.cpu, s.rss, s.peakKB)
	}
	if _, err := readProc("999999999"); err == nil {
		t.Error("readProc of a missing process succeeded")
	}
}

func TestCPUPercent(t *testing.T) {
	t0 := time.Now()
	at := func(wall, cpu time.Duration) procSample { return procSample{at: t0.Add(wall), cpu: cpu} }
	for _, tc := range []struct {
		name string
		a, b procSample
		want float64
	}{
		{"idle", at(0, time.Second), at(time.Second, time.Second), 0},
		{"half a core", at(0, 0), at(2*time.Second, time.Second), 50},
		{"two cores", at(0, time.Second), at(time.Second, 3*time.Second), 200},
		{"no time passed", at(0, 0), at(0, time.Second), 0},
		{"samples swapped", at(time.Second, 0), at(0, time.Second), 0},
	} {
		if got := cpuPercent(tc.a, tc.b); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: cpuPercent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFanoutConfigValidate(t *testing.T) {
	valid := func() FanoutConfig {
		return FanoutConfig{WHIP: "http://127.0.0.1/whip", WHEP: "http://127.0.0.1/whep", Steps: []int{1, 10, 10, 50},
			Duration: 30 * time.Second, Clip: DefaultClip(), JoinConcurrency: 8}
	}
	if cfg := valid(); cfg.Validate() != nil {
		t.Fatalf("valid config rejected: %v", cfg.Validate())
	}
	for _, tc := range []struct {
		name   string
		mutate func(*FanoutConfig)
	}{
		{"no WHIP", func(c *FanoutConfig) { c.WHIP = "" }},
		{"no WHEP", func(c *FanoutConfig) { c.WHEP = "" }},
		{"no steps", func(c *FanoutConfig) { c.Steps = nil }},
		{"zero viewers", func(c *FanoutConfig) { c.Steps = []int{0} }},
		{"negative viewers", func(c *FanoutConfig) { c.Steps = []int{-1, 5} }},
		{"falling steps", func(c *FanoutConfig) { c.Steps = []int{10, 5} }},
		{"too many viewers", func(c *FanoutConfig) { c.Steps = []int{10, 5001} }},
		{"no duration", func(c *FanoutConfig) { c.Duration = 0 }},
		{"under a second", func(c *FanoutConfig) { c.Duration = 999 * time.Millisecond }},
		{"over an hour", func(c *FanoutConfig) { c.Duration = time.Hour + time.Second }},
		{"no join concurrency", func(c *FanoutConfig) { c.JoinConcurrency = 0 }},
		{"negative procs", func(c *FanoutConfig) { c.Procs = -1 }},
		{"too many procs", func(c *FanoutConfig) { c.Procs, c.AgentCommand = 65, []string{"x"} }},
		{"procs without an agent command", func(c *FanoutConfig) { c.Procs = 2 }},
		{"cpus without procs", func(c *FanoutConfig) { c.CPUs = [][]int{{1}} }},
	} {
		cfg := valid()
		tc.mutate(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
		if _, err := Fanout(context.Background(), cfg); err == nil {
			t.Errorf("%s: Fanout ran", tc.name)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"":                              time.Second,
		"5":                             5 * time.Second,
		" 7 ":                           7 * time.Second,
		"60":                            time.Minute,
		"61":                            time.Second,
		"0":                             time.Second,
		"-3":                            time.Second,
		"1.5":                           time.Second,
		"soon":                          time.Second,
		"Wed, 21 Oct 2026 07:28:00 GMT": time.Second,
	} {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}

// TestNegotiateRetry: a 429 or 503 becomes a retryError carrying the server's Retry-After;
// any other refusal is final.
func TestNegotiateRetry(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		retry      bool
		after      time.Duration
	}{
		{http.StatusTooManyRequests, "3", true, 3 * time.Second},
		{http.StatusServiceUnavailable, "", true, time.Second},
		{http.StatusForbidden, "3", false, 0},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			http.Error(w, "busy", tc.status)
		}))
		api, err := newAPI(srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = negotiate(ctx, srv.Client(), pc, srv.URL, "")
		cancel()
		_ = pc.Close()
		srv.Close()
		var re *retryError
		if err == nil || errors.As(err, &re) != tc.retry || (tc.retry && re.after != tc.after) {
			t.Errorf("status %d, Retry-After %q: err %v; want retry=%v after %s", tc.status, tc.retryAfter, err, tc.retry, tc.after)
		}
	}
}
