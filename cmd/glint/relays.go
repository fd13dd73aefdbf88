package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/ingest/relay"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// clustered reports whether this node shares its bus with other nodes (bus.cluster or an
// external NATS cluster), and so may host rooms for them and relay theirs.
func (c Config) clustered() bool { return c.Bus.Cluster.Enabled() || c.Bus.URL != "" }

// startRelays, on a node of a cluster, announces the rooms hosted here in the room
// directory and relays rooms hosted elsewhere to this node's viewers (ingest/relay).
func (a *app) startRelays(ctx context.Context) error {
	if !a.cfg.clustered() {
		return nil
	}
	dir, err := a.bus.Directory(ctx)
	if err != nil {
		return err
	}
	nodes, err := a.bus.NodeDirectory(ctx)
	if err != nil {
		return err
	}
	url, err := a.nodeURL()
	if err != nil {
		return err
	}
	node := a.bus.Node()
	a.relays, err = relay.New(relay.Options{
		SFU: a.sfu, Directory: dir, Nodes: nodes, Hints: busHints{a.bus}, Node: node, URL: url, PublicURL: a.cfg.PublicURL,
		Log: a.log.Named("relay"), Watching: a.hls.Watching,
		Token: func(room string) (string, error) {
			return auth.Issue(a.cfg.APIKey, a.cfg.APISecret, auth.TokenOptions{Room: room, Identity: signaling.RelayIdentityPrefix + node, Subscribe: true, TTL: time.Hour})
		},
	})
	if err != nil {
		return err
	}
	a.relays.Start()
	a.signaling.SetRelay(a.relays.Want)
	a.signaling.SetRelayNodes(a.relays.IsNode)
	a.signaling.SetHealth(a.clusterHealth)
	a.signaling.SetNodes(a.nodeURLs)
	a.signaling.SetCluster(a.roomAcrossCluster)
	a.hls.SetRelay(a.relays.Want)
	a.log.Info("cluster node: rooms hosted here are announced, rooms hosted elsewhere relayed", zap.String("node_url", url))
	if a.cfg.PublicURL == "" {
		// GET /nodes gives browsers node_url, which is often a private address.
		a.log.Warn("public_url is not set: GET /nodes lists this node to browsers (the SDK's failover) at node_url; set public_url to the URL they reach it at", zap.String("node_url", url))
	}
	return nil
}

func (a *app) closeRelays() {
	if a.relays != nil {
		a.relays.Close()
	}
}

// nodeURL is node_url, or http:// and the HTTP listener's address, with a listener on
// every interface named by this machine's first non-loopback IPv4 address.
func (a *app) nodeURL() (string, error) {
	if a.cfg.NodeURL != "" {
		return a.cfg.NodeURL, nil
	}
	host, port, _ := net.SplitHostPort(a.listener.Addr().String())
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		return "http://" + net.JoinHostPort(host, port), nil
	}
	addrs, _ := net.InterfaceAddrs()
	for _, addr := range addrs {
		if n, ok := addr.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return "http://" + net.JoinHostPort(n.IP.String(), port), nil
		}
	}
	return "", fmt.Errorf("node_url: the HTTP listener is on every interface and this machine has no non-loopback IPv4 address: set node_url to the URL the other nodes reach this one at")
}

// nodeURLs is the cluster's live nodes as clients reach them, this node first (GET /nodes).
func (a *app) nodeURLs(ctx context.Context) ([]string, error) {
	nodes, err := a.relays.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.URL
	}
	return urls, nil
}

// roomAcrossCluster is room across the cluster for GET /rooms/{room}; nil when no node
// announces it or the directory cannot be read.
func (a *app) roomAcrossCluster(ctx context.Context, room string) any {
	v, ok, err := a.relays.View(ctx, room)
	if err != nil {
		a.log.Debug("room directory unavailable", zap.String("room", room), zap.Error(err))
	}
	if !ok {
		return nil
	}
	return v
}

// clusterHealth is /healthz's cluster line: "cluster glint node vm-1-3fa2c1: 3 of 3 nodes
// reached" (of the nodes bus.cluster.routes names), so a load balancer or an operator sees
// a node cut off from the others.
func (a *app) clusterHealth() string {
	name, node, nodes, ok := a.bus.ClusterStatus()
	if !ok {
		return ""
	}
	return fmt.Sprintf("cluster %s node %s: %d of %d nodes reached\n", name, node, nodes, a.cfg.Bus.Cluster.Nodes())
}

// busHints carries the relays' origin hints (ingest/relay) on the bus's core subjects:
// sent to every node at once, never stored.
type busHints struct{ bus *bus.NATS }

// hintRoom is the bus room origin hints go by: no room is named with a space, so no
// room's events ever meet them.
const hintRoom, hintTopic = "glint cluster", "origin"

func (h busHints) Send(data []byte) error { return h.bus.Publish(hintRoom, hintTopic, data) }

func (h busHints) Receive(fn func(data []byte)) (stop func(), err error) {
	self := h.bus.Node()
	sub, err := h.bus.Subscribe(hintRoom, hintTopic, func(m bus.Msg) {
		if m.Node != self {
			fn(m.Data)
		}
	})
	if err != nil {
		return nil, err
	}
	return sub.Stop, nil
}
