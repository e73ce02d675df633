// Package provenancetest builds signed build provenance for tests: in-toto
// statements, and DSSE envelopes signed with real keys, in the shapes that
// domain.VerifyProvenance accepts.
package provenancetest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// PayloadType is the DSSE payloadType of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

type statement struct {
	Type          string    `json:"_type"`
	Subject       []subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     predicate `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type predicate struct {
	BuildDefinition struct {
		BuildType string `json:"buildType"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
	} `json:"runDetails"`
}

// Statement returns an in-toto v1 Statement with a minimal SLSA v1
// provenance predicate and one subject whose sha256 digest is digestHex (a
// leading "sha256:" is dropped, so an artifact digest can be passed as is).
func Statement(digestHex string) []byte {
	st := statement{
		Type: "https://in-toto.io/Statement/v1",
		Subject: []subject{{
			Name:   "artifact",
			Digest: map[string]string{"sha256": strings.TrimPrefix(digestHex, "sha256:")},
		}},
		PredicateType: "https://slsa.dev/provenance/v1",
	}
	st.Predicate.BuildDefinition.BuildType = "https://factstore.dev/provenancetest@v1"
	st.Predicate.RunDetails.Builder.ID = "https://factstore.dev/provenancetest"
	// Marshalling a struct of strings cannot fail.
	b, _ := json.Marshal(st)
	return b
}

// SignDSSE signs Statement(digestHex) into a DSSE envelope with priv (an
// ed25519, ECDSA or RSA key) using dsse's own signer, and returns the
// envelope as JSON and priv's public key as PKIX PEM.
func SignDSSE(t testing.TB, priv crypto.Signer, digestHex string) (envelopeJSON []byte, publicKeyPEM string) {
	t.Helper()
	es, err := dsse.NewEnvelopeSigner(signer{priv: priv})
	if err != nil {
		t.Fatalf("provenancetest: new envelope signer: %v", err)
	}
	env, err := es.SignPayload(t.Context(), PayloadType, Statement(digestHex))
	if err != nil {
		t.Fatalf("provenancetest: sign envelope: %v", err)
	}
	envelopeJSON, err = json.Marshal(env)
	if err != nil {
		t.Fatalf("provenancetest: marshal envelope: %v", err)
	}
	return envelopeJSON, PublicKeyPEM(t, priv.Public())
}

// Sign signs data with priv: ed25519 over data itself, ECDSA (ASN.1 DER)
// and RSA (PKCS#1 v1.5) over its SHA-256. Use it for detached signatures
// or for DSSE envelopes built by hand over dsse.PAE.
func Sign(t testing.TB, priv crypto.Signer, data []byte) []byte {
	t.Helper()
	sig, err := sign(priv, data)
	if err != nil {
		t.Fatalf("provenancetest: sign: %v", err)
	}
	return sig
}

// PublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block.
func PublicKeyPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("provenancetest: marshal public key: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func sign(priv crypto.Signer, data []byte) ([]byte, error) {
	// Ed25519 signs the message itself; the others sign a digest of it.
	if _, ok := priv.Public().(ed25519.PublicKey); ok {
		return priv.Sign(rand.Reader, data, crypto.Hash(0))
	}
	digest := sha256.Sum256(data)
	return priv.Sign(rand.Reader, digest[:], crypto.SHA256)
}

// signer adapts a crypto.Signer to dsse.Signer.
type signer struct{ priv crypto.Signer }

func (s signer) Sign(_ context.Context, data []byte) ([]byte, error) { return sign(s.priv, data) }

func (s signer) KeyID() (string, error) { return dsse.SHA256KeyID(s.priv.Public()) }
