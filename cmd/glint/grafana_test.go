package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestGrafanaDashboardReadsRealMetrics: every metric docs/grafana/glint-dashboard.json
// queries is one the server's /metrics describes (histograms by their _bucket series), so
// a renamed metric cannot leave a dashboard panel empty without a failing test.
func TestGrafanaDashboardReadsRealMetrics(t *testing.T) {
	a, stop := startApp(t, testConfig(t))
	defer stop()
	served := map[string]bool{}
	descs := make(chan *prometheus.Desc, 1024)
	go func() {
		for _, c := range a.collectors() {
			c.Describe(descs)
		}
		close(descs)
	}()
	fqName := regexp.MustCompile(`fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)"`)
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			served[m[1]] = true
		}
	}
	raw, err := os.ReadFile("../../docs/grafana/glint-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	metric := regexp.MustCompile(`\b((?:glint|process|go)_[a-z0-9_]+)\b`)
	checked := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, target := range p.Targets {
			for _, m := range metric.FindAllStringSubmatch(target.Expr, -1) {
				name := m[1]
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if !served[name] && !served[base] {
					t.Errorf("panel %q queries %s, which /metrics does not serve", p.Title, name)
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d metric references found in the dashboard", checked)
	}
}
