package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"
)

// The keyring verifies with curve25519-voi's expanded keys; it must accept
// and reject exactly what crypto/ed25519 does (auditors use the standard
// library), for good signatures and for every kind of corrupted one.
func TestKeyringVerifyMatchesStdlib(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < 8; k++ {
		seed := make([]byte, ed25519.SeedSize)
		for i := range seed {
			seed[i] = byte(r.IntN(256))
		}
		priv := ed25519.NewKeyFromSeed(seed)
		s := NewSigner(priv, time.Unix(0, 0))
		ring, err := NewKeyring(s.Public())
		if err != nil {
			t.Fatal(err)
		}
		pub := priv.Public().(ed25519.PublicKey)
		for i := 0; i < 200; i++ {
			digest := sha256.Sum256([]byte{byte(k), byte(i), byte(i >> 8)})
			sig := ed25519.Sign(priv, digest[:])
			switch i % 4 {
			case 1: // flip a bit of R
				sig[r.IntN(32)] ^= 1 << r.IntN(8)
			case 2: // flip a bit of S (including making S non-canonical)
				sig[32+r.IntN(32)] ^= 1 << r.IntN(8)
			case 3: // the signature of another digest
				other := sha256.Sum256([]byte{0xff, byte(i)})
				sig = ed25519.Sign(priv, other[:])
			}
			want := ed25519.Verify(pub, digest[:], sig)
			got := ring.verify(s.KeyID(), hex.EncodeToString(digest[:]), base64.StdEncoding.EncodeToString(sig)) == nil
			if got != want {
				t.Fatalf("key %d sig %d: keyring says %v, crypto/ed25519 says %v", k, i, got, want)
			}
		}
	}
}

func BenchmarkKeyringVerify(b *testing.B) {
	s := NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)), time.Unix(0, 0))
	ring, _ := NewKeyring(s.Public())
	digest := sha256.Sum256([]byte("x"))
	sig := s.sign(digest[:])
	h := hex.EncodeToString(digest[:])
	for b.Loop() {
		if err := ring.verify(s.KeyID(), h, sig); err != nil {
			b.Fatal(err)
		}
	}
}
