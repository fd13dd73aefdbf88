package whip

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// refusalWarnEvery is how often offered media the SFU refuses is logged. What a POST
// offers is the client's to choose (up to 16 sections each), so without a gate a client
// writes the log at the rate it posts.
const refusalWarnEvery = time.Second

// refusalWarn gates the warning across all sessions: a client floods with many POSTs,
// each its own session.
var refusalWarn struct {
	last       atomic.Int64 // unix nanoseconds of the last warning written
	suppressed atomic.Int64 // warnings left out since
}

// warnRefusals writes one warning naming every refused section of an offer, at most one
// per refusalWarnEvery, with how many were left out before it.
func warnRefusals(log *zap.Logger, refused []sfu.RefusedMedia) {
	if len(refused) == 0 {
		return
	}
	ce := log.Check(zap.WarnLevel, "offered media refused: no codec Glint forwards")
	if ce == nil {
		return
	}
	now, last := time.Now().UnixNano(), refusalWarn.last.Load()
	if now-last < int64(refusalWarnEvery) || !refusalWarn.last.CompareAndSwap(last, now) {
		refusalWarn.suppressed.Add(1)
		return
	}
	media := make([]string, len(refused))
	for i, r := range refused {
		media[i] = "mid " + r.MID + ": " + r.String()
	}
	ce.Write(zap.Strings("media", media), zap.String("accepted", sfu.AcceptedCodecs),
		zap.Int64("warnings_not_logged", refusalWarn.suppressed.Swap(0)))
}
