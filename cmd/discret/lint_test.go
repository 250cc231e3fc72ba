package main

// Project rules as ordinary Go tests (STYLE.md B26, B27): the dependency
// direction privacy ← features ← model ← serve ← cmd, where Badger, gRPC and
// math/rand may be imported, no testing code in production, one package doc
// per package, no context.TODO outside tests. They parse the source tree, so
// they need no network and no build.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/discret-io/discret"

// layer ranks the top-level directories; a package may import module packages
// of its own layer or below only. bench is on top: only cmd imports it, to
// bind its Config+Run functions to `discret bench`.
var layer = map[string]int{"privacy": 0, "features": 1, "model": 2, "serve": 3, "cmd": 4, "bench": 5}

type goFile struct {
	dir     string // package directory relative to the module root, slash-separated
	name    string
	test    bool
	ast     *ast.File
	imports map[string]string // import path -> local name
}

func loadTree(t *testing.T) []goFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from cmd/discret: %v", err)
	}
	var files []goFile
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		gf := goFile{dir: filepath.ToSlash(rel), name: filepath.Base(path), test: strings.HasSuffix(path, "_test.go"), ast: f, imports: map[string]string{}}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			local := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			gf.imports[p] = local
		}
		files = append(files, gf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d Go files; the walk is broken", len(files))
	}
	return files
}

func top(dir string) string {
	if i := strings.IndexByte(dir, '/'); i >= 0 {
		return dir[:i]
	}
	return dir
}

func generated(f *ast.File) bool { return ast.IsGenerated(f) }

func TestDependencyDirection(t *testing.T) {
	for _, f := range loadTree(t) {
		from, ok := layer[top(f.dir)]
		if !ok {
			t.Errorf("%s/%s: Go file outside the top-level layout (cmd, model, features, privacy, serve, bench)", f.dir, f.name)
			continue
		}
		for p := range f.imports {
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			to := strings.TrimPrefix(p, module+"/")
			cmdBench := top(f.dir) == "cmd" && top(to) == "bench"
			if l, ok := layer[top(to)]; ok && l > from && !(f.test && top(f.dir) == top(to)) && !cmdBench {
				t.Errorf("%s/%s imports %s: %s may not depend on %s (privacy ← features ← model ← serve ← cmd; bench on top)", f.dir, f.name, to, top(f.dir), top(to))
			}
			if strings.HasSuffix(to, "test") && !f.test && top(f.dir) != "bench" {
				t.Errorf("%s/%s imports test helper package %s from production code", f.dir, f.name, to)
			}
		}
	}
}

func TestConfinedDependencies(t *testing.T) {
	rules := []struct {
		prefix  string
		allowed func(dir string) bool
		why     string
	}{
		{"github.com/dgraph-io/badger", func(d string) bool { return d == "features/store" || strings.HasPrefix(d, "features/store/") }, "Badger is confined to features/store"},
		{"google.golang.org/grpc", func(d string) bool { return top(d) == "serve" || top(d) == "cmd" || top(d) == "bench" }, "gRPC is confined to serve (and cmd, bench)"},
		{"github.com/grpc-ecosystem/", func(d string) bool { return top(d) == "serve" || top(d) == "cmd" || top(d) == "bench" }, "the gateway is confined to serve (and cmd, bench)"},
		{"google.golang.org/protobuf", func(d string) bool { return top(d) == "serve" || top(d) == "cmd" || top(d) == "bench" }, "protobuf is confined to serve (and cmd, bench)"},
	}
	for _, f := range loadTree(t) {
		for p := range f.imports {
			for _, r := range rules {
				if strings.HasPrefix(p, r.prefix) && !r.allowed(f.dir) {
					t.Errorf("%s/%s imports %s: %s", f.dir, f.name, p, r.why)
				}
			}
		}
	}
}

func TestPrivacyImportsOnlyStdlib(t *testing.T) {
	for _, f := range loadTree(t) {
		if top(f.dir) != "privacy" {
			continue
		}
		for p := range f.imports {
			std := !strings.Contains(strings.SplitN(p, "/", 2)[0], ".")
			gonum := strings.HasPrefix(p, "gonum.org/v1/gonum/") && strings.HasPrefix(f.dir, "privacy/dp")
			if !std && !gonum && !strings.HasPrefix(p, module+"/privacy") {
				t.Errorf("%s/%s imports %s: privacy/ uses only the standard library (gonum in privacy/dp)", f.dir, f.name, p)
			}
		}
	}
}

// TestNoInsecureRandomInDP: DP noise must come from a CSPRNG. math/rand is
// banned in privacy/dp; of math/rand/v2 only the ChaCha8 generator (a CSPRNG,
// seeded from crypto/rand) may be used there.
func TestNoInsecureRandomInDP(t *testing.T) {
	for _, f := range loadTree(t) {
		if !strings.HasPrefix(f.dir, "privacy/dp") || f.test || strings.HasSuffix(f.dir, "dptest") {
			continue
		}
		if _, ok := f.imports["math/rand"]; ok {
			t.Errorf("%s/%s imports math/rand in DP code", f.dir, f.name)
		}
		local, ok := f.imports["math/rand/v2"]
		if !ok {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && sel.Sel.Name != "ChaCha8" && sel.Sel.Name != "NewChaCha8" {
				t.Errorf("%s/%s uses %s.%s in DP code: only ChaCha8 seeded from crypto/rand is allowed", f.dir, f.name, local, sel.Sel.Name)
			}
			return true
		})
	}
}

func TestNoTestingInProduction(t *testing.T) {
	for _, f := range loadTree(t) {
		if f.test {
			continue
		}
		for _, banned := range []string{"testing", "testing/synctest", "net/http/httptest"} {
			if _, ok := f.imports[banned]; ok && !strings.HasSuffix(f.dir, "test") {
				t.Errorf("%s/%s imports %s in production code", f.dir, f.name, banned)
			}
		}
	}
}

func TestNoContextTODO(t *testing.T) {
	for _, f := range loadTree(t) {
		if f.test {
			continue
		}
		local, ok := f.imports["context"]
		if !ok {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && sel.Sel.Name == "TODO" {
					t.Errorf("%s/%s uses context.TODO(): pass the caller's context", f.dir, f.name)
				}
			}
			return true
		})
	}
}

// TestPackageDocs: every package has exactly one package doc comment
// ("// Package x ..." or "// Command x ..." for main).
func TestPackageDocs(t *testing.T) {
	docs := map[string][]string{}
	pkgs := map[string]string{}
	for _, f := range loadTree(t) {
		if f.test || generated(f.ast) {
			continue
		}
		pkgs[f.dir] = f.ast.Name.Name
		if f.ast.Doc != nil && len(strings.TrimSpace(f.ast.Doc.Text())) > 0 {
			docs[f.dir] = append(docs[f.dir], f.name)
		}
	}
	var dirs []string
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		switch n := len(docs[d]); {
		case n == 0:
			t.Errorf("package %s (%s) has no package doc comment", pkgs[d], d)
		case n > 1:
			t.Errorf("package %s (%s) has %d package doc comments (%v); keep exactly one", pkgs[d], d, n, docs[d])
		}
	}
	for _, f := range loadTree(t) {
		if f.test || f.ast.Doc == nil || generated(f.ast) {
			continue
		}
		text := f.ast.Doc.Text()
		want := "Package " + f.ast.Name.Name + " "
		if f.ast.Name.Name == "main" {
			want = "Command "
		}
		if !strings.HasPrefix(text, want) {
			t.Errorf("%s/%s: package doc should start with %q", f.dir, f.name, want)
		}
	}
}
