package envelope

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/crypto/sm2"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

func TestRoundTrip(t *testing.T) {
	k := exampleKeys(t)
	for _, n := range []int{0, 1, 15, 16, 17, 1000, 1 << 20} {
		pt := bytes.Repeat([]byte{'r'}, n)
		wire := mustMarshal(t, k.seal(t, pt))
		ad, got, err := k.open(wire)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("%d bytes: payload changed", n)
		}
		if ad != exampleAD {
			t.Fatalf("%d bytes: associated data %+v, want %+v", n, ad, exampleAD)
		}
	}
}

func TestSealFreshKeyAndNonce(t *testing.T) {
	k := exampleKeys(t)
	a, b := content(t, k.seal(t, examplePlaintext)), content(t, k.seal(t, examplePlaintext))
	if bytes.Equal(a.EncryptedKey, b.EncryptedKey) || bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("two seals of the same payload share a data key, nonce or ciphertext")
	}
}

func TestSealCreatedDefaultsToNow(t *testing.T) {
	k := exampleKeys(t)
	ad := exampleAD
	ad.Created = time.Time{}
	before := time.Now()
	env, err := Seal(k.sender, k.recipient.PublicKey(), ad, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Open(env, k.recipient, k.sender.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if got.Created.Before(before) || got.Created.After(time.Now()) || got.Created.Location() != time.UTC {
		t.Fatalf("created %v, want the time of sealing in UTC", got.Created)
	}
}

func TestSealRefuses(t *testing.T) {
	k := exampleKeys(t)
	long := strings.Repeat("a", MaxFieldSize+1)
	tests := []struct {
		name   string
		mutate func(*AssociatedData)
	}{
		{"empty dataset", func(a *AssociatedData) { a.Dataset = "" }},
		{"long dataset", func(a *AssociatedData) { a.Dataset = long }},
		{"non-ASCII dataset", func(a *AssociatedData) { a.Dataset = "公安.deaths" }},
		{"control character in batch ID", func(a *AssociatedData) { a.BatchID = "b\n1" }},
		{"empty batch ID", func(a *AssociatedData) { a.BatchID = "" }},
		{"empty content type", func(a *AssociatedData) { a.ContentType = "" }},
		{"long content type", func(a *AssociatedData) { a.ContentType = long }},
		{"time after 9999", func(a *AssociatedData) { a.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad := exampleAD
			tt.mutate(&ad)
			if _, err := Seal(k.sender, k.recipient.PublicKey(), ad, nil); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	ad := exampleAD
	ad.Dataset = strings.Repeat("d", MaxFieldSize)
	if _, err := Seal(k.sender, k.recipient.PublicKey(), ad, nil); err != nil {
		t.Fatalf("a dataset of MaxFieldSize bytes: %v", err)
	}
	if _, err := Seal(k.sender, k.recipient.PublicKey(), exampleAD, make([]byte, MaxPlaintextSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized payload: got %v, want ErrTooLarge", err)
	}
	if _, err := Seal(nil, k.recipient.PublicKey(), exampleAD, nil); err == nil {
		t.Fatal("nil sender key accepted")
	}
	if _, err := Seal(k.sender, nil, exampleAD, nil); err == nil {
		t.Fatal("nil recipient key accepted")
	}
}

func TestLargestPayloadFits(t *testing.T) {
	k := exampleKeys(t)
	ad := exampleAD
	long := strings.Repeat("z", MaxFieldSize)
	ad.Dataset, ad.BatchID, ad.ContentType = long, long, long
	ad.Created = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	env, err := Seal(k.sender, k.recipient.PublicKey(), ad, make([]byte, MaxPlaintextSize))
	if err != nil {
		t.Fatal(err)
	}
	wire := mustMarshal(t, env)
	if len(wire) > MaxSize {
		t.Fatalf("%d bytes, over MaxSize", len(wire))
	}
	if _, _, err := k.open(wire); err != nil {
		t.Fatal(err)
	}
}

// Every single-bit change of a marshalled envelope is refused with one of the
// package's errors, and none makes Open panic.
func TestEveryBitFlipRefused(t *testing.T) {
	k := exampleKeys(t)
	wire := mustMarshal(t, k.seal(t, examplePlaintext))
	seen := map[error]int{}
	for i := range wire {
		for bit := range 8 {
			b := bytes.Clone(wire)
			b[i] ^= 1 << bit
			_, _, err := k.open(b)
			s := sentinelOf(err)
			if s == nil {
				t.Fatalf("byte %d bit %d: got %v, want one of the package's errors", i, bit, err)
			}
			seen[s]++
		}
	}
	t.Logf("%d bytes, %d flips: %v", len(wire), 8*len(wire), seen)
}

func TestEveryTruncationRefused(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	wire := mustMarshal(t, env)
	for n := range len(wire) {
		if _, _, err := k.open(wire[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("wire truncated to %d of %d bytes: got %v, want ErrMalformed", n, len(wire), err)
		}
	}
	// A sender holding a valid key who signs truncated content.
	for n := 1; n < len(env.Content); n++ {
		trunc := signRaw(t, k.sender, env.Content[:n])
		if _, _, err := Open(trunc, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrMalformed) {
			t.Fatalf("content truncated to %d of %d bytes and signed: got %v, want ErrMalformed", n, len(env.Content), err)
		}
	}
}

func TestWrongRecipient(t *testing.T) {
	k := exampleKeys(t)
	other := fixedKey(t, "another recipient")
	wire := mustMarshal(t, k.seal(t, examplePlaintext))
	env, err := Parse(wire)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(env, other, k.sender.PublicKey()); !errors.Is(err, ErrWrongRecipient) {
		t.Fatalf("got %v, want ErrWrongRecipient", err)
	}
}

func TestWrongSender(t *testing.T) {
	k := exampleKeys(t)
	other := fixedKey(t, "another sender")
	env := k.seal(t, examplePlaintext)

	// Opened expecting another principal's key.
	if _, _, err := Open(env, k.recipient, other.PublicKey()); !errors.Is(err, ErrWrongSender) {
		t.Fatalf("expected another key: got %v, want ErrWrongSender", err)
	}
	// Signed by the expected key, but naming another sender key.
	named := resign(t, env, k.sender, func(c *exchangev1.EnvelopeContent) { c.SenderKeyId = other.PublicKey().KeyID() })
	if _, _, err := Open(named, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrWrongSender) {
		t.Fatalf("names another key: got %v, want ErrWrongSender", err)
	}
	// Naming the expected key, signed by another: a forgery.
	forged := signRaw(t, other, env.Content)
	if _, _, err := Open(forged, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: got %v, want ErrBadSignature", err)
	}
}

func TestBadSignature(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	other := k.seal(t, examplePlaintext)
	swapped := &exchangev1.Envelope{Content: env.Content, Signature: other.Signature}
	if _, _, err := Open(swapped, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("signature of another envelope: got %v, want ErrBadSignature", err)
	}
	if _, _, err := Open(env, k.recipient, k.sender.PublicKey()); err != nil {
		t.Fatal(err)
	}
}

func TestUnsupportedVersion(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	for _, v := range []uint32{0, 2, 1 << 31} {
		bad := resign(t, env, k.sender, func(c *exchangev1.EnvelopeContent) { c.Version = v })
		if _, _, err := Open(bad, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("version %d: got %v, want ErrUnsupportedVersion", v, err)
		}
	}
	// A later version may add fields: its content is refused for its
	// version, not for the field this version does not know.
	c := content(t, env)
	c.Version = 2
	raw, err := canonical.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	raw = protowire.AppendTag(raw, 8, protowire.BytesType)
	raw = protowire.AppendBytes(raw, []byte("new in version 2"))
	if _, _, err := Open(signRaw(t, k.sender, raw), k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("version 2 with a new field: got %v, want ErrUnsupportedVersion", err)
	}
}

// Signed content that breaks a field rule is refused as malformed, even from
// a sender whose signature verifies.
func TestMalformedContent(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	tests := []struct {
		name   string
		mutate func(*exchangev1.EnvelopeContent)
	}{
		{"short sender key ID", func(c *exchangev1.EnvelopeContent) { c.SenderKeyId = c.SenderKeyId[:31] }},
		{"upper-case sender key ID", func(c *exchangev1.EnvelopeContent) { c.SenderKeyId = strings.ToUpper(c.SenderKeyId) }},
		{"no recipient key ID", func(c *exchangev1.EnvelopeContent) { c.RecipientKeyId = "" }},
		{"non-hex recipient key ID", func(c *exchangev1.EnvelopeContent) { c.RecipientKeyId = "g" + c.RecipientKeyId[1:] }},
		{"no encrypted key", func(c *exchangev1.EnvelopeContent) { c.EncryptedKey = nil }},
		{"long encrypted key", func(c *exchangev1.EnvelopeContent) { c.EncryptedKey = make([]byte, maxEncryptedKeySize+1) }},
		{"short nonce", func(c *exchangev1.EnvelopeContent) { c.Nonce = c.Nonce[:11] }},
		{"long nonce", func(c *exchangev1.EnvelopeContent) { c.Nonce = append(c.Nonce, 0) }},
		{"ciphertext shorter than tag", func(c *exchangev1.EnvelopeContent) { c.Ciphertext = c.Ciphertext[:15] }},
		{"no associated data", func(c *exchangev1.EnvelopeContent) { c.AssociatedData = nil }},
		{"empty dataset", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.Dataset = "" }},
		{"non-ASCII batch ID", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.BatchId = "批次1" }},
		{"long content type", func(c *exchangev1.EnvelopeContent) {
			c.AssociatedData.ContentType = strings.Repeat("x", MaxFieldSize+1)
		}},
		{"no create time", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.CreateTime = nil }},
		{"nanos out of range", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.CreateTime.Nanos = 1e9 }},
		{"seconds out of range", func(c *exchangev1.EnvelopeContent) {
			c.AssociatedData.CreateTime = &timestamppb.Timestamp{Seconds: -62135596801}
		}},
		{"unknown field in content", func(c *exchangev1.EnvelopeContent) {
			c.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1))
		}},
		{"unknown field in associated data", func(c *exchangev1.EnvelopeContent) {
			c.AssociatedData.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1))
		}},
		{"unknown field in create time", func(c *exchangev1.EnvelopeContent) {
			c.AssociatedData.CreateTime.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := resign(t, env, k.sender, tt.mutate)
			if _, _, err := Open(bad, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}

	// Encodings that parse to valid content but are not canonical.
	noncanonical := map[string][]byte{
		"version repeated":  append(bytes.Clone(env.Content), 0x08, 0x01),
		"fields reordered":  reorder(t, env.Content),
		"explicit zero":     append(bytes.Clone(env.Content), 0x22, 0x00),
		"overlong varint":   append([]byte{0x08, 0x81, 0x00}, env.Content[2:]...),
		"version 2^32+1":    append([]byte{0x08, 0x81, 0x80, 0x80, 0x80, 0x10}, env.Content[2:]...),
		"trailing garbage":  append(bytes.Clone(env.Content), 0x00),
		"not protobuf":      []byte("not an envelope"),
		"string not UTF-8":  appendField(env.Content, 2, []byte{0xff}),
		"group wire type":   append(bytes.Clone(env.Content), 0x0b),
		"length past end":   append(bytes.Clone(env.Content), 0x3a, 0x7f),
		"content only zero": {0x00},
	}
	for name, raw := range noncanonical {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Open(signRaw(t, k.sender, raw), k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

// reorder moves the first field (version) of content to its end.
func reorder(t *testing.T, content []byte) []byte {
	t.Helper()
	if content[0] != 0x08 || content[1] != 0x01 {
		t.Fatalf("content starts %x, want version 1 (08 01)", content[:2])
	}
	return append(bytes.Clone(content[2:]), 0x08, 0x01)
}

func appendField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(bytes.Clone(b), num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func TestParseFrame(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	wire := mustMarshal(t, env)

	frame := func(fields ...[]byte) []byte { return bytes.Join(fields, nil) }
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	tests := []struct {
		name string
		wire []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"content only", frame(field(1, env.Content)), ErrMalformed},
		{"signature only", frame(field(2, env.Signature)), ErrMalformed},
		{"signature first", frame(field(2, env.Signature), field(1, env.Content)), ErrMalformed},
		{"content twice", frame(field(1, env.Content), field(1, env.Content), field(2, env.Signature)), ErrMalformed},
		{"unknown field", append(bytes.Clone(wire), field(3, []byte("x"))...), ErrMalformed},
		{"long signature", frame(field(1, env.Content), field(2, make([]byte, maxSignatureSize+1))), ErrMalformed},
		{"trailing zero", append(bytes.Clone(wire), 0), ErrMalformed},
		{"over MaxSize", make([]byte, MaxSize+1), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.wire); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if got, err := Parse(wire); err != nil || !bytes.Equal(got.Content, env.Content) || !bytes.Equal(got.Signature, env.Signature) {
		t.Fatalf("Parse(Marshal(env)) = %v, %v", got, err)
	}
}

func TestMarshalRefusesBadFrames(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	unknown := &exchangev1.Envelope{Content: env.Content, Signature: env.Signature}
	unknown.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1))
	for name, bad := range map[string]*exchangev1.Envelope{
		"nil":            nil,
		"no content":     {Signature: env.Signature},
		"no signature":   {Content: env.Content},
		"unknown field":  unknown,
		"over MaxSize":   {Content: make([]byte, MaxSize), Signature: env.Signature},
		"long signature": {Content: env.Content, Signature: make([]byte, maxSignatureSize+1)},
	} {
		if _, err := Marshal(bad); sentinelOf(err) == nil {
			t.Errorf("%s: got %v, want a refusal", name, err)
		}
		if _, _, err := Open(bad, k.recipient, k.sender.PublicKey()); sentinelOf(err) == nil {
			t.Errorf("%s: Open got %v, want a refusal", name, err)
		}
	}
	if _, _, err := Open(env, nil, k.sender.PublicKey()); err == nil {
		t.Error("Open with a nil recipient key succeeded")
	}
	if _, _, err := Open(env, k.recipient, nil); err == nil {
		t.Error("Open with a nil sender key succeeded")
	}
}

// The GCM additional data binds every header field: if a signature check
// were skipped, or a sender with a valid key re-signed a changed header, the
// payload would still not open. Tested below the signature, at the sealing
// level, with the real data key.
func TestAssociatedDataBinding(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	c := content(t, env)
	key, err := k.recipient.Decrypt(c.EncryptedKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decryptPayload(c, key); err != nil {
		t.Fatalf("unchanged header: %v", err)
	}
	other := fixedKey(t, "another key").PublicKey().KeyID()
	tests := []struct {
		name   string
		mutate func(*exchangev1.EnvelopeContent)
	}{
		{"version", func(c *exchangev1.EnvelopeContent) { c.Version = 2 }},
		{"sender key ID", func(c *exchangev1.EnvelopeContent) { c.SenderKeyId = other }},
		{"recipient key ID", func(c *exchangev1.EnvelopeContent) { c.RecipientKeyId = other }},
		{"dataset", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.Dataset = "hrss.pension_payments" }},
		{"batch ID", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.BatchId = "20261125-0002" }},
		{"create time seconds", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.CreateTime.Seconds++ }},
		{"create time nanos", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.CreateTime.Nanos = 1 }},
		{"content type", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.ContentType = "text/csv" }},
		// Moving bytes between adjacent fields keeps their concatenation:
		// the length prefixes tell them apart.
		{"boundary dataset|batch ID", func(c *exchangev1.EnvelopeContent) {
			c.AssociatedData.Dataset += c.AssociatedData.BatchId[:1]
			c.AssociatedData.BatchId = c.AssociatedData.BatchId[1:]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := content(t, env)
			tt.mutate(m)
			if bytes.Equal(headerAAD(m), headerAAD(c)) {
				t.Fatal("the header encoding does not change")
			}
			if _, err := decryptPayload(m, key); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("got %v, want ErrDecrypt", err)
			}
		})
	}
}

// A sender with a valid key who moves another envelope's payload under a
// changed header and signs it again is caught by the tag, not the signature.
func TestResignedHeaderFailsDecryption(t *testing.T) {
	k := exampleKeys(t)
	env := k.seal(t, examplePlaintext)
	tests := []struct {
		name   string
		mutate func(*exchangev1.EnvelopeContent)
	}{
		{"dataset", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.Dataset = "court.criminal_judgments" }},
		{"batch ID", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.BatchId = "replayed-batch" }},
		{"create time", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.CreateTime.Seconds += 86400 }},
		{"content type", func(c *exchangev1.EnvelopeContent) { c.AssociatedData.ContentType = "text/csv" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := resign(t, env, k.sender, tt.mutate)
			if _, _, err := Open(bad, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("got %v, want ErrDecrypt", err)
			}
		})
	}

	// Another principal takes the envelope, names itself as sender and signs
	// it: its signature verifies, but the payload was sealed for another
	// sender key ID.
	thief := fixedKey(t, "another sender")
	stolen := resign(t, env, thief, func(c *exchangev1.EnvelopeContent) { c.SenderKeyId = thief.PublicKey().KeyID() })
	if _, _, err := Open(stolen, k.recipient, thief.PublicKey()); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("re-signed by another sender: got %v, want ErrDecrypt", err)
	}

	// A data key or payload from another envelope.
	env2 := k.seal(t, examplePlaintext)
	c2 := content(t, env2)
	for name, mutate := range map[string]func(*exchangev1.EnvelopeContent){
		"data key": func(c *exchangev1.EnvelopeContent) { c.EncryptedKey = c2.EncryptedKey },
		"nonce":    func(c *exchangev1.EnvelopeContent) { c.Nonce = c2.Nonce },
		"payload":  func(c *exchangev1.EnvelopeContent) { c.Ciphertext = c2.Ciphertext },
		"data key of another recipient": func(c *exchangev1.EnvelopeContent) {
			ct, err := fixedKey(t, "another recipient").PublicKey().Encrypt(make([]byte, 16))
			if err != nil {
				t.Fatal(err)
			}
			c.EncryptedKey = ct
		},
		"data key of 15 bytes": func(c *exchangev1.EnvelopeContent) {
			ct, err := k.recipient.PublicKey().Encrypt(make([]byte, 15))
			if err != nil {
				t.Fatal(err)
			}
			c.EncryptedKey = ct
		},
	} {
		bad := resign(t, env, k.sender, mutate)
		if _, _, err := Open(bad, k.recipient, k.sender.PublicKey()); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%s swapped: got %v, want ErrDecrypt", name, err)
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	for i, a := range sentinels {
		for j, b := range sentinels {
			if i != j && errors.Is(a, b) {
				t.Fatalf("%v is %v", a, b)
			}
		}
	}
}

// Sealed with keys a principal holds in another form (its PEM files) opens
// the same.
func TestKeysFromPEM(t *testing.T) {
	k := exampleKeys(t)
	pemKey, err := k.recipient.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	recipient, err := sm2.ParsePrivateKeyPEM(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := sm2.ParsePublicKeyPEM(k.sender.PublicKey().MarshalPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(k.seal(t, examplePlaintext), recipient, sender); err != nil {
		t.Fatal(err)
	}
}
