package schema

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/datasets.md")

const (
	docsPath  = "../docs/datasets.md"
	docsBegin = "<!-- BEGIN GENERATED from schema/datasets by `go test ./schema -run TestDocs -update`; do not edit -->\n"
	docsEnd   = "<!-- END GENERATED -->\n"
)

// TestDocs keeps the dataset reference in docs/datasets.md in step with the
// embedded schema files.
func TestDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.FromSlash(docsPath))
	if err != nil {
		t.Fatal(err)
	}
	begin := bytes.Index(doc, []byte(docsBegin))
	end := bytes.Index(doc, []byte(docsEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s lacks the generated-section markers", docsPath)
	}
	gen := renderDatasets(mustLoad(t))
	current := string(doc[begin+len(docsBegin) : end])
	if current == gen {
		return
	}
	if !*update {
		t.Fatalf("%s is out of date with the schema files: run go test ./schema -run TestDocs -update", docsPath)
	}
	out := append([]byte{}, doc[:begin+len(docsBegin)]...)
	out = append(out, gen...)
	out = append(out, doc[end:]...)
	if err := os.WriteFile(filepath.FromSlash(docsPath), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func renderDatasets(r *Registry) string {
	var b strings.Builder
	b.WriteString("\n| dataset | title | owner | classification | record key |\n|---|---|---|---|---|\n")
	for _, d := range r.List() {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s %s | %s | %s | %s |\n", d.ID, strings.ReplaceAll(d.ID, ".", ""),
			d.TitleZh, d.TitleEn, d.Owner, d.Classification, codeList(d.RecordKey))
	}
	for _, d := range r.List() {
		fmt.Fprintf(&b, "\n### %s\n\n", d.ID)
		fmt.Fprintf(&b, "%s — %s. %s\n\n", d.TitleZh, d.TitleEn, d.Description)
		fmt.Fprintf(&b, "Owner `%s`, classification **%s**, record key %s, version %d.\n\n", d.Owner, d.Classification, codeList(d.RecordKey), d.Version)
		b.WriteString("| field | header | type | PII | required | other headers |\n|---|---|---|---|---|---|\n")
		var notes []string
		for _, f := range d.Fields {
			pii, req := "", ""
			if f.PII {
				pii = "✱"
			}
			if f.Required {
				req = "yes"
			}
			others := strings.Join(append(append([]string{}, f.AliasesZh[1:]...), f.AliasesEn...), ", ")
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", f.Name, f.AliasesZh[0], f.Type, pii, req, others)
			if f.Description != "" {
				notes = append(notes, fmt.Sprintf("- `%s`: %s", f.Name, f.Description))
			}
			if f.Type == TypeEnum {
				var vs []string
				for _, v := range f.Values {
					if len(v.Accept) == 0 {
						vs = append(vs, v.Value)
						continue
					}
					vs = append(vs, fmt.Sprintf("%s (also %s)", v.Value, strings.Join(v.Accept, ", ")))
				}
				notes = append(notes, fmt.Sprintf("- `%s` values: %s.", f.Name, strings.Join(vs, "; ")))
			}
		}
		if len(notes) > 0 {
			b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

func codeList(names []string) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = "`" + n + "`"
	}
	return strings.Join(s, " + ")
}
