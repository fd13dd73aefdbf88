package bus

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
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
	// Routes are the other nodes' Listen addresses (host:port). Listing every node on every
	// node (this one included is fine) lets any of them start first.
	Routes []string `yaml:"routes"`
	// Name is the cluster's name, the same on every node.
	Name string `yaml:"name"`
	// NodeName is this node's name in the cluster, unique among its nodes. Empty: the host
	// name and the Listen port.
	NodeName string `yaml:"node_name"`
	// Secret authenticates the routes between nodes (and the embedded server's local
	// client port): the same on every node, at least 16 characters. A cluster port open
	// without it would hand every room's records to whoever connects.
	Secret string `yaml:"secret"`
	// JoinTimeout is how long a node waits at start for enough nodes to form the
	// cluster's JetStream (a majority of Replicas); past it, start fails and says so.
	JoinTimeout time.Duration `yaml:"join_timeout"`
}

// routeUser is the user name routes authenticate with (the password is the secret).
const routeUser = "glint"

// enabled reports whether this node joins a cluster.
func (c ClusterConfig) enabled() bool { return c.Listen != "" }

// nodes is how many nodes the configuration names: this one and its routes (a route to
// itself is not another node).
func (c ClusterConfig) nodes() int {
	n := 1
	for _, r := range c.Routes {
		if r != c.Listen {
			n++
		}
	}
	return n
}

// validate reports the first cluster setting that cannot work.
func (c ClusterConfig) validate() error {
	if !c.enabled() {
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
	switch {
	case len(c.Secret) < 16:
		return fmt.Errorf("bus: cluster.secret must be at least 16 characters (the same on every node)")
	case c.Name == "":
		return fmt.Errorf("bus: cluster.name must be set (the same on every node)")
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

// nodeName is NodeName, or the host name with the Listen port (unique per node as long as
// no two nodes share a host and a port).
func (c ClusterConfig) nodeName() string {
	if c.NodeName != "" {
		return c.NodeName
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "glint"
	}
	_, port, _ := net.SplitHostPort(c.Listen)
	return host + ":" + port
}

// serverOptions sets the embedded server's cluster options: routes authenticated with the
// secret, and a client port on loopback (nats-server starts routing only once it has
// one) that needs the secret too.
func (c ClusterConfig) serverOptions(o *server.Options) {
	host, port, _ := net.SplitHostPort(c.Listen)
	p, _ := strconv.Atoi(port)
	o.ServerName = c.nodeName()
	o.DontListen = false
	o.Host, o.Port = "127.0.0.1", server.RANDOM_PORT
	o.Authorization = c.Secret
	o.Cluster = server.ClusterOpts{
		Name: c.Name, Host: host, Port: p,
		Username: routeUser, Password: c.Secret, // explicit routes are retried for ever
	}
	for _, r := range c.Routes {
		if r == c.Listen {
			continue
		}
		o.Routes = append(o.Routes, &url.URL{Scheme: "nats-route", User: url.UserPassword(routeUser, c.Secret), Host: r})
	}
}
