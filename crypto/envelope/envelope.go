// Package envelope seals a payload for one recipient and signs it for its
// sender: the Envelope that carries pushed batches, pulled results and leads
// between agencies and the gateway.
//
// Seal draws a fresh SM4 data key, encrypts the payload with SM4-GCM under
// associated data that binds the header (version, both key IDs, dataset,
// batch ID, creation time, content type), encrypts the data key to the
// recipient's SM2 encryption key, serializes the result as an
// EnvelopeContent and signs those bytes with the sender's SM2 signing key.
// Open checks, in this order, the frame, the signature over the content as
// received, the version, the fields, the sender and recipient key IDs, and
// only then decrypts. The wire format is specified in docs/envelope.md so that
// agencies can implement it in any language.
//
// It is not a transport and not a key directory: callers choose which keys to
// seal and open with (the sender's signing key, the recipient's encryption
// key) and carry the marshalled envelope themselves.
package envelope

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/crypto/sm2"
	"github.com/qiao-exchange/qiao/crypto/sm4"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

const (
	// Version is the content version this package seals, and the only one it
	// opens.
	Version = 1

	// MaxSize is the largest marshalled Envelope accepted, in bytes.
	MaxSize = 64 << 20

	// MaxPlaintextSize is the largest payload Seal accepts: MaxSize less
	// 1 KiB, which holds the header, the tag and the signature, so that every
	// envelope Seal makes fits in MaxSize.
	MaxPlaintextSize = MaxSize - 1024

	// MaxFieldSize is the longest dataset, batch ID or content type, in bytes.
	MaxFieldSize = 128

	// maxSignatureSize is the longest DER SM2 signature:
	// SEQUENCE { INTEGER (33 bytes), INTEGER (33 bytes) }.
	maxSignatureSize = 72
	// maxEncryptedKeySize bounds the ASN.1 C1C3C2 encryption of a 16-byte
	// key, which is at most 124 bytes.
	maxEncryptedKeySize = 128
	// keyIDSize is the length of a key ID: hex of 16 bytes.
	keyIDSize = 32
)

// Errors returned by Open, Parse and Marshal. Each wraps a detail that is safe
// to log; none of them carries the payload.
var (
	// ErrMalformed means the bytes are not a well-formed envelope: truncated,
	// not protobuf, a field missing, of the wrong length or with characters
	// outside its range, an unknown field, or a non-canonical encoding. Seal
	// returns it for associated data that breaks the same rules. Refuse the
	// envelope as invalid input (InvalidArgument); resending the same bytes
	// cannot succeed.
	ErrMalformed = errors.New("envelope: malformed")

	// ErrTooLarge means the envelope exceeds MaxSize, or the payload given
	// to Seal exceeds MaxPlaintextSize. Refuse it as too large
	// (ResourceExhausted); the sender splits its data into smaller batches.
	ErrTooLarge = errors.New("envelope: too large")

	// ErrUnsupportedVersion means the signature is valid but the content has
	// a version this package does not implement. Refuse the envelope and tell
	// the sender which version is accepted (Version); upgrading the receiver
	// or downgrading the sender resolves it.
	ErrUnsupportedVersion = errors.New("envelope: unsupported version")

	// ErrBadSignature means the signature does not verify with the sender key
	// the caller expected: the envelope was altered or forged. Refuse it, and
	// record the attempt; never look at its contents.
	ErrBadSignature = errors.New("envelope: bad signature")

	// ErrWrongSender means the envelope names a sender key other than the key
	// the caller expected, whether or not its signature verifies with that
	// key. Refuse it: either the caller looked up the wrong principal's key,
	// or the envelope was sent by, or replayed from, someone else.
	ErrWrongSender = errors.New("envelope: wrong sender key")

	// ErrWrongRecipient means the envelope is validly signed but sealed to
	// another encryption key than the one it is being opened with. Refuse it;
	// the sender must seal again to the recipient's current encryption key
	// (or the recipient must open it with the key it names).
	ErrWrongRecipient = errors.New("envelope: wrong recipient key")

	// ErrDecrypt means the signature and key IDs check out but the data key
	// or the payload does not decrypt and authenticate: the sender sealed it
	// wrongly, or the associated data was changed and re-signed. Refuse it
	// as corrupt and report it to the sender; do not retry.
	ErrDecrypt = errors.New("envelope: decryption failed")
)

// AssociatedData describes a payload. It travels signed but in the clear, so
// it must never hold personal data. Each string is 1 to MaxFieldSize bytes of
// printable ASCII (0x20 to 0x7E).
type AssociatedData struct {
	// Dataset is the dataset the payload belongs to, e.g. "police.deaths".
	Dataset string
	// BatchID is the sender's identifier for the batch.
	BatchID string
	// Created is when the envelope was sealed. Seal uses the current time
	// when it is zero; Open returns it in UTC.
	Created time.Time
	// ContentType is the payload's media type, e.g. "application/x-ndjson".
	ContentType string
}

// Seal encrypts plaintext to recipient's SM2 encryption key and signs the
// result with sender's SM2 signing key. Each call draws a fresh data key and
// nonce. Marshal turns the result into bytes for the wire.
func Seal(sender *sm2.PrivateKey, recipient *sm2.PublicKey, ad AssociatedData, plaintext []byte) (*exchangev1.Envelope, error) {
	if sender == nil || recipient == nil {
		return nil, errors.New("envelope: seal: nil key")
	}
	if len(plaintext) > MaxPlaintextSize {
		return nil, fmt.Errorf("%w: payload is %d bytes, at most %d", ErrTooLarge, len(plaintext), MaxPlaintextSize)
	}
	if ad.Created.IsZero() {
		ad.Created = time.Now()
	}
	pad := &exchangev1.AssociatedData{
		Dataset:     ad.Dataset,
		BatchId:     ad.BatchID,
		CreateTime:  timestamppb.New(ad.Created),
		ContentType: ad.ContentType,
	}
	if err := checkAssociatedData(pad); err != nil {
		return nil, err
	}

	key, err := sm4.NewKey()
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	defer clear(key)
	encKey, err := recipient.Encrypt(key)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	c := &exchangev1.EnvelopeContent{
		Version:        Version,
		SenderKeyId:    sender.PublicKey().KeyID(),
		RecipientKeyId: recipient.KeyID(),
		EncryptedKey:   encKey,
		AssociatedData: pad,
	}
	aead, err := sm4.NewGCM(key)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	c.Nonce, c.Ciphertext, err = aead.Seal(plaintext, headerAAD(c))
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	content, err := canonical.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	sig, err := sender.Sign(content)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	env := &exchangev1.Envelope{Content: content, Signature: sig}
	if n := proto.Size(env); n > MaxSize {
		return nil, fmt.Errorf("%w: envelope is %d bytes, at most %d", ErrTooLarge, n, MaxSize)
	}
	return env, nil
}

// Open checks env and returns its associated data and payload. sender is the
// signing key the caller expects the envelope to come from; recipient is the
// caller's encryption key. The checks run in the order of docs/envelope.md:
// the frame (ErrMalformed, ErrTooLarge), the signature over the content as
// received (ErrBadSignature, or ErrWrongSender when the content names another
// sender key), the version (ErrUnsupportedVersion), the fields
// (ErrMalformed), the sender key ID (ErrWrongSender), the recipient key ID
// (ErrWrongRecipient), and last the decryption of the data key and the
// payload (ErrDecrypt). Nothing from the content is used before the
// signature has verified.
func Open(env *exchangev1.Envelope, recipient *sm2.PrivateKey, sender *sm2.PublicKey) (AssociatedData, []byte, error) {
	if sender == nil || recipient == nil {
		return AssociatedData{}, nil, errors.New("envelope: open: nil key")
	}
	if err := checkFrame(env); err != nil {
		return AssociatedData{}, nil, err
	}
	senderID := sender.KeyID()
	if err := sender.Verify(env.Content, env.Signature); err != nil {
		// Nothing in the content is trusted; it is read only to tell a
		// misaddressed lookup from a forgery in the error.
		if id, ok := unverifiedSenderKeyID(env.Content); ok && id != senderID {
			return AssociatedData{}, nil, fmt.Errorf("%w: signature does not verify with the expected key", ErrWrongSender)
		}
		return AssociatedData{}, nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}

	c, err := parseContent(env.Content)
	if err != nil {
		return AssociatedData{}, nil, err
	}
	if c.SenderKeyId != senderID {
		return AssociatedData{}, nil, fmt.Errorf("%w: signed content names another sender key", ErrWrongSender)
	}
	if c.RecipientKeyId != recipient.PublicKey().KeyID() {
		return AssociatedData{}, nil, fmt.Errorf("%w: sealed to key %s", ErrWrongRecipient, c.RecipientKeyId)
	}

	key, err := recipient.Decrypt(c.EncryptedKey)
	if err != nil {
		return AssociatedData{}, nil, fmt.Errorf("%w: data key: %w", ErrDecrypt, err)
	}
	defer clear(key)
	plaintext, err := decryptPayload(c, key)
	if err != nil {
		return AssociatedData{}, nil, err
	}
	pad := c.AssociatedData
	return AssociatedData{
		Dataset:     pad.Dataset,
		BatchID:     pad.BatchId,
		Created:     pad.CreateTime.AsTime(),
		ContentType: pad.ContentType,
	}, plaintext, nil
}

// decryptPayload authenticates and decrypts c's ciphertext with the data key.
func decryptPayload(c *exchangev1.EnvelopeContent, key []byte) ([]byte, error) {
	if len(key) != sm4.KeySize {
		return nil, fmt.Errorf("%w: data key is %d bytes, want %d", ErrDecrypt, len(key), sm4.KeySize)
	}
	aead, err := sm4.NewGCM(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	pt, err := aead.Open(c.Nonce, c.Ciphertext, headerAAD(c))
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrDecrypt, err)
	}
	return pt, nil
}
