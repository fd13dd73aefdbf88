package signaling_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glintlive/glint/sfu"
)

// TestRoomMetricsBounded: with room_metrics_top 2 and four rooms, /metrics names the two
// most watched rooms and sums the other two under room="_other": the series stay bounded
// whatever the number of rooms, and nothing is lost from the totals.
func TestRoomMetricsBounded(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, gc *sigConfig) { gc.RoomMetricsTop = 2 })
	for room, n := range map[string]int{"big": 5, "mid": 3, "small": 2, "tiny": 1} {
		for range n {
			r, err := e.sfu.Join(room, sfu.RoleViewer)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Leave(sfu.RoleViewer) })
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.sig.RoomCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	webrtc := map[string]float64{}
	live := map[string]bool{}
	open := -1.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "glint_room_viewers":
				if labels["kind"] == "webrtc" {
					webrtc[labels["room"]] = m.GetGauge().GetValue()
				}
			case "glint_room_host_live":
				live[labels["room"]] = true
			case "glint_rooms_open":
				open = m.GetGauge().GetValue()
			}
		}
	}
	if len(webrtc) != 3 || webrtc["big"] != 5 || webrtc["mid"] != 3 || webrtc["_other"] != 3 {
		t.Errorf("glint_room_viewers{kind=webrtc} = %v; want big 5, mid 3, _other 3 (small and tiny)", webrtc)
	}
	if len(live) != 2 || !live["big"] || !live["mid"] {
		t.Errorf("glint_room_host_live for %v; want the top two rooms only", live)
	}
	if open != 4 {
		t.Errorf("glint_rooms_open = %v, want 4", open)
	}
}
