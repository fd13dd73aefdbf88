package sfu

import (
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
)

// transportCCURI is the transport-wide congestion control header extension.
const transportCCURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// ccGuardFactory wraps pion's congestion-control interceptor so that it only sees streams
// whose viewer negotiated transport-wide congestion control. pion's GCC refuses to send a
// packet without that header extension, so a WHEP player without TWCC would get no media;
// such a viewer gets no estimate and stays on its cap instead.
type ccGuardFactory struct{ *cc.InterceptorFactory }

func (f ccGuardFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.InterceptorFactory.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &ccGuard{Interceptor: i}, nil
}

type ccGuard struct{ interceptor.Interceptor }

func (g *ccGuard) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == transportCCURI {
			return g.Interceptor.BindLocalStream(info, writer)
		}
	}
	return writer
}
