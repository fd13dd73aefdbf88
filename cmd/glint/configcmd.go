package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

const configUsage = `usage: glint config defaults

defaults prints the complete configuration with every key at its default and what it does,
as YAML that "glint serve --config" accepts as it is (docs/CONFIG.md is the same, as a page).
`

func configCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "defaults" {
		fmt.Fprint(stderr, configUsage)
		return errors.New("config: want: defaults")
	}
	out, err := defaultsYAML()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

// defaultsYAML is defaultConfig as YAML, each key under its doc comment (configDocs).
func defaultsYAML() ([]byte, error) {
	raw, err := yaml.Marshal(defaultConfig())
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 1 {
		commentKeys(doc.Content[0], "")
	}
	doc.HeadComment = "Glint's configuration, every key at its default (glint config defaults).\n" +
		"A file needs only the keys it changes; docs/CONFIG.md says the same as a page."
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return []byte(b.String()), enc.Close()
}

// commentKeys puts each key of mapping m (at path prefix) under its doc comment.
func commentKeys(m *yaml.Node, prefix string) {
	if m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		path := prefix + key.Value
		if doc := configDocs[path]; doc != "" {
			key.HeadComment = doc
		}
		commentKeys(val, path+".")
	}
}
