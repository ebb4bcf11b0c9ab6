package schema

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidValue is wrapped by every error a validator returns and by every
// FieldError: the value is not a valid value of its type. Report it to
// whoever supplied the value, with the field and reason; retrying will not
// help. The error text never contains the value itself.
var ErrInvalidValue = errors.New("invalid value")

// valueError is a rejected value: what kind of value, and why, in words that
// do not repeat the value.
type valueError struct {
	kind   string
	reason string
}

func (e *valueError) Error() string {
	if e.kind == "" {
		return e.reason
	}
	return "invalid " + e.kind + ": " + e.reason
}

func (e *valueError) Unwrap() error { return ErrInvalidValue }

func invalid(kind, reason string) error { return &valueError{kind: kind, reason: reason} }

// Normalize validates one raw value of the field and returns its canonical
// form. Surrounding white space (including the ideographic space U+3000) is
// ignored; an empty value is "" for an optional field and an error for a
// required one. Errors wrap ErrInvalidValue and do not contain the value.
// The field must come from a loaded Dataset (Load or Parse), which prepares
// its enum values.
func (f *Field) Normalize(raw string) (string, error) {
	s := trim(raw)
	if s == "" {
		if f.Required {
			return "", &valueError{reason: "required value is missing"}
		}
		return "", nil
	}
	switch f.Type {
	case TypeString:
		return normalizeText(s)
	case TypeIDNumber:
		return NormalizeIDNumber(s)
	case TypeCreditCode:
		return NormalizeCreditCode(s)
	case TypeIDOrCreditCode:
		return normalizeIDOrCreditCode(s)
	case TypeDate:
		return NormalizeDate(s)
	case TypeMonth:
		return NormalizeMonth(s)
	case TypeMoney:
		m, err := ParseMoney(s)
		if err != nil {
			return "", err
		}
		if m < 0 && !f.AllowNegative {
			return "", invalid(kindMoney, "a negative amount is not allowed here")
		}
		return m.String(), nil
	case TypeInt:
		n, err := parseInt(s)
		if err != nil {
			return "", err
		}
		if n < 0 && !f.AllowNegative {
			return "", invalid(kindInt, "a negative number is not allowed here")
		}
		return formatInt(n), nil
	case TypeBool:
		return NormalizeBool(s)
	case TypeEnum:
		if v, ok := f.enum[enumKey(s)]; ok {
			return v, nil
		}
		return "", invalid("value", "not one of "+f.enumList())
	case TypeCaseNo:
		return NormalizeCaseNo(s)
	case TypeDocNo:
		return NormalizeDocNo(s)
	}
	return "", invalid("value", "field has unknown type "+string(f.Type))
}

// enumList names the canonical values of an enum field for error messages.
func (f *Field) enumList() string {
	vs := make([]string, len(f.Values))
	for i, v := range f.Values {
		vs[i] = v.Value
	}
	return strings.Join(vs, "/")
}

// NormalizeBool accepts 是/否, 有/无, 1/0, true/false, Y/N and yes/no (any
// case, full-width or not) and returns "true" or "false".
func NormalizeBool(s string) (string, error) {
	switch strings.ToLower(compact(s)) {
	case "是", "有", "1", "true", "y", "yes":
		return "true", nil
	case "否", "无", "0", "false", "n", "no":
		return "false", nil
	}
	return "", invalid("yes/no value", "not one of 是/否, 有/无, 1/0, true/false, Y/N")
}

// normalizeText checks free text: valid UTF-8 without control characters
// other than tab and line breaks.
func normalizeText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("text", "is not valid UTF-8")
	}
	for _, r := range s {
		if r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return "", invalid("text", "contains a control character")
		}
	}
	return s, nil
}

// isBlank reports white space, including the ideographic space, and the
// invisible marks exports carry (byte-order mark, zero-width space).
func isBlank(r rune) bool {
	return unicode.IsSpace(r) || r == '\uFEFF' || r == '\u200B'
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// trim removes surrounding blanks.
func trim(s string) string {
	start, end := 0, len(s)
	for start < end && asciiSpace(s[start]) {
		start++
	}
	for end > start && asciiSpace(s[end-1]) {
		end--
	}
	s = s[start:end]
	if s == "" || (s[0] < utf8.RuneSelf && s[len(s)-1] < utf8.RuneSelf) {
		return s
	}
	return strings.TrimFunc(s, isBlank)
}

// foldRune maps full-width ASCII (U+FF01–U+FF5E) to ASCII, the ideographic
// space to a space and the full-width yen sign to ¥.
func foldRune(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	case r == 0xFFE5:
		return '¥'
	}
	return r
}

// fold applies foldRune to s, without allocating when s is ASCII.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Map(foldRune, s)
		}
	}
	return s
}

// compact folds s and removes every blank in it.
func compact(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || asciiSpace(s[i]) {
			return strings.Map(func(r rune) rune {
				if isBlank(r) {
					return -1
				}
				return foldRune(r)
			}, s)
		}
	}
	return s
}

// enumKey is the form enum values and headers are compared in: folded,
// without blanks, lower case.
func enumKey(s string) string {
	s = compact(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
			return strings.ToLower(s)
		}
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
