package datachannel

import (
	"context"

	"github.com/glintlive/glint/datachannel/gift"
)

// sinkFunc is a GiftSink that reports room/from/key on a channel.
type sinkFunc struct{ ch chan string }

func (s *sinkFunc) Gift(_ context.Context, room string, g gift.Gift) {
	s.ch <- room + "/" + g.From + "/" + g.Key
}
