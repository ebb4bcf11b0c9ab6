package schema

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	kindCaseNo = "case number"
	kindDocNo  = "document number"
)

// courtAbbreviations are the first characters of court codes in case
// numbers: the province-level abbreviations courts use (both 贵 and 黔, 云 and
// 滇, 内 and 蒙 occur), 兵 for the Xinjiang Production and Construction Corps
// and 军 for military courts. The Supreme People's Court writes 最高法.
const courtAbbreviations = "京津冀晋蒙内辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵黔云滇藏陕甘青宁新兵军"

// NormalizeCaseNo validates a court case number (案号) and returns its
// canonical form.
//
// The canonical form is the one the Supreme People's Court's provisions on
// case numbers (2015) prescribe and judgment documents print: the year in
// full-width round brackets, then court code, case type and sequence number,
// ending in 号 — （2023）豫1528执123号, （2024）豫15民终7号, （2023）最高法民申1号.
// Half-width brackets (2023), square or hexagonal ones ([2023], 〔2023〕,
// 【2023】) and missing ones are all read; full-width digits and blanks are
// accepted; leading zeros of the sequence number are dropped, as courts do
// not write them. The form used before 2016, （2010）潢刑初字第12号, is
// accepted as written. A suffix 之一, 之二 … after 号 is kept.
func NormalizeCaseNo(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid(kindCaseNo, "is not valid UTF-8")
	}
	t := compact(s)
	r, size := utf8.DecodeRuneInString(t)
	opened := isOpenBracket(r)
	if opened {
		t = t[size:]
	}
	if len(t) < 4 || !allDigits(t[:4]) {
		return "", invalid(kindCaseNo, "must start with the year in brackets, as in （2023）")
	}
	year := t[:4]
	if y := atoi(year); y < minYear || y > maxYear {
		return "", invalid(kindCaseNo, "year is outside 1900–2099")
	}
	t = t[4:]
	r, size = utf8.DecodeRuneInString(t)
	switch closed := isCloseBracket(r); {
	case opened && !closed:
		return "", invalid(kindCaseNo, "the bracket after the year is not closed")
	case !opened && closed:
		return "", invalid(kindCaseNo, "the bracket before the year is missing")
	case closed:
		t = t[size:]
	}

	body, suffix, err := cutCaseSuffix(t)
	if err != nil {
		return "", err
	}
	prefix, seq, err := splitCaseBody(body)
	if err != nil {
		return "", err
	}
	seq = strings.TrimLeft(seq, "0")
	if seq == "" {
		return "", invalid(kindCaseNo, "sequence number is zero")
	}
	var b strings.Builder
	b.Grow(len("（）号") + len(year) + len(prefix) + len(seq) + len(suffix))
	b.WriteString("（")
	b.WriteString(year)
	b.WriteString("）")
	b.WriteString(prefix)
	b.WriteString(seq)
	b.WriteString("号")
	b.WriteString(suffix)
	return b.String(), nil
}

// cutCaseSuffix splits "…号" or "…号之一" into the part before 号 and the
// suffix after it.
func cutCaseSuffix(t string) (body, suffix string, err error) {
	if b, ok := strings.CutSuffix(t, "号"); ok {
		return b, "", nil
	}
	i := strings.LastIndex(t, "号之")
	if i < 0 {
		return "", "", invalid(kindCaseNo, "must end with 号")
	}
	suffix = t[i+len("号"):]
	rest := suffix[len("之"):]
	if rest == "" {
		return "", "", invalid(kindCaseNo, "must end with 号")
	}
	for _, r := range rest {
		if !strings.ContainsRune("一二三四五六七八九十0123456789", r) {
			return "", "", invalid(kindCaseNo, "must end with 号")
		}
	}
	return t[:i], suffix, nil
}

// splitCaseBody splits the part between the year and 号 into the court and
// type codes and the sequence number, checking their shape.
func splitCaseBody(body string) (prefix, seq string, err error) {
	if i := strings.Index(body, "字第"); i >= 0 {
		// Before 2016: court abbreviation, type, 字第, number.
		prefix, seq = body[:i+len("字第")], body[i+len("字第"):]
		if i == 0 || !hanOrDigits(body[:i]) {
			return "", "", invalid(kindCaseNo, "court and case type are missing before 字第")
		}
		if seq == "" || !allDigits(seq) {
			return "", "", invalid(kindCaseNo, "sequence number is missing")
		}
		return prefix, seq, nil
	}
	p := body
	if q, ok := strings.CutPrefix(p, "最高法"); ok {
		p = q
	} else {
		r, size := utf8.DecodeRuneInString(p)
		if r == utf8.RuneError || !strings.ContainsRune(courtAbbreviations, r) {
			return "", "", invalid(kindCaseNo, "court code does not start with a province or court abbreviation")
		}
		p = p[size:]
	}
	n := leadingDigits(p)
	if n == len(p) {
		return "", "", invalid(kindCaseNo, "case type (民初, 刑终, 执 …) is missing")
	}
	if n > 4 {
		return "", "", invalid(kindCaseNo, "court code has more than four digits")
	}
	p = p[n:]
	types := 0
	for p != "" {
		r, size := utf8.DecodeRuneInString(p)
		if !unicode.Is(unicode.Han, r) {
			break
		}
		p = p[size:]
		types++
	}
	if types == 0 {
		return "", "", invalid(kindCaseNo, "case type (民初, 刑终, 执 …) is missing")
	}
	if p == "" || !allDigits(p) {
		return "", "", invalid(kindCaseNo, "sequence number must be digits just before 号")
	}
	return body[:len(body)-len(p)], p, nil
}

func hanOrDigits(s string) bool {
	for _, r := range s {
		if !unicode.Is(unicode.Han, r) && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// isOpenBracket and isCloseBracket recognise the brackets written around a
// year, after full-width folding: ( [ 〔 【 and their closing pairs.
func isOpenBracket(r rune) bool  { return r == '(' || r == '[' || r == '〔' || r == '【' }
func isCloseBracket(r rune) bool { return r == ')' || r == ']' || r == '〕' || r == '】' }

// NormalizeDocNo validates an official document number (文号 or 文书号, e.g. a
// transfer letter's 豫潢人社监移〔2023〕5号) and returns its canonical form:
// full-width letters and digits folded, blanks removed, and a year in any
// bracket style — (2023), （2023）, [2023], 【2023】 — written in the hexagonal
// brackets 〔2023〕 that GB/T 9704 prescribes for document numbers. Agencies
// quote one another's document numbers with whatever brackets their systems
// type, so without this the same letter would not match itself.
func NormalizeDocNo(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid(kindDocNo, "is not valid UTF-8")
	}
	t := compact(s)
	if t == "" {
		return "", invalid(kindDocNo, "is empty")
	}
	for _, r := range t {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return "", invalid(kindDocNo, "contains a control character")
		}
	}
	var b strings.Builder
	copied := 0 // t[:copied] is in b
	for i := 0; i < len(t); {
		r, size := utf8.DecodeRuneInString(t[i:])
		if y := i + size; isOpenBracket(r) && len(t) >= y+4 && allDigits(t[y:y+4]) {
			if c, csize := utf8.DecodeRuneInString(t[y+4:]); isCloseBracket(c) {
				b.WriteString(t[copied:i])
				b.WriteString("〔")
				b.WriteString(t[y : y+4])
				b.WriteString("〕")
				i = y + 4 + csize
				copied = i
				continue
			}
		}
		i += size
	}
	if copied == 0 {
		return t, nil
	}
	b.WriteString(t[copied:])
	return b.String(), nil
}
