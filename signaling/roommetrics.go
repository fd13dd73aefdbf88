package signaling

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// maxRoomMetricsTop bounds Config.RoomMetricsTop.
const maxRoomMetricsTop = 200

// otherRooms is the room label the rooms beyond the top ones are summed under.
const otherRooms = "_other"

var (
	roomViewersDesc = prometheus.NewDesc("glint_room_viewers",
		"Viewers of a room now, by kind (webrtc: media sessions; interaction: chat and event connections), for the most watched rooms; the rest summed as room=\"_other\".",
		[]string{"room", "kind"}, nil)
	roomLiveDesc = prometheus.NewDesc("glint_room_host_live",
		"1 while a room's host is sending media, for the most watched rooms.",
		[]string{"room"}, nil)
	roomsOpenDesc = prometheus.NewDesc("glint_rooms_open",
		"Rooms with someone in them on this node (a host, a viewer or a connection).", nil, nil)
)

// roomCollector is /metrics' per-room view, computed at scrape time: nothing is kept per
// room between scrapes, and only the top rooms get series of their own.
type roomCollector struct{ s *Server }

// RoomCollector returns the per-room collector for /metrics.
func (s *Server) RoomCollector() prometheus.Collector { return roomCollector{s} }

func (c roomCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- roomViewersDesc
	ch <- roomLiveDesc
	ch <- roomsOpenDesc
}

func (c roomCollector) Collect(ch chan<- prometheus.Metric) {
	names := c.s.roomNames()
	ch <- prometheus.MustNewConstMetric(roomsOpenDesc, prometheus.GaugeValue, float64(len(names)))
	type room struct {
		name         string
		webrtc, conn int
		live         bool
	}
	rooms := make([]room, 0, len(names))
	for _, name := range names {
		r := room{name: name}
		if sr := c.s.sfu.Room(name); sr != nil {
			r.webrtc, r.live = sr.Info().Viewers, sr.Host().Live
		}
		if c.s.hub != nil {
			r.conn = c.s.hub.Members(name)
		}
		rooms = append(rooms, r)
	}
	slices.SortStableFunc(rooms, func(a, b room) int { return (b.webrtc + b.conn) - (a.webrtc + a.conn) })
	top := min(c.s.cfg.RoomMetricsTop, len(rooms))
	var other room
	for i, r := range rooms {
		if i >= top {
			other.webrtc += r.webrtc
			other.conn += r.conn
			continue
		}
		ch <- prometheus.MustNewConstMetric(roomViewersDesc, prometheus.GaugeValue, float64(r.webrtc), r.name, "webrtc")
		ch <- prometheus.MustNewConstMetric(roomViewersDesc, prometheus.GaugeValue, float64(r.conn), r.name, "interaction")
		live := 0.0
		if r.live {
			live = 1
		}
		ch <- prometheus.MustNewConstMetric(roomLiveDesc, prometheus.GaugeValue, live, r.name)
	}
	if len(rooms) > top {
		ch <- prometheus.MustNewConstMetric(roomViewersDesc, prometheus.GaugeValue, float64(other.webrtc), otherRooms, "webrtc")
		ch <- prometheus.MustNewConstMetric(roomViewersDesc, prometheus.GaugeValue, float64(other.conn), otherRooms, "interaction")
	}
}
