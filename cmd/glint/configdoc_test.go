package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The configuration's documentation is its Go source: every YAML key's doc comment in the
// package that owns it. TestConfigDocsUpToDate reads those comments and fails when what it
// would generate differs from the committed configdoc_gen.go (what `glint config defaults`
// prints) and docs/CONFIG.md; GLINT_UPDATE_CONFIGDOC=1 rewrites both.

const (
	modulePath   = "github.com/glintlive/glint"
	repoRoot     = "../.."
	configDocGo  = "configdoc_gen.go"
	configDocMD  = repoRoot + "/docs/CONFIG.md"
	updateDocEnv = "GLINT_UPDATE_CONFIGDOC"
)

// configKey is one key of the configuration, in the order the YAML has it.
type configKey struct {
	path    string // "sfu.pacing"
	doc     string
	section bool   // a mapping of further keys
	def     string // the default, as YAML (leaves only)
}

func TestConfigDocsUpToDate(t *testing.T) {
	keys := configKeys(t)
	for _, k := range keys {
		if strings.TrimSpace(k.doc) == "" {
			t.Errorf("config key %s has no doc comment in its Go source", k.path)
		}
	}
	goSrc, md := renderConfigDocGo(t, keys), renderConfigDocMD(keys)
	if os.Getenv(updateDocEnv) == "1" {
		if err := os.WriteFile(configDocGo, goSrc, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(configDocMD, md, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, f := range []struct {
		path string
		want []byte
	}{{configDocGo, goSrc}, {configDocMD, md}} {
		got, err := os.ReadFile(f.path)
		if err != nil || !bytes.Equal(got, f.want) {
			t.Errorf("%s is not what the config's doc comments say (err %v): run %s=1 go test -run TestConfigDocsUpToDate ./cmd/glint/", f.path, err, updateDocEnv)
		}
	}
}

// configKeys walks defaultConfig's YAML keys, with their doc comments from the source.
func configKeys(t *testing.T) []configKey {
	t.Helper()
	docs := sourceFieldDocs(t)
	// A default that follows the machine (8 handshakes per core, say) is not written into
	// the committed docs: it is found by building the defaults with two core counts.
	prev := runtime.GOMAXPROCS(1)
	one := defaultConfig()
	runtime.GOMAXPROCS(7)
	seven := defaultConfig()
	runtime.GOMAXPROCS(prev)
	var keys []configKey
	walkConfig(t, "", reflect.ValueOf(one), reflect.ValueOf(seven), docs, &keys)
	return keys
}

func walkConfig(t *testing.T, prefix string, v, other reflect.Value, docs map[string]string, keys *[]configKey) {
	ty := v.Type()
	for i := range ty.NumField() {
		f := ty.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			walkConfig(t, prefix, v.Field(i), other.Field(i), docs, keys)
			continue
		}
		path := prefix + name
		doc := docs[ty.PkgPath()+"."+ty.Name()+"."+f.Name]
		if isSection(f.Type) {
			*keys = append(*keys, configKey{path: path, doc: doc, section: true})
			walkConfig(t, path+".", v.Field(i), other.Field(i), docs, keys)
			continue
		}
		def := yamlValue(t, v.Field(i).Interface())
		if !reflect.DeepEqual(v.Field(i).Interface(), other.Field(i).Interface()) {
			def = "(depends on the machine's cores)"
		}
		*keys = append(*keys, configKey{path: path, doc: doc, def: def})
	}
}

// isSection reports whether a field's YAML is a mapping of further keys.
func isSection(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			return true
		}
	}
	return false
}

func yamlValue(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// sourceFieldDocs reads every struct field's doc comment in the module, keyed by
// "<import path>.<type>.<field>". A field without one, declared on the line after a field
// that has one, shares it ("CertFile and KeyFile (PEM) turn on RTMPS").
func sourceFieldDocs(t *testing.T) map[string]string {
	t.Helper()
	docs := map[string]string{}
	err := filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(repoRoot, filepath.Dir(path))
		pkg := modulePath
		if rel != "." {
			pkg += "/" + filepath.ToSlash(rel)
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			prevDoc, prevLine := "", -2
			for _, fl := range st.Fields.List {
				doc := strings.TrimSpace(fl.Doc.Text() + fl.Comment.Text())
				line := fset.Position(fl.Pos()).Line
				if doc == "" && line == prevLine+1 {
					doc = prevDoc
				}
				for _, name := range fl.Names {
					docs[pkg+"."+ts.Name.Name+"."+name.Name] = doc
				}
				prevDoc, prevLine = doc, fset.Position(fl.End()).Line
			}
			return false
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func renderConfigDocGo(t *testing.T, keys []configKey) []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by TestConfigDocsUpToDate (" + updateDocEnv + "=1); DO NOT EDIT.\n\n")
	b.WriteString("package main\n\n")
	b.WriteString("// configDocs is each configuration key's doc comment from its Go source, for\n// `glint config defaults`.\n")
	b.WriteString("var configDocs = map[string]string{\n")
	sorted := append([]configKey(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })
	for _, k := range sorted {
		fmt.Fprintf(&b, "\t%q: %q,\n", k.path, k.doc)
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func renderConfigDocMD(keys []configKey) []byte {
	var b bytes.Buffer
	b.WriteString(`# Configuration

Every key of Glint's YAML configuration (` + "`glint serve --config FILE`" + `), with its default and
what it does. ` + "`glint config defaults`" + ` prints the same as a complete YAML file that ` + "`serve`" + `
accepts as it is; a file needs only the keys it changes. Precedence, lowest first:
defaults, ` + "`--dev`" + `, the file, ` + "`GLINT_*`" + ` environment variables, flags (` + "`glint serve -h`" + `).
Durations are written as Go writes them (` + "`1s`, `200ms`, `1m0s`" + `).

This page is generated from the doc comments in the source (` + "`" + updateDocEnv + "=1 go test -run\nTestConfigDocsUpToDate ./cmd/glint/`" + `), and a test fails when it falls behind.
`)
	for _, k := range keys {
		depth := strings.Count(k.path, ".")
		doc := strings.Join(strings.Fields(k.doc), " ")
		if k.section {
			fmt.Fprintf(&b, "\n%s `%s`\n\n%s\n", strings.Repeat("#", min(depth+2, 4)), k.path, doc)
			continue
		}
		fmt.Fprintf(&b, "\n- **`%s`** (default `%s`): %s\n", k.path, strings.ReplaceAll(k.def, "\n", " "), doc)
	}
	return b.Bytes()
}
