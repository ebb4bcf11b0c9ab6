package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Lead is a supervision model's finding as stored: who it concerns (a
// token), what the model calls it, and its whole document (evidence,
// values) as the model wrote it.
type Lead struct {
	// ID is the lead's identifier: 64 lower-case hex digits (SM3 of its
	// model, version and evidence).
	ID           string
	Model        string
	ModelVersion int
	// Subject is the HMAC-SM3 token of the person or organisation.
	Subject  string
	TitleZh  string
	TitleEn  string
	Priority int
	// Document is the lead as JSON: evidence, values, as-of date.
	Document []byte
	Created  time.Time
}

// Message is one message of the outbox.
type Message struct {
	// Seq orders the outbox; set by Enqueue.
	Seq   int64
	Topic string
	Key   string
	Value []byte
	// Created is set by Enqueue; Sent is zero until the message is
	// published.
	Created, Sent time.Time
	// Attempts counts failed publications; LastError is the last one's.
	Attempts  int
	LastError string
}

// LeadQuery selects leads; unset fields select all.
type LeadQuery struct {
	Model   string
	Subject string
	// Limit is the most returned, 100 when 0.
	Limit int
}

func checkLead(l *Lead) error {
	switch {
	case len(l.ID) != 64 || !isLowerHex(l.ID):
		return fmt.Errorf("%w: lead ID is not 64 lower-case hex digits", ErrInvalid)
	case l.ModelVersion < 1:
		return fmt.Errorf("%w: lead %s: model version below 1", ErrInvalid, l.ID)
	case len(l.Document) == 0:
		return fmt.Errorf("%w: lead %s: no document", ErrInvalid, l.ID)
	}
	if err := checkText("model", l.Model, 128); err != nil {
		return err
	}
	if l.Subject != "" {
		if err := checkText("subject", l.Subject, 128); err != nil {
			return err
		}
	}
	if err := checkProse("title", l.TitleZh, 1000); err != nil {
		return err
	}
	return checkProse("title", l.TitleEn, 1000)
}

// InsertLead stores a lead unless its ID is stored: created says which. A
// model run that finds a lead again changes nothing, so it never
// duplicates one.
func (tx *Tx) InsertLead(ctx context.Context, l Lead) (stored Lead, created bool, err error) {
	if err := checkLead(&l); err != nil {
		return Lead{}, false, err
	}
	l.Created = now()
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO leads
        (id, model, model_version, subject, title_zh, title_en, priority, document, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
		l.ID, l.Model, l.ModelVersion, l.Subject, l.TitleZh, l.TitleEn, l.Priority, string(l.Document), micros(l.Created))
	if err != nil {
		return Lead{}, false, fmt.Errorf("store: inserting lead %s: %w", l.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Lead{}, false, fmt.Errorf("store: inserting lead %s: %w", l.ID, err)
	}
	if n == 1 {
		return l, true, nil
	}
	old, err := getLead(ctx, tx.tx, l.ID)
	return old, false, err
}

// GetLead returns a lead, or ErrNotFound.
func (db *DB) GetLead(ctx context.Context, id string) (Lead, error) { return getLead(ctx, db.r, id) }

// ListLeads returns the leads q selects, newest first.
func (db *DB) ListLeads(ctx context.Context, q LeadQuery) ([]Lead, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrInvalid)
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	var w where
	if q.Model != "" {
		w.add("model = $%d", q.Model)
	}
	if q.Subject != "" {
		w.add("subject = $%d", q.Subject)
	}
	args := append(w.args, q.Limit)
	rows, err := db.r.QueryContext(ctx, "SELECT "+leadColumns+" FROM leads"+w.String()+
		fmt.Sprintf(" ORDER BY created_at DESC, id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("store: listing leads: %w", err)
	}
	return collect(rows, scanLead, "listing leads")
}

const leadColumns = `id, model, model_version, subject, title_zh, title_en, priority, document, created_at`

func scanLead(s interface{ Scan(...any) error }) (Lead, error) {
	var (
		l       Lead
		doc     string
		created int64
	)
	if err := s.Scan(&l.ID, &l.Model, &l.ModelVersion, &l.Subject, &l.TitleZh, &l.TitleEn, &l.Priority, &doc, &created); err != nil {
		return Lead{}, err
	}
	l.Document, l.Created = []byte(doc), fromMicros(created)
	return l, nil
}

func getLead(ctx context.Context, q querier, id string) (Lead, error) {
	l, err := scanLead(q.QueryRowContext(ctx, "SELECT "+leadColumns+" FROM leads WHERE id = $1", id))
	if err != nil {
		return Lead{}, notFound(err, "lead "+id)
	}
	return l, nil
}

// Enqueue adds a message to the outbox, in the caller's transaction: it is
// published if and only if the transaction commits.
func (tx *Tx) Enqueue(ctx context.Context, m Message) (Message, error) {
	if err := checkText("topic", m.Topic, 249); err != nil {
		return Message{}, err
	}
	if err := checkText("message key", m.Key, 256); err != nil {
		return Message{}, err
	}
	if len(m.Value) == 0 {
		return Message{}, fmt.Errorf("%w: message %s has no value", ErrInvalid, m.Key)
	}
	var last int64
	if err := tx.tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM outbox").Scan(&last); err != nil {
		return Message{}, fmt.Errorf("store: outbox: %w", err)
	}
	m.Seq, m.Created, m.Sent, m.Attempts, m.LastError = last+1, now(), time.Time{}, 0, ""
	if _, err := tx.tx.ExecContext(ctx, `INSERT INTO outbox (seq, topic, msg_key, msg_value, created_at, sent_at, attempts, last_error)
        VALUES ($1, $2, $3, $4, $5, 0, 0, '')`, m.Seq, m.Topic, m.Key, base64.StdEncoding.EncodeToString(m.Value), micros(m.Created)); err != nil {
		return Message{}, fmt.Errorf("store: enqueuing %s: %w", m.Key, err)
	}
	return m, nil
}

// Pending returns up to limit unsent messages, oldest first.
func (db *DB) Pending(ctx context.Context, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, topic, msg_key, msg_value, created_at, sent_at, attempts, last_error
        FROM outbox WHERE sent_at = 0 ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending messages: %w", err)
	}
	return collect(rows, scanMessage, "pending messages")
}

func scanMessage(s interface{ Scan(...any) error }) (Message, error) {
	var (
		m             Message
		value         string
		created, sent int64
	)
	if err := s.Scan(&m.Seq, &m.Topic, &m.Key, &value, &created, &sent, &m.Attempts, &m.LastError); err != nil {
		return Message{}, err
	}
	v, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return Message{}, fmt.Errorf("message %d: %w", m.Seq, err)
	}
	m.Value, m.Created = v, fromMicros(created)
	if sent != 0 {
		m.Sent = fromMicros(sent)
	}
	return m, nil
}

// MarkSent records that the messages seqs were published.
func (tx *Tx) MarkSent(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	args := []any{micros(now())}
	marks := make([]string, len(seqs))
	for i, s := range seqs {
		args = append(args, s)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	if _, err := tx.tx.ExecContext(ctx, "UPDATE outbox SET sent_at = $1 WHERE sent_at = 0 AND seq IN ("+strings.Join(marks, ", ")+")", args...); err != nil {
		return fmt.Errorf("store: marking messages sent: %w", err)
	}
	return nil
}

// MarkFailed records a failed publication of the messages seqs: their
// attempts rise and reason is kept.
func (tx *Tx) MarkFailed(ctx context.Context, seqs []int64, reason string) error {
	if len(seqs) == 0 {
		return nil
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	args := []any{strings.ToValidUTF8(reason, "?")}
	marks := make([]string, len(seqs))
	for i, s := range seqs {
		args = append(args, s)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	if _, err := tx.tx.ExecContext(ctx, "UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE sent_at = 0 AND seq IN ("+strings.Join(marks, ", ")+")", args...); err != nil {
		return fmt.Errorf("store: marking messages failed: %w", err)
	}
	return nil
}

// OutboxStats says how many messages wait and how old the oldest is.
func (db *DB) OutboxStats(ctx context.Context) (waiting int64, oldest time.Time, err error) {
	var min int64
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM outbox WHERE sent_at = 0").Scan(&waiting, &min); err != nil {
		return 0, time.Time{}, fmt.Errorf("store: outbox: %w", err)
	}
	if min != 0 {
		oldest = fromMicros(min)
	}
	return waiting, oldest, nil
}
