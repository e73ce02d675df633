package provenancetest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/domain/provenancetest"
)

const digestHex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestSignDSSEProvenanceVerifies(t *testing.T) {
	t.Parallel()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	for name, priv := range map[string]crypto.Signer{"ed25519": ed, "ecdsa": ec, "rsa": rk} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Both digest spellings callers may have at hand.
			for _, d := range []string{digestHex, "sha256:" + digestHex} {
				envJSON, pemText := provenancetest.SignDSSE(t, priv, d)
				var env dsse.Envelope
				require.NoError(t, json.Unmarshal(envJSON, &env))
				assert.Equal(t, provenancetest.PayloadType, env.PayloadType)

				status, msg := domain.VerifyProvenance(domain.ProvenanceSignature{Envelope: &env, PublicKey: pemText}, "sha256:"+digestHex)
				assert.Equal(t, domain.ProvenanceVerified, status, msg)
			}
		})
	}
}

func TestStatementProvenanceShape(t *testing.T) {
	t.Parallel()
	var st struct {
		Type    string `json:"_type"`
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	require.NoError(t, json.Unmarshal(provenancetest.Statement(digestHex), &st))
	assert.Equal(t, "https://in-toto.io/Statement/v1", st.Type)
	require.Len(t, st.Subject, 1)
	assert.Equal(t, digestHex, st.Subject[0].Digest["sha256"])
	assert.Equal(t, "https://slsa.dev/provenance/v1", st.PredicateType)
	assert.NotEmpty(t, st.Predicate)
}
