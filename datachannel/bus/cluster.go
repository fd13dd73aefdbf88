package bus

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterConfig joins the embedded NATS server of this node with the other Glint nodes'
// into one NATS cluster (routes), so that JetStream's records are replicated across nodes
// and every node's events reach the others (docs/CLUSTER.md). Empty Listen runs alone.
type ClusterConfig struct {
	// Listen is the address the embedded server takes the other nodes' routes on
	// (host:port, e.g. 0.0.0.0:6222). Empty: no cluster, this node alone.
	Listen string `yaml:"listen"`
	// Routes are the nodes' Listen addresses (host:port), at least one other than this
	// node's. The same list on every node (this node's own address in it is fine) lets any
	// of them start first.
	Routes []string `yaml:"routes"`
	// Advertise is the host:port the other nodes reach this node's routes on, when that is
	// not Listen (a node behind NAT, or a proxy or load balancer in front of its routes):
	// nodes tell each other the nodes they know, so that routes listed on one node only
	// still make a full mesh. Empty: Listen.
	Advertise string `yaml:"advertise"`
	// Name is the cluster's name, the same on every node.
	Name string `yaml:"name"`
	// NodeName is this node's name in the cluster: unique among its nodes and the same
	// across its restarts. Empty: one made up at the first start (the host name and a
	// random suffix) and kept in the data directory.
	NodeName string `yaml:"node_name"`
	// Secret authenticates the routes between nodes (and the embedded server's local
	// client port): the same on every node, at least 16 characters. A cluster port open
	// without it would hand every room's records to whoever connects.
	Secret string `yaml:"secret"`
	// TLS encrypts the routes and has the nodes prove who they are to each other (mutual
	// TLS): every node presents its certificate and takes only peers whose certificates
	// its CA signed. Off when empty; then the routes are plain TCP, authenticated by the
	// secret only, and the cluster port must stay on a private network.
	TLS RouteTLS `yaml:"tls"`
	// JoinTimeout is how long a node waits at start for the cluster's JetStream to take
	// its streams: the first start of a cluster needs every node of the streams' replicas,
	// later starts a majority of them. Past it, start fails and says so.
	JoinTimeout time.Duration `yaml:"join_timeout"`
}

// RouteTLS names the PEM files of a node's route TLS.
type RouteTLS struct {
	// CertFile is this node's certificate, for both ends of its routes: it must allow
	// server and client authentication and name the host or IP the other nodes' routes
	// use for this node.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the certificate's private key.
	KeyFile string `yaml:"key_file"`
	// CAFile holds the CA certificates the other nodes' certificates must chain to.
	CAFile string `yaml:"ca_file"`
}

// Enabled reports whether the routes use TLS.
func (t RouteTLS) Enabled() bool { return t != RouteTLS{} }

// config loads the files into the embedded server's TLS configuration.
func (t RouteTLS) config() (*tls.Config, error) {
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: t.CertFile, KeyFile: t.KeyFile, CaFile: t.CAFile, Verify: true})
	if err != nil {
		return nil, fmt.Errorf("bus: cluster.tls: %w", err)
	}
	// A node is both ends of its routes: it checks the peers that connect to it and those
	// it connects to against the same CA, as nats-server's own cluster tls block does.
	tc.ClientAuth, tc.RootCAs = tls.RequireAndVerifyClientCert, tc.ClientCAs
	return tc, nil
}

// routeTLSTimeout bounds a route's TLS handshake (seconds; nats-server's default is 2,
// tight for a node on a busy machine).
const routeTLSTimeout = 5

// routeUser is the user name routes authenticate with (the password is the secret).
const routeUser = "glint"

// Enabled reports whether this node joins a cluster.
func (c ClusterConfig) Enabled() bool { return c.Listen != "" }

// Nodes is how many nodes the configuration names: this one and the distinct routes that
// are not this node's own address.
func (c ClusterConfig) Nodes() int {
	seen := map[string]bool{}
	for _, r := range c.Routes {
		if !c.isSelf(r) {
			seen[r] = true
		}
	}
	return 1 + len(seen)
}

// isSelf reports whether route is this node's own Listen address: the same port, and the
// same host or, with Listen on every interface, one of this machine's addresses.
func (c ClusterConfig) isSelf(route string) bool {
	if route == c.Listen {
		return true
	}
	lhost, lport, err1 := net.SplitHostPort(c.Listen)
	rhost, rport, err2 := net.SplitHostPort(route)
	if err1 != nil || err2 != nil || lport != rport {
		return false
	}
	if lhost == rhost {
		return true
	}
	if ip := net.ParseIP(lhost); lhost != "" && (ip == nil || !ip.IsUnspecified()) {
		return false
	}
	rip := net.ParseIP(rhost)
	if rip == nil {
		name, _ := os.Hostname()
		return strings.EqualFold(rhost, name) || rhost == "localhost"
	}
	if rip.IsLoopback() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(rip) {
			return true
		}
	}
	return false
}

// validate reports the first cluster setting that cannot work.
func (c ClusterConfig) validate() error {
	if !c.Enabled() {
		if len(c.Routes) > 0 {
			return fmt.Errorf("bus: cluster.routes needs cluster.listen (the address this node takes routes on)")
		}
		return nil
	}
	if err := checkHostPort("cluster.listen", c.Listen); err != nil {
		return err
	}
	for _, r := range c.Routes {
		if err := checkHostPort("cluster.routes", r); err != nil {
			return err
		}
	}
	if c.Advertise != "" {
		if err := checkHostPort("cluster.advertise", c.Advertise); err != nil {
			return err
		}
	}
	switch {
	case c.Nodes() < 2:
		return fmt.Errorf("bus: cluster.routes must name at least one node other than this one (%s)", c.Listen)
	case len(c.Secret) < 16:
		return fmt.Errorf("bus: cluster.secret must be at least 16 characters (the same on every node)")
	case c.Name == "":
		return fmt.Errorf("bus: cluster.name must be set (the same on every node)")
	case c.TLS.Enabled() && (c.TLS.CertFile == "" || c.TLS.KeyFile == "" || c.TLS.CAFile == ""):
		return fmt.Errorf("bus: cluster.tls needs cert_file, key_file and ca_file (each node proves itself to the others)")
	case c.JoinTimeout < time.Second || c.JoinTimeout > 10*time.Minute:
		return fmt.Errorf("bus: cluster.join_timeout must be 1s..10m, got %v", c.JoinTimeout)
	}
	return nil
}

func checkHostPort(what, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bus: %s %q is not host:port: %v", what, addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("bus: %s %q: the port must be 1..65535", what, addr)
	}
	return nil
}

// NodeName is this node's name in its cluster (ClusterConfig.NodeName, or the one made up
// and kept in the data directory at the first start); "" for a node alone or on an
// external NATS cluster. Logs and metrics carry it.
func (c Config) NodeName() (string, error) {
	if c.URL != "" || !c.Cluster.Enabled() {
		return "", nil
	}
	return c.Cluster.nodeName(c.DataDir)
}

// nodeNameFile keeps a made-up node name in the data directory: JetStream knows a node by
// its name, so a node must come back under the one it had.
const nodeNameFile = "node_name"

// nodeName is NodeName, or the one kept in dataDir, or a new one (the host name and a
// random suffix: host names repeat across machines built from one image) kept there.
func (c ClusterConfig) nodeName(dataDir string) (string, error) {
	if c.NodeName != "" {
		return c.NodeName, nil
	}
	file := filepath.Join(dataDir, nodeNameFile)
	if b, err := os.ReadFile(file); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "glint"
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := host + "-" + hex.EncodeToString(suffix)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("bus: %w", err)
	}
	if err := os.WriteFile(file, []byte(name+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("bus: keeping the node name: %w", err)
	}
	return name, nil
}

// checkStore refuses a data directory kept in the other mode. A single node's streams are
// not carried into a cluster: the cluster's streams would start empty beside them and its
// records (bids, gifts, a gift webhook's position) would be lost from view. A cluster
// node's directory run alone would lose its replicas the same way.
func checkStore(dataDir string, clustered bool) error {
	js := filepath.Join(dataDir, "jetstream")
	streams := exists(filepath.Join(js, "$G", "streams"))
	cluster := exists(filepath.Join(js, "$SYS", "_js_"))
	switch {
	case clustered && streams && !cluster:
		return fmt.Errorf("bus: %s holds a single node's records; a cluster would not carry them (its streams start empty). Start the cluster on a new data directory, or run this node alone", dataDir)
	case !clustered && cluster:
		return fmt.Errorf("bus: %s is a cluster node's; run it with its bus.cluster settings, or alone on a new data directory", dataDir)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// serverOptions sets the embedded server's cluster options: routes authenticated with the
// secret (and mutual TLS with cluster.tls), and a client port on loopback (nats-server starts routing only once it has
// one) that needs the secret too. Every route is kept, and this node's own is added when
// missing: nats-server skips a route to itself, and takes the number of routes as the
// cluster's size for its first leader election (fewer would let two halves of a new
// cluster each elect one).
func (c ClusterConfig) serverOptions(o *server.Options, name string) error {
	host, port, _ := net.SplitHostPort(c.Listen)
	p, _ := strconv.Atoi(port)
	o.ServerName = name
	o.DontListen = false
	o.Host, o.Port = "127.0.0.1", server.RANDOM_PORT
	o.Authorization = c.Secret
	o.Cluster = server.ClusterOpts{
		Name: c.Name, Host: host, Port: p, Advertise: c.Advertise,
		Username: routeUser, Password: c.Secret, // explicit routes are retried for ever
	}
	routes, self := c.Routes, false
	for _, r := range routes {
		self = self || c.isSelf(r)
	}
	if !self {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		routes = append(routes[:len(routes):len(routes)], net.JoinHostPort(host, port))
	}
	for _, r := range routes {
		o.Routes = append(o.Routes, &url.URL{Scheme: "nats-route", User: url.UserPassword(routeUser, c.Secret), Host: r})
	}
	if c.TLS.Enabled() {
		tc, err := c.TLS.config()
		if err != nil {
			return err
		}
		o.Cluster.TLSConfig, o.Cluster.TLSTimeout = tc, routeTLSTimeout
	}
	return nil
}

// ClusterStatus is this node's view of its cluster: ok is false on a node alone.
func (b *NATS) ClusterStatus() (name, node string, nodes int, ok bool) {
	if b.srv == nil || !b.cfg.Cluster.Enabled() {
		return "", "", 0, false
	}
	return b.cfg.Cluster.Name, b.srv.Name(), 1 + b.srv.NumRemotes(), true
}
