package sfutest

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5"
)

// FaultLink is a viewer's downlink with loss and jitter, applied to every datagram its UDP
// sockets receive (real sockets on loopback), as netem on the viewer's port would: each is
// lost with the loss probability, else delivered after delay plus normally distributed
// jitter, so packets are reordered as on a real jittery path. It stands in for the kernel's
// netem where the kernel has none; the NACK generator and SRTP see only what gets through.
type FaultLink struct {
	mu      sync.Mutex
	loss    float64
	delay   time.Duration
	jitter  time.Duration
	dropped atomic.Int64
	passed  atomic.Int64
	late    atomic.Int64 // the most a delivery came after its due time, nanoseconds

	lateMu sync.Mutex
	lates  []lateDelivery // deliveries noticeably late, the last maxLates
}

// lateDelivery is a datagram the link delivered after its due time.
type lateDelivery struct {
	at   time.Time
	late time.Duration
}

// Lateness worth remembering, and how many such deliveries are remembered.
const (
	noticeablyLate = 20 * time.Millisecond
	maxLates       = 4096
)

// Set changes the link: loss in [0, 1], delay the mean, jitter the standard deviation.
func (l *FaultLink) Set(loss float64, delay, jitter time.Duration) {
	l.mu.Lock()
	l.loss, l.delay, l.jitter = loss, delay, jitter
	l.mu.Unlock()
}

// Dropped is how many datagrams the link lost; Passed how many it delivered.
func (l *FaultLink) Dropped() int64 { return l.dropped.Load() }

// Passed is how many datagrams the link delivered.
func (l *FaultLink) Passed() int64 { return l.passed.Load() }

// MaxLate is the most a delivery came after its due time: on a loaded machine the link's
// timers fire late, which a kernel's netem would not, and that shows as the path's delay.
func (l *FaultLink) MaxLate() time.Duration { return time.Duration(l.late.Load()) }

// LateBetween is the most a datagram delivered in [from, to] came after its due time.
func (l *FaultLink) LateBetween(from, to time.Time) time.Duration {
	l.lateMu.Lock()
	defer l.lateMu.Unlock()
	var most time.Duration
	for _, d := range l.lates {
		if !d.at.Before(from) && !d.at.After(to) {
			most = max(most, d.late)
		}
	}
	return most
}

func (l *FaultLink) wasLate(d time.Duration) {
	if d >= noticeablyLate {
		l.lateMu.Lock()
		if len(l.lates) == maxLates {
			l.lates = append(l.lates[:0], l.lates[maxLates/2:]...)
		}
		l.lates = append(l.lates, lateDelivery{at: time.Now(), late: d})
		l.lateMu.Unlock()
	}
	for {
		old := l.late.Load()
		if int64(d) <= old || l.late.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// fate decides one datagram: lost, or delivered after the returned delay.
func (l *FaultLink) fate() (lost bool, after time.Duration) {
	l.mu.Lock()
	loss, delay, jitter := l.loss, l.delay, l.jitter
	l.mu.Unlock()
	if loss > 0 && rand.Float64() < loss {
		l.dropped.Add(1)
		return true, 0
	}
	l.passed.Add(1)
	if jitter > 0 {
		delay += time.Duration(rand.NormFloat64() * float64(jitter))
	}
	return false, max(delay, 0)
}

// WithLinkFaults puts the viewer on loopback behind link.
func WithLinkFaults(link *FaultLink) ViewerOption {
	return func(o *viewerOptions) { o.faults = link }
}

// faultNet is the machine's network whose UDP sockets receive through a FaultLink.
type faultNet struct {
	transport.Net
	link *FaultLink
}

func (n faultNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return newFaultConn(c, n.link), nil
}

// faultConn is a UDP socket whose reads come through the link's delay line.
type faultConn struct {
	transport.UDPConn
	link *FaultLink
	in   chan datagram
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

type datagram struct {
	b    []byte
	from net.Addr
}

// faultQueue is how many delayed datagrams a socket holds, as a receive buffer: more are
// lost, as a full one loses them.
const faultQueue = 4096

func newFaultConn(c transport.UDPConn, link *FaultLink) *faultConn {
	fc := &faultConn{UDPConn: c, link: link, in: make(chan datagram, faultQueue), done: make(chan struct{})}
	fc.wg.Add(1)
	go fc.receive()
	return fc
}

// receive reads the real socket and sends each datagram down the delay line.
func (c *faultConn) receive() {
	defer c.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := c.UDPConn.ReadFrom(buf)
		if err != nil {
			c.once.Do(func() { close(c.done) })
			return
		}
		lost, after := c.link.fate()
		if lost {
			continue
		}
		d := datagram{b: append([]byte(nil), buf[:n]...), from: from}
		if after == 0 {
			c.deliver(d)
			continue
		}
		c.wg.Add(1)
		due := time.Now().Add(after)
		time.AfterFunc(after, func() {
			defer c.wg.Done()
			c.link.wasLate(time.Since(due))
			c.deliver(d)
		})
	}
}

func (c *faultConn) deliver(d datagram) {
	select {
	case c.in <- d:
	case <-c.done:
	default: // the receive buffer is full
	}
}

// ReadFrom returns the next datagram the link delivered.
func (c *faultConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), d.from, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

// Close closes the socket and waits for the delay line to drain.
func (c *faultConn) Close() error {
	err := c.UDPConn.Close()
	c.wg.Wait()
	return err
}
