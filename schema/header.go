package schema

import (
	"strings"
	"unicode/utf8"
)

// MatchHeader returns the canonical name of the field a column header of an
// export stands for: the field's name itself or one of its Chinese or
// English aliases. The comparison ignores blanks, case, full-width forms,
// underscores, hyphens and the asterisks templates mark required columns
// with, so 公民身份号码, "公民 身份号码", ＩＤ　Ｎｕｍｂｅｒ, id-number and
// *id_number all match id_number. Aliases are unique within a dataset, so a
// header matches at most one field.
func MatchHeader(ds *Dataset, header string) (field string, ok bool) {
	field, ok = ds.headers[headerKey(header)]
	return field, ok
}

// HeaderKey is the form MatchHeader compares headers in: two headers with
// the same key name the same column. Readers that keep their own header
// tables (agencies' aliases, mapping files) key them with it.
func HeaderKey(s string) string { return headerKey(s) }

// headerKey is the form headers are compared in.
func headerKey(s string) string {
	s = enumKey(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '_' || c == '-' || c == '*' || c >= utf8.RuneSelf {
			return strings.Map(func(r rune) rune {
				switch r {
				case '_', '-', '*', '※':
					return -1
				}
				return r
			}, s)
		}
	}
	return s
}
