package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// ParseRecipient parses an age recipient (age1...).
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("no backup recipient: set backup.recipient in the inventory or pass --recipient (an age public key, age1...; make one with age-keygen)")
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, fmt.Errorf("backup recipient %q is not an age public key (age1...): %w", s, err)
	}
	return r, nil
}

// ReadIdentities reads an age identity file (as age-keygen writes it).
func ReadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the age identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("age identity %s: %w", path, err)
	}
	return ids, nil
}

// Seal encrypts plain to r.
func Seal(plain []byte, r age.Recipient) ([]byte, error) {
	var out bytes.Buffer
	w, err := age.Encrypt(&out, r)
	if err != nil {
		return nil, fmt.Errorf("encrypt the backup: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("encrypt the backup: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt the backup: %w", err)
	}
	return out.Bytes(), nil
}

// Open decrypts an age file with ids and reads it whole: age checks every
// chunk and the end of the stream, so a file cut short or altered fails
// here, saying so.
func Open(sealed []byte, ids ...age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("decrypt the backup: the identity given does not open it (it was encrypted to another recipient): %w", err)
		}
		return nil, fmt.Errorf("decrypt the backup: its header is damaged or it is not an age file: %w", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decrypt the backup: after %d bytes: the file is cut short or altered (%w)", len(plain), err)
	}
	return plain, nil
}
