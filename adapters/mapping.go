package adapters

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/qiao-exchange/qiao/schema"
)

// Mapping is an agency's own column names: dataset ID → the header of a
// column in its exports → the canonical field it holds, or "-" for a column
// to drop. Headers are compared as schema.MatchHeader compares them.
type Mapping map[string]map[string]string

// Ignored is the target that drops a column in a Mapping.
const Ignored = "-"

// LoadMapping reads a mapping file: YAML, one key per dataset ID, each
// holding a map from the agency's header to a field name (or "-"):
//
//	police.deaths:
//	  人员身份证号: id_number
//	  所属派出所: "-"
//
// Duplicate keys, non-string values and two headers that compare equal are
// errors wrapping ErrInvalidMapping. Whether the fields exist is checked by
// Check, and by Open for the dataset it reads.
func LoadMapping(path string) (Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("adapters: mapping: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var m Mapping
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return Mapping{}, nil
		}
		return nil, fmt.Errorf("%w %s: %w", ErrInvalidMapping, path, err)
	}
	var errs []error
	for _, id := range sortedKeys(m) {
		seen := map[string]string{}
		for _, h := range sortedKeys(m[id]) {
			k := headerKey(h)
			if k == "" {
				errs = append(errs, fmt.Errorf("%w %s: %s: empty header", ErrInvalidMapping, path, id))
				continue
			}
			if prev, ok := seen[k]; ok {
				errs = append(errs, fmt.Errorf("%w %s: %s: headers %q and %q are the same column", ErrInvalidMapping, path, id, prev, h))
			}
			seen[k] = h
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// Check reports every dataset of the mapping that reg does not define and
// every target that is neither a field of its dataset nor "-", joined in one
// error wrapping ErrInvalidMapping.
func (m Mapping) Check(reg *schema.Registry) error {
	var errs []error
	for _, id := range sortedKeys(m) {
		ds, err := reg.Get(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidMapping, err))
			continue
		}
		errs = append(errs, checkTargets("mapping", ds, m[id])...)
	}
	return errors.Join(errs...)
}

// checkTargets reports the targets of one dataset's mapping that are not
// fields of it.
func checkTargets(what string, ds *schema.Dataset, m map[string]string) []error {
	var errs []error
	for _, h := range sortedKeys(m) {
		if f := m[h]; f != Ignored && ds.FieldIndex(f) < 0 {
			errs = append(errs, fmt.Errorf("%w: %s for %s maps column %q to %q, which is not a field of the dataset", ErrInvalidMapping, what, ds.ID, h, f))
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// headerKey is the form headers are compared in: schema.MatchHeader's,
// after dropping the byte-order marks and zero-width spaces that exports
// leave in header cells.
func headerKey(s string) string {
	return schema.HeaderKey(bomAndZeroWidth.Replace(s))
}

var bomAndZeroWidth = strings.NewReplacer("\uFEFF", "", "\u200B", "")

// Check reports every dataset of the Agency's Aliases and Ignore lists that
// reg does not define, every alias naming a field its dataset lacks, and
// every header both aliased and ignored or ignored although it is a header
// of a field of one of the agency's datasets, joined in one error wrapping
// ErrInvalidMapping. An agency package's tests call it.
func (a *Agency) Check(reg *schema.Registry) error {
	var errs []error
	for _, id := range sortedKeys(a.Aliases) {
		ds, err := reg.Get(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: agency %s: %w", ErrInvalidMapping, a.Name, err))
			continue
		}
		errs = append(errs, checkTargets("agency "+a.Name, ds, a.Aliases[id])...)
		aliased := map[string]string{}
		for _, h := range sortedKeys(a.Aliases[id]) {
			k := headerKey(h)
			if prev, ok := aliased[k]; ok {
				errs = append(errs, fmt.Errorf("%w: agency %s: %s: headers %q and %q are the same column", ErrInvalidMapping, a.Name, id, prev, h))
			}
			aliased[k] = h
		}
		for _, list := range []string{"*", id} {
			for _, h := range a.Ignore[list] {
				if _, ok := aliased[headerKey(h)]; ok {
					errs = append(errs, fmt.Errorf("%w: agency %s: %s: header %q is both an alias and ignored", ErrInvalidMapping, a.Name, id, h))
				}
			}
		}
	}
	for _, id := range sortedKeys(a.Ignore) {
		if _, err := reg.Get(id); id != "*" && err != nil {
			errs = append(errs, fmt.Errorf("%w: agency %s: ignore list: %w", ErrInvalidMapping, a.Name, err))
		}
	}
	for _, ds := range reg.ForOwner(a.Name) {
		for _, list := range []string{"*", ds.ID} {
			for _, h := range a.Ignore[list] {
				if f, ok := schema.MatchHeader(ds, h); ok {
					errs = append(errs, fmt.Errorf("%w: agency %s: ignored header %q is a header of field %s of %s", ErrInvalidMapping, a.Name, h, f, ds.ID))
				}
			}
		}
	}
	return errors.Join(errs...)
}
