package schema

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrInvalidSchema is wrapped by every error about a schema file that is
// malformed or inconsistent. The message names the file and the field; the
// operator fixes the file, and the gateway does not start until it is fixed.
var ErrInvalidSchema = errors.New("invalid schema file")

//go:embed datasets/*.yaml
var embedded embed.FS

// Load returns the embedded datasets plus those defined by the *.yaml and
// *.yml files directly in dir, if dir is not empty. Each file defines one
// dataset and is named after it (hrss.unemployment_benefits.yaml). Every
// problem in every file is reported, joined in one error wrapping
// ErrInvalidSchema; a dataset ID defined twice, including one redefining an
// embedded dataset, is such a problem.
func Load(dir string) (*Registry, error) {
	type file struct {
		name string
		read func() ([]byte, error)
	}
	var files []file
	entries, err := fs.ReadDir(embedded, "datasets")
	if err != nil {
		return nil, fmt.Errorf("schema: embedded datasets: %w", err)
	}
	for _, e := range entries {
		p := path.Join("datasets", e.Name())
		files = append(files, file{p, func() ([]byte, error) { return embedded.ReadFile(p) }})
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || strings.HasPrefix(n, ".") || (filepath.Ext(n) != ".yaml" && filepath.Ext(n) != ".yml") {
				continue
			}
			p := filepath.Join(dir, n)
			files = append(files, file{p, func() ([]byte, error) { return os.ReadFile(p) }})
		}
	}

	r := &Registry{byID: map[string]*Dataset{}}
	var errs []error
	for _, f := range files {
		data, err := f.read()
		if err != nil {
			errs = append(errs, fmt.Errorf("schema: %w", err))
			continue
		}
		d, err := Parse(f.name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		base := filepath.Base(f.name)
		if want := d.ID + filepath.Ext(base); base != want {
			errs = append(errs, fmt.Errorf("%w %s: defines dataset %q, so it must be named %s", ErrInvalidSchema, f.name, d.ID, want))
			continue
		}
		if prev, ok := r.byID[d.ID]; ok {
			errs = append(errs, fmt.Errorf("%w %s: dataset %q is already defined by %s", ErrInvalidSchema, f.name, d.ID, prev.source))
			continue
		}
		r.byID[d.ID] = d
		r.all = append(r.all, d)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(r.all, func(a, b *Dataset) int { return strings.Compare(a.ID, b.ID) })
	return r, nil
}

// Parse reads one schema file; name is used in error messages. Unknown keys,
// duplicate keys and values of the wrong type are errors, as is a file with
// more than one YAML document. The dataset is then checked as a whole and
// every problem reported, each naming the file and the field.
func Parse(name string, data []byte) (*Dataset, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	d := &Dataset{source: name}
	if err := dec.Decode(d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w %s: file is empty", ErrInvalidSchema, name)
		}
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("%w %s: %w", ErrInvalidSchema, name, err)
		}
		errs := make([]error, len(te.Errors))
		for i, e := range te.Errors {
			errs[i] = fmt.Errorf("%w %s: %s", ErrInvalidSchema, name, yamlProblem(e))
		}
		return nil, errors.Join(errs...)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w %s: holds more than one YAML document; define one dataset per file", ErrInvalidSchema, name)
	}
	if problems := d.prepare(); len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = fmt.Errorf("%w %s: %s", ErrInvalidSchema, name, p)
		}
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// prepare checks a decoded dataset and builds its indexes, returning every
// problem found.
func (d *Dataset) prepare() []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	owner, name, ok := strings.Cut(d.ID, ".")
	switch {
	case !ok || !isIdent(owner) || !isIdent(name):
		bad("id %q must be <owner>.<name>, each in lower snake case", d.ID)
	case owner != d.Owner:
		bad("id %q does not start with its owner %q", d.ID, d.Owner)
	}
	if !isIdent(d.Owner) {
		bad("owner %q must be an agency kind in lower snake case (police, court, medins, hrss, …)", d.Owner)
	}
	if d.Version < 1 {
		bad("version must be 1 or more")
	}
	if strings.TrimSpace(d.TitleZh) == "" {
		bad("title_zh is missing")
	}
	if strings.TrimSpace(d.TitleEn) == "" {
		bad("title_en is missing")
	}
	if d.Classification != Internal && d.Classification != Sensitive {
		bad("classification %q is not internal or sensitive", d.Classification)
	}
	if len(d.Fields) == 0 {
		bad("fields: a dataset needs at least one field")
	}

	d.index = make(map[string]int, len(d.Fields))
	d.headers = map[string]string{}
	header := func(f *Field, alias, list string) {
		k := headerKey(alias)
		if k == "" {
			bad("field %q: %s has an empty alias", f.Name, list)
			return
		}
		if other, ok := d.headers[k]; ok && other != f.Name {
			bad("field %q: %s alias %q also names field %q", f.Name, list, alias, other)
			return
		}
		d.headers[k] = f.Name
	}
	for i := range d.Fields {
		f := &d.Fields[i]
		if !isIdent(f.Name) {
			bad("field %d: name %q must be lower snake case", i+1, f.Name)
			continue
		}
		if _, dup := d.index[f.Name]; dup {
			bad("field %q is defined twice", f.Name)
			continue
		}
		d.index[f.Name] = i
		if !slices.Contains(types, f.Type) {
			bad("field %q: type %q is not one of %s", f.Name, f.Type, typeList())
		}
		if f.Type == TypeIDNumber && !f.PII {
			bad("field %q: a resident ID number is personal data; set pii: true", f.Name)
		}
		if f.AllowNegative && f.Type != TypeMoney && f.Type != TypeInt {
			bad("field %q: allow_negative applies to money and int fields only", f.Name)
		}
		if f.Type == TypeEnum {
			problems = append(problems, f.prepareEnum()...)
		} else if len(f.Values) > 0 {
			bad("field %q: values are for enum fields only", f.Name)
		}
		header(f, f.Name, "name")
		for _, a := range f.AliasesZh {
			header(f, a, "aliases_zh")
		}
		for _, a := range f.AliasesEn {
			header(f, a, "aliases_en")
		}
	}

	if len(d.RecordKey) == 0 {
		bad("record_key: name the fields that identify a record")
	}
	required := false
	for i, k := range d.RecordKey {
		f, ok := d.Field(k)
		switch {
		case !ok:
			bad("record_key: field %q does not exist", k)
		case slices.Contains(d.RecordKey[:i], k):
			bad("record_key: field %q is listed twice", k)
		default:
			required = required || f.Required
		}
	}
	if len(d.RecordKey) > 0 && !required {
		bad("record_key: at least one key field must be required")
	}
	return problems
}

func (f *Field) prepareEnum() []string {
	var problems []string
	if len(f.Values) == 0 {
		return []string{fmt.Sprintf("field %q: an enum needs values", f.Name)}
	}
	f.enum = map[string]string{}
	add := func(form, value string) {
		k := enumKey(form)
		if k == "" {
			problems = append(problems, fmt.Sprintf("field %q: value %q has an empty form", f.Name, value))
			return
		}
		if other, ok := f.enum[k]; ok {
			problems = append(problems, fmt.Sprintf("field %q: %q is a form of both %q and %q", f.Name, form, other, value))
			return
		}
		f.enum[k] = value
	}
	for _, v := range f.Values {
		if strings.TrimSpace(v.Value) != v.Value || v.Value == "" {
			problems = append(problems, fmt.Sprintf("field %q: value %q is empty or has surrounding blanks", f.Name, v.Value))
			continue
		}
		add(v.Value, v.Value)
		for _, a := range v.Accept {
			add(a, v.Value)
		}
	}
	return problems
}

// yamlProblem rewords the decoder's complaint about an unknown key, which
// names Go types, in the terms of the file.
func yamlProblem(msg string) string {
	if before, rest, ok := strings.Cut(msg, "field "); ok {
		if key, _, ok := strings.Cut(rest, " not found in type "); ok {
			return before + "unknown key " + strconv.Quote(key)
		}
	}
	return msg
}

func typeList() string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// isIdent reports lower snake case: a letter, then letters, digits and
// underscores.
func isIdent(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
