package datachannel

import (
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/qna"
)

// Q&A across nodes: every node reports on the bus (topic qnaTopic) the questions it has a
// say in, asked, upvoted, answered or dismissed there, with its own voters only, when they
// change and every reportHeartbeat while they are open; each node merges the others'
// reports into its board (qna/merge.go) and announces what changed to its connections.
// Like polls' votes, an identity upvoting one question on two nodes counts on both.

// nodeQna is one node's report of some questions.
type nodeQna struct {
	Questions []qna.Question `json:"questions"`

	node string
}

// qnaReportMax is how many questions go in one report: a full board of long questions
// stays well under NATS's 1 MiB message limit.
const qnaReportMax = 100

// reportQna publishes this node's changed questions, or with all every open one it has a
// say in (the heartbeat, or another node asked).
func (r *room) reportQna(now time.Time, all bool) {
	all = all || now.Sub(r.qnaReportAt) >= reportHeartbeat
	if all {
		r.qnaReportAt = now
	}
	qs := r.board.Reports(all)
	for len(qs) > 0 {
		n := min(len(qs), qnaReportMax)
		data, _ := json.Marshal(nodeQna{Questions: qs[:n]})
		if err := r.hub.bus.Publish(r.name, qnaTopic, data); err != nil {
			r.log.Debug("publishing a Q&A report", zap.Error(err)) // repeated at the heartbeat
		}
		qs = qs[n:]
	}
}

// onRemoteQna merges another node's report and announces the questions it changed here.
func (r *room) onRemoteQna(p *nodeQna) {
	for _, q := range p.Questions {
		merged, changed, err := r.board.Merge(p.node, q)
		if err != nil {
			r.log.Debug("ignoring a question another node reported", zap.String("node", p.node), zap.Error(err))
			continue
		}
		if changed {
			r.broadcast(TypeQnaQuestion, "", merged, classState, "q:"+merged.ID)
		}
	}
}

// decodeQna reads a node's Q&A report off the bus.
func decodeQna(node string, data []byte) (*nodeQna, bool) {
	var p nodeQna
	if json.Unmarshal(data, &p) != nil || len(p.Questions) == 0 || len(p.Questions) > qnaReportMax {
		return nil, false
	}
	p.node = node
	return &p, true
}
