package bus

import (
	"strings"
	"testing"
	"time"
)

func TestTokenIsOneToOne(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"show", "show.1", "a b", "*", ">", "~x", "", "lot-1_A", "ü", "a.b.c"} {
		tok := token(s)
		if strings.ContainsAny(tok, ". *>\t") || tok == "" {
			t.Errorf("token(%q) = %q is not a subject token", s, tok)
		}
		if prev, dup := seen[tok]; dup {
			t.Errorf("token(%q) = token(%q) = %q", s, prev, tok)
		}
		seen[tok] = s
		if untoken(tok) != s {
			t.Errorf("untoken(token(%q)) = %q", s, untoken(tok))
		}
	}
	if got := AuctionLog("room.x", "lot.9").Lot(); got != "lot.9" {
		t.Fatalf("Lot() = %q", got)
	}
	if got := GiftLog("r").Lot(); got != "" {
		t.Fatalf("a gift log has no lot, got %q", got)
	}
}

func FuzzToken(f *testing.F) {
	f.Add("show.1")
	f.Fuzz(func(t *testing.T, s string) {
		tok := token(s)
		if strings.ContainsAny(tok, ". *>\t\r\n") || untoken(tok) != s {
			t.Fatalf("token(%q) = %q", s, tok)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.DataDir = "/tmp/x"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Config){
		"no data dir":      func(c *Config) { c.DataDir = "" },
		"replicas 2":       func(c *Config) { c.Replicas = 2 },
		"embedded R3":      func(c *Config) { c.Replicas = 3 },
		"short max age":    func(c *Config) { c.LogMaxAge = time.Minute },
		"no history":       func(c *Config) { c.ChatHistory = 0 },
		"tiny dedup":       func(c *Config) { c.DedupWindow = 0 },
		"bad url":          func(c *Config) { c.URL = "http://x:4222" },
		"bad timeout":      func(c *Config) { c.RequestTimeout = 0 },
		"url without host": func(c *Config) { c.URL = "nats://" },
		"routes alone":     func(c *Config) { c.Cluster.Routes = []string{"10.0.0.2:6222"} },
		"short secret": func(c *Config) {
			c.Cluster = testCluster("127.0.0.1:6222", "10.0.0.2:6222")
			c.Cluster.Secret = "short"
		},
		"bad listen": func(c *Config) { c.Cluster = testCluster("6222") },
		"bad route":  func(c *Config) { c.Cluster = testCluster("127.0.0.1:6222", "10.0.0.2:99999") },
		"bad advertise": func(c *Config) {
			c.Cluster = testCluster("127.0.0.1:6222", "10.0.0.2:6222")
			c.Cluster.Advertise = "nat.example.com"
		},
		"R3 on two nodes": func(c *Config) { c.Cluster = testCluster("127.0.0.1:6222", "10.0.0.2:6222"); c.Replicas = 3 },
		"url and cluster": func(c *Config) { c.Cluster = testCluster("127.0.0.1:6222"); c.URL = "nats://a:4222" },
		"no join timeout": func(c *Config) { c.Cluster = testCluster("127.0.0.1:6222"); c.Cluster.JoinTimeout = 0 },
	}
	for name, mod := range bad {
		c := ok
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%s: should not validate", name)
		}
	}
	three := ok
	three.Cluster = testCluster("127.0.0.1:6222", "127.0.0.1:6222", "10.0.0.2:6222", "10.0.0.3:6222")
	if err := three.Validate(); err != nil || three.replicas() != 3 {
		t.Fatalf("three nodes: %v, replicas %d; want valid and 3", err, three.replicas())
	}
	if alone := ok; alone.replicas() != 1 {
		t.Fatalf("alone: replicas %d; want 1", alone.replicas())
	}
	ext := DefaultConfig()
	ext.URL, ext.Replicas = "nats://a:4222, nats://b:4222", 3
	if err := ext.Validate(); err != nil {
		t.Fatalf("external cluster: %v", err)
	}
}
