package client

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stateSuffix ends the name of a state file.
const stateSuffix = ".qiao-push"

// stateMagic starts the line that says which input, dataset and principal a
// state file is about.
const stateMagic = "qiao-push-state v1"

// state is the state file of one input: the batches the gateway accepted,
// one line each, appended and synced as each is accepted, so that a rerun
// after a crash sends only what is missing. A state file of another input
// (another digest, dataset or principal) is started afresh; one of the same
// input pushed with another batch size is an error (ErrBatchRows).
type state struct {
	path string
	mu   sync.Mutex
	f    *os.File
	done map[string]bool
}

// stateKey says which push a state file is about.
type stateKey struct {
	prefix, dataset, principal, digest string
	batchRows                          int
}

func (k stateKey) header() string {
	return fmt.Sprintf("%s %s %s %s %s %d", stateMagic, k.prefix, k.dataset, k.principal, k.digest, k.batchRows)
}

// openState reads the state file at path, keeps the batches it records for
// k and rewrites it cleanly (dropping a line torn by a crash), ready for
// appending.
func openState(path string, k stateKey) (*state, error) {
	header := k.header()
	s := &state{path: path, done: map[string]bool{}}
	var (
		kept      []string
		otherRows string // the batch size of an earlier push of the same input
		others    int    // and how many of its batches were accepted
	)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		lines := strings.SplitAfter(string(data), "\n")
		ours, other := false, false
		for _, l := range lines {
			if !strings.HasSuffix(l, "\n") {
				break // torn by a crash
			}
			l = strings.TrimSuffix(l, "\n")
			switch {
			case strings.HasPrefix(l, "#") || l == "":
			case strings.HasPrefix(l, stateMagic+" "):
				ours = l == header
				f := strings.Fields(strings.TrimPrefix(l, stateMagic+" "))
				other = !ours && len(f) == 5 && f[1] == k.dataset && f[2] == k.principal && f[3] == k.digest && f[4] != strconv.Itoa(k.batchRows)
				if other {
					otherRows = f[4]
				}
			case other && strings.HasPrefix(l, "qp-"):
				others++
			case ours && strings.HasPrefix(l, k.prefix+"-"):
				f := strings.Fields(l)
				if len(f) < 2 {
					continue
				}
				if _, err := strconv.Atoi(f[1]); err != nil || s.done[f[0]] {
					continue
				}
				s.done[f[0]] = true
				kept = append(kept, l)
			}
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("client: push: 无法读取推送状态 reading the state file: %w", err)
	}
	if others > 0 {
		return nil, fmt.Errorf("%w: %d batches of %s rows were pushed before (recorded in %s); push with %s rows per batch (--batch-rows %s)",
			ErrBatchRows, others, otherRows, path, otherRows, otherRows)
	}

	var b bytes.Buffer
	b.WriteString("# qiao push: the batches of this input the gateway accepted (批次已被网关接收).\n")
	b.WriteString("# A rerun of the same push skips them; delete this file to send everything again.\n")
	b.WriteString(header + "\n")
	for _, l := range kept {
		b.WriteString(l + "\n")
	}
	if err := writeFileAtomic(path, b.Bytes()); err != nil {
		return nil, fmt.Errorf("client: push: 无法写入推送状态 writing the state file (choose another place with --state-dir): %w", err)
	}
	if s.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("client: push: %w", err)
	}
	return s, nil
}

// has reports whether the state records batch id as accepted.
func (s *state) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[id]
}

// record appends batch id, of rows rows, as accepted and syncs the file.
func (s *state) record(id string, rows int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done[id] {
		return nil
	}
	line := id + " " + strconv.Itoa(rows) + " " + time.Now().UTC().Format(time.RFC3339) + "\n"
	if _, err := s.f.WriteString(line); err != nil {
		return fmt.Errorf("client: push: recording batch %s in %s: %w", id, s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("client: push: recording batch %s in %s: %w", id, s.path, err)
	}
	s.done[id] = true
	return nil
}

func (s *state) close() error { return s.f.Close() }

// writeFileAtomic replaces path with data through a synced temporary file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
