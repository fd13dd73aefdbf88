package main

import (
	"os"
	"path/filepath"
	"testing"

	yamlv3 "gopkg.in/yaml.v3"
)

// FuzzConfigFile: whatever a config file holds, `glint serve --config` ends in a config
// or an error that says what is wrong, never a panic or a hang; and a config it accepts,
// written back out as YAML (what `glint config` prints), is accepted again.
func FuzzConfigFile(f *testing.F) {
	def, err := yamlv3.Marshal(defaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(def),
		"",
		"http_addr: \":8080\"\nlog_level: debug\n",
		"sfu:\n  max_rooms: many\n",
		"sfu:\n  max_handshakes: 16\n  max_handshakes_per_client: 17\n",
		"interaction:\n  coalesce: 200ms\n",
		"rtmp:\n  enabled: true\n  overload_lag: 50ms\n",
		"hls:\n  part_target: 10h\n",
		"gift_webhooks: [http://backend.example/gifts]\ngift_webhook_give_up:\n  after: 2400h\n",
		"public_url: live2.example.com\n",
		"bus:\n  cluster:\n    listen: \"nope\"\n",
		"a: &a [*a, *a]\n",
		"- 1\n- 2\n",
		"sfu: {udp_buffer_bytes: -1}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "glint.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadServe(t, []string{"--config", path}, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refused config with an empty error")
			}
			return
		}
		again, err := yamlv3.Marshal(cfg)
		if err != nil {
			t.Fatalf("an accepted config cannot be written back: %v", err)
		}
		if err := os.WriteFile(path, again, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadServe(t, []string{"--config", path}, nil); err != nil {
			t.Fatalf("accepted %q, but not itself written back:\n%s\n%v", data, again, err)
		}
	})
}
