package policy

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/qiao-exchange/qiao/crypto/sm3"
)

// The default bundle, Rego tests included; the tests are left out at load.
//
//go:embed bundle/*.rego
var defaultBundle embed.FS

// DefaultBundle returns the built-in bundle, its Rego tests included, as a
// file system whose root holds the .rego files: what an operator copies to
// start a bundle of their own (qiao policy export).
func DefaultBundle() fs.FS {
	sub, err := fs.Sub(defaultBundle, "bundle")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	return sub
}

// Query is the document the Engine evaluates.
const Query = "data.qiao.decision"

var queryRef = ast.MustParseRef(Query)

// file is one Rego file of a bundle, named by its slash-separated path
// relative to the bundle's root.
type file struct {
	name string
	data []byte
}

// isPolicyFile reports whether name is a Rego file a bundle is made of:
// .rego, and not a _test.rego file.
func isPolicyFile(name string) bool {
	return strings.HasSuffix(name, ".rego") && !strings.HasSuffix(name, "_test.rego")
}

// readBundle returns the policy files of dir, or of the embedded default
// bundle if dir is "", sorted by name. It descends into subdirectories but
// skips those whose name starts with a dot (as Kubernetes' ..data); it
// follows symbolic links to files.
func readBundle(dir string) ([]file, error) {
	if dir == "" {
		return readFS(defaultBundle, "bundle")
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrBundle, dir)
	}
	return readFS(os.DirFS(dir), ".")
}

func readFS(fsys fs.FS, root string) ([]file, error) {
	var files []file
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !isPolicyFile(d.Name()) || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := p
		if root != "." {
			name = strings.TrimPrefix(p, root+"/")
		}
		files = append(files, file{name: path.Clean(name), data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no .rego files", ErrBundle)
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

// digest returns a bundle's revision: "sm3:" and the hex SM3 digest, over
// the files sorted by name, of each file's name, a newline, its length in
// decimal, a newline, and its contents.
func digest(files []file) string {
	h := sm3.New()
	for _, f := range files {
		h.Write([]byte(f.name))
		h.Write([]byte{'\n'})
		h.Write(strconv.AppendInt(nil, int64(len(f.data)), 10))
		h.Write([]byte{'\n'})
		h.Write(f.data)
	}
	return fmt.Sprintf("sm3:%x", h.Sum(nil))
}

// capabilities are the builtins a bundle may use: OPA's, without those that
// reach outside the input (network, environment). A bundle that calls one
// does not compile.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		switch b.Name {
		case "http.send", "net.lookup_ip_addr", "opa.runtime":
			return true
		}
		return false
	})
	caps.AllowNet = []string{}
	return caps
}

// parse parses files as Rego v1 modules, keyed by name.
func parse(files []file) (map[string]*ast.Module, error) {
	modules := make(map[string]*ast.Module, len(files))
	for _, f := range files {
		m, err := ast.ParseModuleWithOpts(f.name, string(f.data), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBundle, err)
		}
		modules[f.name] = m
	}
	return modules, nil
}

// compiled is a bundle ready to decide.
type compiled struct {
	query    rego.PreparedEvalQuery
	revision string
}

// compile parses, compiles and prepares files. A bundle that does not
// compile, or defines no data.qiao.decision, is refused. The query is
// prepared with partial evaluation: what does not depend on the input is
// evaluated once, here, and rules are inlined into the query, which makes
// each decision a quarter cheaper. (TestDefaultRules checks that the result
// decides as the bundle evaluated plainly does.)
func compile(ctx context.Context, files []file) (*compiled, error) {
	modules, err := parse(files)
	if err != nil {
		return nil, err
	}
	caps := capabilities()
	c := ast.NewCompiler().WithCapabilities(caps)
	c.Compile(modules)
	if c.Failed() {
		return nil, fmt.Errorf("%w: %w", ErrBundle, c.Errors)
	}
	if len(c.GetRulesExact(queryRef)) == 0 {
		return nil, fmt.Errorf("%w: no rule defines %s", ErrBundle, Query)
	}
	pq, err := rego.New(
		rego.Compiler(c),
		rego.Capabilities(caps),
		rego.Query(Query),
		rego.StrictBuiltinErrors(true),
		rego.GenerateJSON(keepAST),
	).PrepareForEval(ctx, rego.WithPartialEval())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	return &compiled{query: pq, revision: digest(files)}, nil
}

// keepAST hands the result over as an ast.Value, skipping OPA's conversion
// to Go maps.
func keepAST(t *ast.Term, _ *rego.EvalContext) (any, error) {
	if t == nil {
		return nil, errors.New("no result")
	}
	return t.Value, nil
}

// dirDigest returns the revision dir would have if loaded now.
func dirDigest(dir string) (string, error) {
	files, err := readBundle(filepath.Clean(dir))
	if err != nil {
		return "", err
	}
	return digest(files), nil
}
