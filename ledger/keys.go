package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	voied "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Signer seals events with one Ed25519 key.
type Signer struct {
	priv      ed25519.PrivateKey
	keyID     string
	createdAt time.Time
}

// PublicKey describes a signing key for verifiers.
type PublicKey struct {
	KeyID     string    `json:"keyId"`
	Algorithm string    `json:"algorithm"`
	PublicKey string    `json:"publicKey"`
	CreatedAt time.Time `json:"createdAt"`
}

// keyFile is the on-disk form of a signing key (mode 0600).
type keyFile struct {
	KeyID     string    `json:"keyId"`
	Algorithm string    `json:"algorithm"`
	Seed      string    `json:"seed"`
	CreatedAt time.Time `json:"createdAt"`
}

// KeyID derives a key id from a public key: "ed25519:" and the first 16 hex
// digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// NewSigner wraps a private key.
func NewSigner(priv ed25519.PrivateKey, createdAt time.Time) *Signer {
	pub, _ := priv.Public().(ed25519.PublicKey)
	return &Signer{priv: priv, keyID: KeyID(pub), createdAt: createdAt.UTC()}
}

// KeyID is the id of the signer's key, written into every envelope it seals.
func (s *Signer) KeyID() string { return s.keyID }

// Public returns the signer's public key description.
func (s *Signer) Public() PublicKey {
	pub, _ := s.priv.Public().(ed25519.PublicKey)
	return PublicKey{KeyID: s.keyID, Algorithm: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(pub), CreatedAt: s.createdAt}
}

// sign signs the 32-byte event digest (not the body: the digest covers it).
// Ed25519 signatures are deterministic, so curve25519-voi (about twice as
// fast) produces exactly crypto/ed25519's bytes; the golden vectors hold it
// to that.
func (s *Signer) sign(digest []byte) string {
	return base64.StdEncoding.EncodeToString(voied.Sign(voied.PrivateKey(s.priv), digest))
}

// LoadOrCreateSigner reads the signing key at path, creating it (mode 0600)
// on first start. The second result is true when a new key was created.
func LoadOrCreateSigner(path string) (*Signer, bool, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // path is the operator's data directory.
	if err == nil {
		var kf keyFile
		if jerr := json.Unmarshal(raw, &kf); jerr != nil {
			return nil, false, fmt.Errorf("ledger: read signing key %s: %w", path, jerr)
		}
		seed, derr := base64.StdEncoding.DecodeString(kf.Seed)
		if derr != nil || len(seed) != ed25519.SeedSize {
			return nil, false, fmt.Errorf("ledger: signing key %s: bad seed", path)
		}
		return NewSigner(ed25519.NewKeyFromSeed(seed), kf.CreatedAt), false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("ledger: read signing key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("ledger: generate signing key: %w", err)
	}
	s := NewSigner(priv, time.Now())
	kf := keyFile{KeyID: s.keyID, Algorithm: "ed25519", Seed: base64.StdEncoding.EncodeToString(priv.Seed()), CreatedAt: s.createdAt}
	out, _ := json.MarshalIndent(kf, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("ledger: create key directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return nil, false, fmt.Errorf("ledger: write signing key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, false, fmt.Errorf("ledger: write signing key: %w", err)
	}
	return s, true, nil
}

// Keyring maps key ids to public keys trusted for verification. It is safe
// for concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	keys map[string]*voied.ExpandedPublicKey
	info map[string]PublicKey
	// miss, if set, is asked for more keys when a key id is unknown (a peer
	// instance's key added to the trusted directory while we run).
	miss func(keyID string) []PublicKey
}

// OnUnknownKey sets a function asked for more keys when a signature names a
// key id the keyring does not hold.
func (k *Keyring) OnUnknownKey(f func(keyID string) []PublicKey) {
	k.mu.Lock()
	k.miss = f
	k.mu.Unlock()
}

func (k *Keyring) lookup(keyID string) (*voied.ExpandedPublicKey, bool) {
	k.mu.RLock()
	pub, ok := k.keys[keyID]
	miss := k.miss
	k.mu.RUnlock()
	if ok || miss == nil {
		return pub, ok
	}
	for _, pk := range miss(keyID) {
		_ = k.Add(pk)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	pub, ok = k.keys[keyID]
	return pub, ok
}

// NewKeyring builds a keyring from public key descriptions.
func NewKeyring(keys ...PublicKey) (*Keyring, error) {
	k := &Keyring{keys: map[string]*voied.ExpandedPublicKey{}, info: map[string]PublicKey{}}
	for _, pk := range keys {
		if err := k.Add(pk); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Add trusts one more public key. Its id must match the key.
func (k *Keyring) Add(pk PublicKey) error {
	raw, err := base64.StdEncoding.DecodeString(pk.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize || pk.Algorithm != "ed25519" {
		return fmt.Errorf("ledger: public key %q is not an ed25519 key", pk.KeyID)
	}
	if KeyID(raw) != pk.KeyID {
		return fmt.Errorf("ledger: public key id %q does not match the key (%s)", pk.KeyID, KeyID(raw))
	}
	// The expanded form keeps the decompressed point and precomputed tables,
	// which makes each verification about twice as fast as crypto/ed25519's.
	expanded, err := voied.NewExpandedPublicKey(voied.PublicKey(raw))
	if err != nil {
		return fmt.Errorf("ledger: public key %q is not a valid ed25519 point: %w", pk.KeyID, err)
	}
	k.mu.Lock()
	k.keys[pk.KeyID] = expanded
	k.info[pk.KeyID] = pk
	k.mu.Unlock()
	return nil
}

// Keys lists the trusted keys, sorted by id.
func (k *Keyring) Keys() []PublicKey {
	k.mu.RLock()
	out := make([]PublicKey, 0, len(k.info))
	for _, v := range k.info {
		out = append(out, v)
	}
	k.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].KeyID < out[j].KeyID })
	return out
}

// stdlibSemantics makes curve25519-voi accept and reject exactly the
// signatures crypto/ed25519 does, so that an auditor verifying with the
// standard library reaches the same verdict.
var stdlibSemantics = &voied.Options{Verify: voied.VerifyOptionsStdLib}

// verify checks sig (base64) over the hex digest with key id.
func (k *Keyring) verify(keyID, hexDigest, sig string) error {
	pub, ok := k.lookup(keyID)
	if !ok {
		return fmt.Errorf("unknown signing key %q", keyID)
	}
	digest, err := hex.DecodeString(hexDigest)
	if err != nil || len(digest) != sha256.Size {
		return errors.New("hash is not a hex SHA-256")
	}
	s, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || len(s) != ed25519.SignatureSize {
		return errors.New("signature is not a base64 Ed25519 signature")
	}
	if !voied.VerifyExpandedWithOptions(pub, digest, s, stdlibSemantics) {
		return errors.New("signature does not verify")
	}
	return nil
}
