package envelope

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/qiao-exchange/qiao/crypto/sm4"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// canonical is the one protobuf encoding the envelope uses: fields in number
// order, each once, defaults omitted. For messages without maps, such as
// these, the standard protobuf encoders agree on it.
var canonical = proto.MarshalOptions{Deterministic: true}

// Marshal returns the wire bytes of env: its canonical protobuf encoding. It
// refuses a frame that Parse would refuse.
func Marshal(env *exchangev1.Envelope) ([]byte, error) {
	if err := checkFrame(env); err != nil {
		return nil, err
	}
	b, err := canonical.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}

// Parse reads wire bytes made by Marshal. It checks the frame only: the size,
// that both fields are present and within their limits, that there are no
// unknown fields, and that the encoding is canonical. The content is not
// looked at until Open has verified its signature.
func Parse(b []byte) (*exchangev1.Envelope, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxSize)
	}
	env := new(exchangev1.Envelope)
	if err := checkCanonical(b, env.ProtoReflect().Descriptor()); err != nil {
		return nil, fmt.Errorf("%w: envelope: %w", ErrMalformed, err)
	}
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkFrame(env); err != nil {
		return nil, err
	}
	return env, nil
}

// checkFrame checks the outer message: both fields present, within their
// limits, nothing unknown.
func checkFrame(env *exchangev1.Envelope) error {
	switch {
	case env == nil:
		return fmt.Errorf("%w: no envelope", ErrMalformed)
	case len(env.ProtoReflect().GetUnknown()) > 0:
		return fmt.Errorf("%w: envelope has unknown fields", ErrMalformed)
	case len(env.Content) == 0:
		return fmt.Errorf("%w: no content", ErrMalformed)
	case len(env.Signature) == 0 || len(env.Signature) > maxSignatureSize:
		return fmt.Errorf("%w: signature is %d bytes, want 1 to %d", ErrMalformed, len(env.Signature), maxSignatureSize)
	}
	if n := proto.Size(env); n > MaxSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, MaxSize)
	}
	return nil
}

// unverifiedSenderKeyID reads the sender key ID from content whose signature
// did not verify, to choose the error Open returns; it is never trusted. It
// scans the fields without copying the payload.
func unverifiedSenderKeyID(content []byte) (string, bool) {
	for len(content) > 0 {
		num, typ, n := protowire.ConsumeTag(content)
		if n < 0 {
			return "", false
		}
		content = content[n:]
		if num == 2 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(content)
			return string(v), n >= 0 && len(v) > 0
		}
		if n = protowire.ConsumeFieldValue(num, typ, content); n < 0 {
			return "", false
		}
		content = content[n:]
	}
	return "", false
}

// parseContent reads signed content and checks it against version 1: the
// version first (a later version may add fields), then that the encoding is
// canonical with no unknown fields, then every field's presence, length and
// characters.
func parseContent(b []byte) (*exchangev1.EnvelopeContent, error) {
	c := new(exchangev1.EnvelopeContent)
	if err := proto.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%w: content: %w", ErrMalformed, err)
	}
	if c.Version != Version {
		return nil, fmt.Errorf("%w: version %d, this receiver reads version %d", ErrUnsupportedVersion, c.Version, Version)
	}
	if err := checkCanonical(b, c.ProtoReflect().Descriptor()); err != nil {
		return nil, fmt.Errorf("%w: content: %w", ErrMalformed, err)
	}
	if err := checkKeyID("sender_key_id", c.SenderKeyId); err != nil {
		return nil, err
	}
	if err := checkKeyID("recipient_key_id", c.RecipientKeyId); err != nil {
		return nil, err
	}
	if len(c.EncryptedKey) == 0 || len(c.EncryptedKey) > maxEncryptedKeySize {
		return nil, fmt.Errorf("%w: encrypted_key is %d bytes, want 1 to %d", ErrMalformed, len(c.EncryptedKey), maxEncryptedKeySize)
	}
	if len(c.Nonce) != sm4.NonceSize {
		return nil, fmt.Errorf("%w: nonce is %d bytes, want %d", ErrMalformed, len(c.Nonce), sm4.NonceSize)
	}
	if len(c.Ciphertext) < sm4.TagSize {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, shorter than its %d-byte tag", ErrMalformed, len(c.Ciphertext), sm4.TagSize)
	}
	if err := checkAssociatedData(c.AssociatedData); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCanonical checks that b is the canonical encoding of a message of
// type md, as docs/envelope.md defines it: every field known to md, with its
// wire type; field numbers strictly increasing, so that each field appears
// once and in order; tags, varints and lengths in their shortest form;
// varints within the range of their field's type (a uint32 field holds no
// value above 2^32-1, where parsers would silently truncate it); no scalar
// field without presence holding its default value (zero, or empty bytes or
// string), since proto3 omits those; and the same rules, recursively, inside message
// fields, which are present (possibly empty) or absent. It is the encoding
// that Go's, Java's, C++'s and Python's protobuf libraries write for these
// messages, so re-encoding a parsed message reproduces b exactly.
func checkCanonical(b []byte, md protoreflect.MessageDescriptor) error {
	var last protowire.Number
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if n != protowire.SizeTag(num) {
			return fmt.Errorf("field %d: tag not in its shortest form", num)
		}
		if num <= last {
			return fmt.Errorf("field %d: after field %d (repeated or out of order)", num, last)
		}
		last = num
		fd := md.Fields().ByNumber(num)
		if fd == nil || fd.IsList() || fd.IsMap() {
			return fmt.Errorf("field %d: unknown", num)
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			if !isVarintKind(fd.Kind()) {
				return fmt.Errorf("field %d: varint for a %v field", num, fd.Kind())
			}
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if n != protowire.SizeVarint(v) {
				return fmt.Errorf("field %d: varint not in its shortest form", num)
			}
			if v == 0 && !fd.HasPresence() {
				return fmt.Errorf("field %d: default value encoded", num)
			}
			if !varintInRange(fd.Kind(), v) {
				return fmt.Errorf("field %d: value out of range for a %v field", num, fd.Kind())
			}
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if n-len(v) != protowire.SizeVarint(uint64(len(v))) {
				return fmt.Errorf("field %d: length not in its shortest form", num)
			}
			switch fd.Kind() {
			case protoreflect.MessageKind:
				if err := checkCanonical(v, fd.Message()); err != nil {
					return fmt.Errorf("field %d: %w", num, err)
				}
			case protoreflect.BytesKind, protoreflect.StringKind:
				if len(v) == 0 && !fd.HasPresence() {
					return fmt.Errorf("field %d: default value encoded", num)
				}
			default:
				return fmt.Errorf("field %d: length-delimited value for a %v field", num, fd.Kind())
			}
			b = b[n:]
		default:
			return fmt.Errorf("field %d: wire type %d not used by this format", num, typ)
		}
	}
	return nil
}

// isVarintKind reports whether fields of kind k are encoded as varints.
func isVarintKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind,
		protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return true
	}
	return false
}

// varintInRange reports whether v is a value a field of kind k holds as it
// is, rather than one a parser would truncate to 32 bits (or to a bool), so
// that every parser reads the same number.
func varintInRange(k protoreflect.Kind, v uint64) bool {
	switch k {
	case protoreflect.BoolKind:
		return v == 1
	case protoreflect.Uint32Kind, protoreflect.Sint32Kind:
		return v <= 0xffffffff
	case protoreflect.Int32Kind, protoreflect.EnumKind:
		// Negative values are sign-extended to 64 bits on the wire.
		return int64(v) == int64(int32(v))
	}
	return true
}

// checkKeyID checks that id is a key ID: 32 lower-case hex characters.
func checkKeyID(field, id string) error {
	if len(id) != keyIDSize {
		return fmt.Errorf("%w: %s is %d characters, want %d", ErrMalformed, field, len(id), keyIDSize)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: %s is not lower-case hex", ErrMalformed, field)
		}
	}
	return nil
}

// checkAssociatedData checks that every field is present and in range.
func checkAssociatedData(ad *exchangev1.AssociatedData) error {
	if ad == nil {
		return fmt.Errorf("%w: no associated_data", ErrMalformed)
	}
	for _, f := range []struct{ name, v string }{
		{"dataset", ad.Dataset},
		{"batch_id", ad.BatchId},
		{"content_type", ad.ContentType},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if ad.CreateTime == nil {
		return fmt.Errorf("%w: no create_time", ErrMalformed)
	}
	if err := ad.CreateTime.CheckValid(); err != nil {
		return fmt.Errorf("%w: create_time: %w", ErrMalformed, err)
	}
	return nil
}

// checkText checks that s is 1 to MaxFieldSize bytes of printable ASCII.
func checkText(field, s string) error {
	if len(s) == 0 || len(s) > MaxFieldSize {
		return fmt.Errorf("%w: %s is %d bytes, want 1 to %d", ErrMalformed, field, len(s), MaxFieldSize)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("%w: %s has a byte outside printable ASCII at offset %d", ErrMalformed, field, i)
		}
	}
	return nil
}

// headerAAD is the GCM additional data of version 1 (docs/envelope.md):
//
//	u32(version) || str(sender_key_id) || str(recipient_key_id) ||
//	str(dataset) || str(batch_id) ||
//	i64(create_time.seconds) || u32(create_time.nanos) || str(content_type)
//
// where u32 and i64 are big-endian and str(s) is u32(len(s)) || s.
func headerAAD(c *exchangev1.EnvelopeContent) []byte {
	ad := c.AssociatedData
	n := 4 + 5*4 + len(c.SenderKeyId) + len(c.RecipientKeyId) +
		len(ad.Dataset) + len(ad.BatchId) + len(ad.ContentType) + 8 + 4
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, c.Version)
	b = appendString(b, c.SenderKeyId)
	b = appendString(b, c.RecipientKeyId)
	b = appendString(b, ad.Dataset)
	b = appendString(b, ad.BatchId)
	b = binary.BigEndian.AppendUint64(b, uint64(ad.CreateTime.GetSeconds()))
	b = binary.BigEndian.AppendUint32(b, uint32(ad.CreateTime.GetNanos()))
	b = appendString(b, ad.ContentType)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
