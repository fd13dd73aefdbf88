package signaling

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// GET /nodes lists the nodes of this node's cluster as clients reach them, this node
// first: the SDK's players and publishers ask after they connect, and go to the next one
// when theirs is lost (docs/CLUSTER.md). A node alone lists none: its clients have nowhere
// else to go. Public, like /directory: the URLs are the ones viewers use anyway.

// nodeURL is one node in GET /nodes.
type nodeURL struct {
	URL string `json:"url"`
}

type nodesPage struct {
	Nodes []nodeURL `json:"nodes"`
}

// nodesMaxAge is how long a client or cache may reuse the list: a node that dies leaves
// it within the directory's TTL anyway.
const nodesMaxAge = 5 * time.Second

// SetNodes makes GET /nodes list what nodes returns (the cluster's live nodes' client
// URLs, this node first); nil, as on a node alone, lists none.
func (s *Server) SetNodes(nodes func(ctx context.Context) ([]string, error)) { s.nodes = nodes }

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	page := nodesPage{Nodes: []nodeURL{}}
	if s.nodes != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		urls, err := s.nodes(ctx)
		if err != nil {
			s.log.Warn("GET /nodes: the node directory is unavailable", zap.Error(err))
			writeError(w, errUnavailable)
			return
		}
		for _, u := range urls {
			page.Nodes = append(page.Nodes, nodeURL{URL: u})
		}
	}
	writeJSON(w, fmt.Sprintf("public, max-age=%d", int(nodesMaxAge.Seconds())), page)
}
