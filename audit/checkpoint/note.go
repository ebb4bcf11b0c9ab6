package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qiao-exchange/qiao/crypto/sm2"
)

// SignatureType identifies Qiao's SM2 note signatures in key IDs and
// verifier keys: the byte 0xff, which the signed-note specification reserves
// for signature types it does not assign, followed by an identifier unlikely
// to collide with any other.
const SignatureType = "\xff" + "github.com/qiao-exchange/qiao/sm2-sm3"

const (
	// MaxNoteSize is the largest note Open reads, in bytes: room for the
	// specification's 16 signatures even of post-quantum size.
	MaxNoteSize = 256 << 10
	// MaxSignatures is the most signature lines Open reads in one note; the
	// signed-note specification requires at least 16.
	MaxSignatures = 100
)

// sigPrefix begins every signature line: an em dash and a space.
const sigPrefix = "\u2014 "

// Verifier is a log's public key as an auditor holds it: a key name and an
// SM2 public key. It verifies the checkpoints that key signed.
type Verifier struct {
	name string
	id   uint32
	key  *sm2.PublicKey
}

// NewVerifier returns the verifier for the SM2 key that signs under name.
func NewVerifier(name string, key *sm2.PublicKey) (*Verifier, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	return &Verifier{name: name, id: keyID(name, key.DER()), key: key}, nil
}

// keyID returns SHA-256(name || 0x0A || SignatureType || der)[:4] as a
// big-endian integer.
func keyID(name string, der []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n'})
	h.Write([]byte(SignatureType))
	h.Write(der)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// checkKeyName enforces the signed-note rules for key names: non-empty,
// valid UTF-8, no Unicode space, no plus sign, no control character.
func checkKeyName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrKeyName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: invalid UTF-8", ErrKeyName)
	case strings.IndexFunc(name, unicode.IsSpace) >= 0:
		return fmt.Errorf("%w: %.64q contains a space", ErrKeyName, name)
	case strings.Contains(name, "+"):
		return fmt.Errorf("%w: %.64q contains a plus sign", ErrKeyName, name)
	case strings.IndexFunc(name, isControl) >= 0:
		return fmt.Errorf("%w: %.64q contains a control character", ErrKeyName, name)
	}
	return nil
}

// Name returns the key name signatures carry.
func (v *Verifier) Name() string { return v.name }

// KeyID returns the key ID signatures carry.
func (v *Verifier) KeyID() uint32 { return v.id }

// PublicKey returns the SM2 public key.
func (v *Verifier) PublicKey() *sm2.PublicKey { return v.key }

// String returns the verifier key, one line an auditor can keep offline and
// give to ParseVerifier:
//
//	<name>+<key ID as 8 lower-case hex digits>+<base64(SignatureType || public key DER)>
//
// the form of golang.org/x/mod/sumdb/note's verifier keys, with Qiao's
// signature type.
func (v *Verifier) String() string {
	blob := append([]byte(SignatureType), v.key.DER()...)
	return fmt.Sprintf("%s+%08x+%s", v.name, v.id, base64.StdEncoding.EncodeToString(blob))
}

// ParseVerifier reads a verifier key written by Verifier.String, checking
// every part of it: the name, the SM2 signature type, the key (a
// SubjectPublicKeyInfo on the SM2 curve, in its one DER encoding) and the
// key ID, which must be the one the name and key give. Errors wrap
// ErrVerifierKey, or ErrKeyName for the name.
func ParseVerifier(vkey string) (*Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	idHex, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: want <name>+<key ID>+<key>", ErrVerifierKey)
	}
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	id, err := hex.DecodeString(idHex)
	if err != nil || len(id) != 4 || hex.EncodeToString(id) != idHex {
		return nil, fmt.Errorf("%w: key ID %.16q is not 8 lower-case hex digits", ErrVerifierKey, idHex)
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || base64.StdEncoding.EncodeToString(blob) != key64 {
		return nil, fmt.Errorf("%w: key is not standard base64", ErrVerifierKey)
	}
	der, ok := bytes.CutPrefix(blob, []byte(SignatureType))
	if !ok {
		return nil, fmt.Errorf("%w: not of the signature type %q", ErrVerifierKey, SignatureType[1:])
	}
	key, err := sm2.ParsePublicKeyDER(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerifierKey, err)
	}
	if !bytes.Equal(key.DER(), der) {
		return nil, fmt.Errorf("%w: public key DER not in its canonical encoding", ErrVerifierKey)
	}
	v := &Verifier{name: name, id: keyID(name, der), key: key}
	if v.id != binary.BigEndian.Uint32(id) {
		return nil, fmt.Errorf("%w: key ID %s does not match the name and key (%08x)", ErrVerifierKey, idHex, v.id)
	}
	return v, nil
}

// Sign returns c as a signed note, signed with key under name. The name
// should be c.Origin. Each call draws a fresh SM2 nonce, so signing twice
// gives two different, equally valid notes.
func Sign(c Checkpoint, name string, key *sm2.PrivateKey) ([]byte, error) {
	text, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	v, err := NewVerifier(name, key.PublicKey())
	if err != nil {
		return nil, err
	}
	sig, err := key.Sign(text)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: signing: %w", err)
	}
	blob := binary.BigEndian.AppendUint32(nil, v.id)
	blob = append(blob, sig...)
	var b bytes.Buffer
	b.Write(text)
	b.WriteString("\n" + sigPrefix + name + " ")
	b.WriteString(base64.StdEncoding.EncodeToString(blob))
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// Open verifies a signed note with v and returns the checkpoint it carries.
// Following the signed-note rules, it ignores signatures by other keys (a
// different name or key ID), refuses the note if a signature by v's key does
// not verify (ErrSignature) or if there is none (ErrUnverified), and only
// then reads the text as a checkpoint (ErrMalformed). A note that is not a
// signed note is refused with ErrMalformedNote.
//
// Open does not compare the checkpoint's origin with v's name; a caller
// that expects a given log checks Checkpoint.Origin.
func Open(note []byte, v *Verifier) (Checkpoint, error) {
	text, sigs, err := splitNote(note)
	if err != nil {
		return Checkpoint{}, err
	}
	verified := false
	for _, s := range sigs {
		if s.name != v.name || s.id != v.id {
			continue
		}
		if err := v.key.Verify(text, s.sig); err != nil {
			return Checkpoint{}, fmt.Errorf("%w: line %d, key %s+%08x", ErrSignature, s.line, v.name, v.id)
		}
		verified = true
	}
	if !verified {
		return Checkpoint{}, fmt.Errorf("%w: %s+%08x", ErrUnverified, v.name, v.id)
	}
	return Parse(text)
}

// signature is one parsed signature line.
type signature struct {
	line int // in the note, from 1
	name string
	id   uint32
	sig  []byte
}

// splitNote checks the signed-note syntax and splits a note into its text
// (which ends in a newline) and its signature lines.
func splitNote(note []byte) ([]byte, []signature, error) {
	if len(note) > MaxNoteSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedNote, len(note), MaxNoteSize)
	}
	line := 1
	for i := 0; i < len(note); {
		r, size := utf8.DecodeRune(note[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return nil, nil, fmt.Errorf("%w: line %d: invalid UTF-8", ErrMalformedNote, line)
		case r == '\n':
			line++
		case r < 0x20:
			return nil, nil, fmt.Errorf("%w: line %d: control character %U", ErrMalformedNote, line, r)
		}
		i += size
	}
	split := bytes.LastIndex(note, []byte("\n\n"))
	if split < 0 {
		return nil, nil, fmt.Errorf("%w: no blank line before the signatures", ErrMalformedNote)
	}
	text, block := note[:split+1], note[split+2:]
	line = bytes.Count(text, []byte{'\n'}) + 2 // the first signature line
	if len(block) == 0 {
		return nil, nil, fmt.Errorf("%w: line %d: no signature after the blank line", ErrMalformedNote, line)
	}
	if block[len(block)-1] != '\n' {
		return nil, nil, fmt.Errorf("%w: line %d: no final newline", ErrMalformedNote, line+bytes.Count(block, []byte{'\n'}))
	}
	var sigs []signature
	for l := range strings.Lines(string(block)) {
		if len(sigs) == MaxSignatures {
			return nil, nil, fmt.Errorf("%w: more than %d signatures", ErrMalformedNote, MaxSignatures)
		}
		s, err := parseSignature(l[:len(l)-1])
		if err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: %w", ErrMalformedNote, line, err)
		}
		s.line = line
		sigs = append(sigs, s)
		line++
	}
	return text, sigs, nil
}

// parseSignature reads "— <name> <base64(key ID || signature)>".
func parseSignature(l string) (signature, error) {
	rest, ok := strings.CutPrefix(l, sigPrefix)
	if !ok {
		return signature{}, fmt.Errorf("signature line does not begin with %q", sigPrefix)
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok {
		return signature{}, fmt.Errorf("signature line has no space between name and signature")
	}
	if err := checkKeyName(name); err != nil {
		return signature{}, err
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || base64.StdEncoding.EncodeToString(blob) != b64 {
		return signature{}, fmt.Errorf("signature is not standard base64")
	}
	if len(blob) < 5 {
		return signature{}, fmt.Errorf("signature of %d bytes, too short for a key ID and a signature", len(blob))
	}
	return signature{name: name, id: binary.BigEndian.Uint32(blob), sig: blob[4:]}, nil
}
