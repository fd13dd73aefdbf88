package sfutest

import (
	"errors"
	"net"
	"sync"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// WithVanish lets Publisher.Vanish drop the publisher off the network as a killed process
// does: its sockets are the test's, through a pion transport.Net that keeps them.
func WithVanish() PublisherOption { return func(o *peerOptions) { o.sockets = &socketNet{} } }

// socketNet is the host's network, remembering every UDP socket pion opens on it.
type socketNet struct {
	transport.Net
	mu    sync.Mutex
	conns []net.PacketConn
	gone  bool
}

// open makes n ready: the real network under it.
func (n *socketNet) open() error {
	std, err := stdnet.NewNet()
	if err != nil {
		return err
	}
	n.Net = std
	return nil
}

func (n *socketNet) keep(c net.PacketConn) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gone {
		_ = c.Close()
		return errors.New("sfutest: the publisher has vanished")
	}
	n.conns = append(n.conns, c)
	return nil
}

// ListenUDP implements transport.Net.
func (n *socketNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return c, n.keep(c)
}

// ListenPacket implements transport.Net.
func (n *socketNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return c, n.keep(c)
}

// DialUDP implements transport.Net.
func (n *socketNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return c, n.keep(c)
}

// closeAll closes every socket: from now on nothing the peer sends leaves the machine.
func (n *socketNet) closeAll() {
	n.mu.Lock()
	conns := n.conns
	n.conns, n.gone = nil, true
	n.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// Vanish drops the publisher off the network without a word, as a killed process or a
// pulled cable does: no WHIP DELETE, no RTCP BYE, no DTLS close_notify. Its sockets close
// first; the PeerConnection is then closed only to free its goroutines, and whatever it
// tries to send on the way out goes nowhere. The publisher needs WithVanish.
func (p *Publisher) Vanish() error {
	if p.sockets == nil {
		return errors.New("sfutest: Vanish needs a publisher made WithVanish")
	}
	p.sockets.closeAll()
	return p.PC.Close()
}
