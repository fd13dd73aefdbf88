package datachannel

import (
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/qna"
)

// Q&A across nodes: every room reports on the bus (topic qnaTopic) the questions it has a
// say in, asked, upvoted, answered or dismissed there, with its own voters only, when they
// change, every reportHeartbeat while they are open (and a few heartbeats after they
// close, so a lost close is told again), and all of them when another room starts; each
// node merges the others' reports into its board (qna/merge.go), keyed by the reporting
// room (node and instance, as polls' tallies), and announces what changed to its
// connections. Like polls' votes, an identity upvoting one question on two nodes counts on
// both. Weak spots: a room that starts again on a node does not learn the votes of its
// earlier instance (the other nodes keep counting them), nor questions that only it had a
// say in, and an identity that upvoted there may upvote again and count twice elsewhere.

// nodeQna is one room's report of some questions.
type nodeQna struct {
	Questions []qna.Question `json:"questions"`
	Room      string         `json:"room"` // the reporting room's instance

	node string
}

// qnaReportMax is how many questions go in one report: a full board of long questions
// stays well under NATS's 1 MiB message limit.
const qnaReportMax = 100

// reportQna publishes this room's changed questions, at a heartbeat its open and lately
// closed ones too, or with sync (another room asked) every one it has a say in.
func (r *room) reportQna(now time.Time, sync bool) {
	scope := qna.Changed
	switch {
	case sync:
		scope = qna.Everything
	case now.Sub(r.qnaReportAt) >= reportHeartbeat:
		scope, r.qnaReportAt = qna.Heartbeat, now
	}
	qs := r.board.Reports(scope)
	for len(qs) > 0 {
		n := min(len(qs), qnaReportMax)
		data, _ := json.Marshal(nodeQna{Questions: qs[:n], Room: r.instance})
		if err := r.hub.bus.Publish(r.name, qnaTopic, data); err != nil {
			r.log.Debug("publishing a Q&A report", zap.Error(err)) // repeated at the heartbeat
		}
		qs = qs[n:]
	}
}

// onRemoteQna merges another node's report and announces the questions it changed here.
func (r *room) onRemoteQna(p *nodeQna) {
	counter := tallyKey(p.node, p.Room)
	for _, q := range p.Questions {
		merged, changed, err := r.board.Merge(counter, q)
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
