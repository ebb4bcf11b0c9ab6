// Package checkpoint writes, signs, opens and verifies the audit log's tree
// heads: checkpoints in the C2SP tlog-checkpoint format
// (https://c2sp.org/tlog-checkpoint), signed as C2SP signed notes
// (https://c2sp.org/signed-note) with SM2.
//
// A checkpoint is three lines and optional extension lines, each ending in a
// newline:
//
//	qiao.example/audit
//	3
//	WbfTk0uDZiUiJUYOPHL57U6bS66uE6Mf+QyPpdbnrws=
//
// the origin (the log's identity), the tree size in decimal and the base64
// root hash of the SM3 Merkle tree of audit/merkle. A signed note is that
// text, a blank line and one or more signature lines:
//
//	— <key name> <base64(key ID || signature)>
//
// SM2 has no signature type assigned by the signed-note specification, so
// this package defines one in the range the specification reserves for
// that, 0xff followed by an identifier (SignatureType):
//
//	signature type = 0xff || "github.com/qiao-exchange/qiao/sm2-sm3"
//	key ID         = SHA-256(key name || 0x0A || signature type || public key)[:4]
//	signature      = SM2 over the note text (GB/T 32918.2, digest SM3,
//	                 user ID 1234567812345678), ASN.1 DER
//
// where the public key is its SubjectPublicKeyInfo DER. An auditor holds the
// log's verifier key as one line of text (see Verifier.String):
//
//	<key name>+<key ID, 8 hex digits>+<base64(signature type || public key)>
//
// Open verifies by the signed-note rules: signatures from other keys are
// ignored; one from the verifier's key must verify, and none may fail.
//
// This package is not a general signed-note library — it signs only
// checkpoints and only with SM2 — and it does not decide when checkpoints
// are issued, where they are kept, or whether two are consistent
// (merkle.VerifyConsistency does). docs/audit.md has the complete format and
// a worked example.
package checkpoint

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qiao-exchange/qiao/audit/merkle"
)

var (
	// ErrMalformed means checkpoint text, or a Checkpoint to marshal, does
	// not follow the tlog-checkpoint format; the message names the line.
	// Refuse it: a checkpoint is never repaired.
	ErrMalformed = errors.New("checkpoint: malformed checkpoint")
	// ErrMalformedNote means bytes given to Open are not a signed note: no
	// blank line before the signatures, a malformed signature line, a
	// control character, invalid UTF-8, too large. Refuse it.
	ErrMalformedNote = errors.New("checkpoint: malformed signed note")
	// ErrUnverified means the note carries no signature by the verifier's
	// key (its name and key ID), only signatures by other keys, which are
	// ignored. It may be a note of another log, signed by a rotated-out key,
	// or forged under another key: refuse it, or try the next trusted key.
	ErrUnverified = errors.New("checkpoint: no signature by the verifier's key")
	// ErrSignature means a signature line names the verifier's key but does
	// not verify: the note was altered after signing or the signature
	// forged. Refuse the note and report it; it is evidence of tampering.
	ErrSignature = errors.New("checkpoint: signature does not verify")
	// ErrKeyName means a key name is empty or contains a space, a plus sign
	// or a control character, which signed notes forbid. Choose another
	// name; the log's origin is the recommended one.
	ErrKeyName = errors.New("checkpoint: invalid key name")
	// ErrVerifierKey means a verifier key string is not of the form
	// <name>+<key ID>+<base64 key> this package writes, or its key ID does
	// not match its name and key. Ask the log operator for the key again.
	ErrVerifierKey = errors.New("checkpoint: malformed verifier key")
)

// Checkpoint is a signed tree head of the audit log.
type Checkpoint struct {
	// Origin identifies the log, e.g. "gateway.example.gov.cn/qiao/audit":
	// non-empty, without control characters. It should contain no spaces
	// or plus signs and should equal the signing key's name.
	Origin string
	// Size is the number of entries in the tree.
	Size uint64
	// Hash is the root hash of the tree at Size.
	Hash merkle.Hash
	// Extensions are optional extra lines, non-empty and without control
	// characters. Auditors cannot check them against the tree, so Qiao
	// writes none; Parse keeps any it finds.
	Extensions []string
}

// Marshal returns the checkpoint's note text. It refuses, with ErrMalformed,
// a checkpoint that Parse would not read back unchanged.
func (c Checkpoint) Marshal() ([]byte, error) {
	if err := checkLine(1, "origin", c.Origin); err != nil {
		return nil, err
	}
	for i, e := range c.Extensions {
		if err := checkLine(4+i, "extension", e); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(base64.StdEncoding.EncodeToString(c.Hash[:]))
	b.WriteByte('\n')
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// lineNames names the three mandatory lines in errors.
var lineNames = [...]string{"origin", "tree size", "root hash"}

// Parse reads checkpoint text, strictly: exactly the lines of the format,
// each ending in a newline; a decimal size without sign or leading zeros; a
// root hash in standard base64 with padding of exactly merkle.HashSize
// bytes; non-empty extension lines. Errors wrap ErrMalformed and name the
// line. It checks no signature: text that did not come out of Open is not
// to be trusted.
func Parse(text []byte) (Checkpoint, error) {
	if len(text) == 0 {
		return Checkpoint{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if text[len(text)-1] != '\n' {
		n := bytes.Count(text, []byte{'\n'}) + 1
		return Checkpoint{}, fmt.Errorf("%w: line %d: no final newline", ErrMalformed, n)
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	for i, l := range lines {
		name := "extension"
		if i < len(lineNames) {
			name = lineNames[i]
		}
		if err := checkLine(i+1, name, l); err != nil {
			return Checkpoint{}, err
		}
	}
	if n := len(lines); n < len(lineNames) {
		return Checkpoint{}, fmt.Errorf("%w: line %d (%s) missing", ErrMalformed, n+1, lineNames[n])
	}
	c := Checkpoint{Origin: lines[0]}

	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || lines[1] != strconv.FormatUint(size, 10) {
		return Checkpoint{}, fmt.Errorf("%w: line 2 (tree size): %.40q is not a decimal number without sign or leading zeros", ErrMalformed, lines[1])
	}
	c.Size = size

	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != merkle.HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return Checkpoint{}, fmt.Errorf("%w: line 3 (root hash): %.60q is not standard base64 of %d bytes", ErrMalformed, lines[2], merkle.HashSize)
	}
	c.Hash = merkle.Hash(h)

	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	return c, nil
}

// checkLine checks one line of checkpoint text: non-empty, valid UTF-8,
// without control characters (the newline included).
func checkLine(n int, name, l string) error {
	if l == "" {
		return fmt.Errorf("%w: line %d (%s): empty", ErrMalformed, n, name)
	}
	if !utf8.ValidString(l) {
		return fmt.Errorf("%w: line %d (%s): invalid UTF-8", ErrMalformed, n, name)
	}
	if i := strings.IndexFunc(l, isControl); i >= 0 {
		return fmt.Errorf("%w: line %d (%s): control character %U", ErrMalformed, n, name, l[i])
	}
	return nil
}

// isControl reports the characters signed notes forbid: the ASCII control
// characters below U+0020 (the newline is forbidden within a line).
func isControl(r rune) bool { return r < 0x20 }
