package domain_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/domain/provenancetest"
)

const (
	provHex      = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	provDigest   = "sha256:" + provHex
	provOtherHex = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

// provScheme is one way of signing: a key, the algorithm applied with it,
// and a second key of the same type that must not verify its signatures.
type provScheme struct {
	name  string
	label string // how VerifyProvenance names the key
	priv  crypto.Signer
	other crypto.Signer
	sign  func(t *testing.T, priv crypto.Signer, data []byte) []byte
}

// provSchemes generates keys once: RSA generation is slow enough under
// -race to matter when every test builds its own.
var provSchemes = sync.OnceValues(func() ([]provScheme, error) {
	_, ed1, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	_, ed2, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ec1, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ec2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rsa1, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	rsa2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	std := func(t *testing.T, priv crypto.Signer, data []byte) []byte {
		t.Helper()
		return provenancetest.Sign(t, priv, data)
	}
	ecdsaRaw := func(t *testing.T, priv crypto.Signer, data []byte) []byte {
		t.Helper()
		digest := sha256.Sum256(data)
		r, s, err := ecdsa.Sign(rand.Reader, priv.(*ecdsa.PrivateKey), digest[:])
		require.NoError(t, err)
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
	rsaPSS := func(t *testing.T, priv crypto.Signer, data []byte) []byte {
		t.Helper()
		digest := sha256.Sum256(data)
		sig, err := rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, digest[:], nil)
		require.NoError(t, err)
		return sig
	}
	rsaPSSHashSalt := func(t *testing.T, priv crypto.Signer, data []byte) []byte {
		t.Helper()
		digest := sha256.Sum256(data)
		sig, err := rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, digest[:],
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		require.NoError(t, err)
		return sig
	}
	return []provScheme{
		{name: "ed25519", label: "ed25519 key SHA256:", priv: ed1, other: ed2, sign: std},
		{name: "ecdsa P-256 DER", label: "ecdsa P-256 key SHA256:", priv: ec1, other: ec2, sign: std},
		{name: "ecdsa P-256 raw r||s", label: "ecdsa P-256 key SHA256:", priv: ec1, other: ec2, sign: ecdsaRaw},
		{name: "rsa PKCS#1 v1.5", label: "rsa 2048-bit key SHA256:", priv: rsa1, other: rsa2, sign: std},
		{name: "rsa PSS max salt", label: "rsa 2048-bit key SHA256:", priv: rsa1, other: rsa2, sign: rsaPSS},
		{name: "rsa PSS hash-length salt", label: "rsa 2048-bit key SHA256:", priv: rsa1, other: rsa2, sign: rsaPSSHashSalt},
	}, nil
})

func provTestSchemes(t *testing.T) []provScheme {
	t.Helper()
	schemes, err := provSchemes()
	require.NoError(t, err)
	return schemes
}

func provPEM(t *testing.T, priv crypto.Signer) string {
	t.Helper()
	return provenancetest.PublicKeyPEM(t, priv.Public())
}

// provEnvelope builds a DSSE envelope by hand over dsse.PAE, so tests can
// sign any payload type and payload with any scheme.
func provEnvelope(t *testing.T, sc provScheme, priv crypto.Signer, payloadType string, payload []byte) *dsse.Envelope {
	t.Helper()
	sig := sc.sign(t, priv, dsse.PAE(payloadType, payload))
	return &dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
}

func provDetached(t *testing.T, sc provScheme, priv crypto.Signer, payload []byte) domain.ProvenanceSignature {
	t.Helper()
	return domain.ProvenanceSignature{
		Payload:   base64.StdEncoding.EncodeToString(payload),
		Signature: base64.StdEncoding.EncodeToString(sc.sign(t, priv, payload)),
		PublicKey: provPEM(t, sc.priv),
	}
}

// provFlip flips one bit of the decoded bytes of a base64 string.
func provFlip(t *testing.T, b64 string, at int) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	require.Greater(t, len(b), at)
	b[at] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

func provStatementJSON(typ string, subjects string) []byte {
	return []byte(`{"_type":"` + typ + `","subject":` + subjects +
		`,"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
}

func TestVerifyProvenanceValid(t *testing.T) {
	t.Parallel()
	stmt := provenancetest.Statement(provHex)
	for _, sc := range provTestSchemes(t) {
		cases := map[string]domain.ProvenanceSignature{
			"dsse": {
				Envelope:  provEnvelope(t, sc, sc.priv, "application/vnd.in-toto+json", stmt),
				PublicKey: provPEM(t, sc.priv),
			},
			"detached": provDetached(t, sc, sc.priv, stmt),
		}
		for mode, sig := range cases {
			t.Run(sc.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				status, msg := domain.VerifyProvenance(sig, provDigest)
				assert.Equal(t, domain.ProvenanceVerified, status, msg)
				assert.Contains(t, msg, "signature verified with "+sc.label)
				assert.Contains(t, msg, "subject "+provDigest+" matches")
			})
		}
	}
}

// TestVerifyProvenanceSignDSSE checks envelopes from dsse's own signer (via
// provenancetest), decoded from JSON the way a request body would be.
func TestVerifyProvenanceSignDSSE(t *testing.T) {
	t.Parallel()
	for _, sc := range provTestSchemes(t) {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			envJSON, pemText := provenancetest.SignDSSE(t, sc.priv, provHex)
			body, err := json.Marshal(map[string]any{
				"dsseEnvelope": json.RawMessage(envJSON),
				"publicKey":    pemText,
			})
			require.NoError(t, err)
			var sig domain.ProvenanceSignature
			require.NoError(t, json.Unmarshal(body, &sig))
			require.NotNil(t, sig.Envelope)
			require.NotEmpty(t, sig.Envelope.Signatures[0].KeyID, "dsse signer sets a key ID")

			status, msg := domain.VerifyProvenance(sig, provDigest)
			assert.Equal(t, domain.ProvenanceVerified, status, msg)
			assert.Contains(t, msg, sc.label)
		})
	}
}

func TestVerifyProvenanceTampered(t *testing.T) {
	t.Parallel()
	stmt := provenancetest.Statement(provHex)
	for _, sc := range provTestSchemes(t) {
		tests := []struct {
			name string
			sig  func(t *testing.T) domain.ProvenanceSignature
		}{
			{"dsse payload byte flipped", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				env := provEnvelope(t, sc, sc.priv, "application/vnd.in-toto+json", stmt)
				env.Payload = provFlip(t, env.Payload, 40)
				return domain.ProvenanceSignature{Envelope: env, PublicKey: provPEM(t, sc.priv)}
			}},
			{"dsse signature byte flipped", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				env := provEnvelope(t, sc, sc.priv, "application/vnd.in-toto+json", stmt)
				env.Signatures[0].Sig = provFlip(t, env.Signatures[0].Sig, 5)
				return domain.ProvenanceSignature{Envelope: env, PublicKey: provPEM(t, sc.priv)}
			}},
			{"dsse signed by a different key", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				env := provEnvelope(t, sc, sc.other, "application/vnd.in-toto+json", stmt)
				return domain.ProvenanceSignature{Envelope: env, PublicKey: provPEM(t, sc.priv)}
			}},
			{"dsse payloadType swapped after signing", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				// PAE binds the type: a signature over another type must not
				// carry over to the in-toto type.
				env := provEnvelope(t, sc, sc.priv, "application/json", stmt)
				env.PayloadType = "application/vnd.in-toto+json"
				return domain.ProvenanceSignature{Envelope: env, PublicKey: provPEM(t, sc.priv)}
			}},
			{"detached payload byte flipped", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.Payload = provFlip(t, sig.Payload, 40)
				return sig
			}},
			{"detached signature byte flipped", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.Signature = provFlip(t, sig.Signature, 5)
				return sig
			}},
			{"detached signed by a different key", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.other, stmt)
				sig.PublicKey = provPEM(t, sc.priv)
				return sig
			}},
			{"detached signature over PAE, not the payload", func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				pae := dsse.PAE("application/vnd.in-toto+json", stmt)
				sig.Signature = base64.StdEncoding.EncodeToString(sc.sign(t, sc.priv, pae))
				return sig
			}},
		}
		for _, tc := range tests {
			t.Run(sc.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				status, msg := domain.VerifyProvenance(tc.sig(t), provDigest)
				assert.Equal(t, domain.ProvenanceFailed, status, msg)
				assert.Contains(t, msg, "signature does not verify with "+sc.label)
			})
		}
	}
}

func TestVerifyProvenanceRejections(t *testing.T) {
	t.Parallel()
	sc := provTestSchemes(t)[0] // ed25519: the reasons below do not depend on the key type
	pemText := provPEM(t, sc.priv)
	stmt := provenancetest.Statement(provHex)
	intoto := "application/vnd.in-toto+json"
	envelope := func(t *testing.T, payloadType string, payload []byte) *dsse.Envelope {
		t.Helper()
		return provEnvelope(t, sc, sc.priv, payloadType, payload)
	}

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)

	tests := []struct {
		name       string
		sig        func(t *testing.T) domain.ProvenanceSignature
		digest     string
		wantStatus string
		wantMsg    []string
	}{
		{
			name:       "nothing supplied",
			sig:        func(*testing.T) domain.ProvenanceSignature { return domain.ProvenanceSignature{} },
			wantStatus: domain.ProvenanceUnverified,
			wantMsg:    []string{"no signature supplied"},
		},
		{
			name: "public key alone is no signature",
			sig: func(*testing.T) domain.ProvenanceSignature {
				return domain.ProvenanceSignature{PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceUnverified,
			wantMsg:    []string{"no signature supplied"},
		},
		{
			name: "blank detached fields are no signature",
			sig: func(*testing.T) domain.ProvenanceSignature {
				return domain.ProvenanceSignature{Payload: "  ", Signature: "\n"}
			},
			wantStatus: domain.ProvenanceUnverified,
			wantMsg:    []string{"no signature supplied"},
		},
		{
			name: "dsse without a public key",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, stmt)}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"a public key is required to verify the signature"},
		},
		{
			name: "detached without a public key",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.PublicKey = ""
				return sig
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"a public key is required to verify the signature"},
		},
		{
			name: "garbage PEM",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, stmt), PublicKey: "not a key"}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"PEM", "no PEM block found"},
		},
		{
			name: "PEM of the wrong type",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				bad := strings.ReplaceAll(pemText, "PUBLIC KEY", "PRIVATE KEY")
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, stmt), PublicKey: bad}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{`found a "PRIVATE KEY" block`},
		},
		{
			name: "PEM holding garbage DER",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				bad := "-----BEGIN PUBLIC KEY-----\nAAECAwQF\n-----END PUBLIC KEY-----\n"
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, stmt), PublicKey: bad}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"unsupported public key"},
		},
		{
			name: "ecdsa P-384 key",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, stmt), PublicKey: provPEM(t, p384)}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"unsupported public key", "ecdsa curve P-384 (only P-256 is supported)"},
		},
		{
			name: "rsa 1024-bit key",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, stmt), PublicKey: provPEM(t, rsa1024)}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"unsupported public key", "rsa key of 1024 bits"},
		},
		{
			name: "wrong payloadType",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, "application/json", stmt), PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{`DSSE payloadType is "application/json", want "application/vnd.in-toto+json"`},
		},
		{
			name: "dsse payload is JSON but not a statement",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, []byte(`{"hello":"world"}`)), PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"payload is not an in-toto statement", `_type is ""`},
		},
		{
			name: "detached payload is not JSON",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return provDetached(t, sc, sc.priv, []byte("build 42 passed"))
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"payload is not an in-toto statement"},
		},
		{
			name: "statement without subjects",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				p := provStatementJSON("https://in-toto.io/Statement/v1", `[]`)
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, p), PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"payload is not an in-toto statement: it has no subjects"},
		},
		{
			name: "statement without predicateType",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				p := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + provHex + `"}}]}`)
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, p), PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"payload is not an in-toto statement: predicateType is missing"},
		},
		{
			name: "dsse subject digest mismatch",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, provenancetest.Statement(provOtherHex)), PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"no subject with digest " + provDigest, `"artifact" sha256:` + provOtherHex},
		},
		{
			name: "detached subject digest mismatch lists what was found",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				p := provStatementJSON("https://in-toto.io/Statement/v1",
					`[{"name":"app","digest":{"sha256":"`+provOtherHex+`"}},{"name":"sbom","digest":{"sha512":"abcd"}}]`)
				return provDetached(t, sc, sc.priv, p)
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"no subject with digest " + provDigest, `"app" sha256:` + provOtherHex, `"sbom" (no sha256 digest)`},
		},
		{
			name: "dsse payload is not base64",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				env := envelope(t, intoto, stmt)
				env.Payload = "%%%"
				return domain.ProvenanceSignature{Envelope: env, PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"DSSE payload is not valid base64"},
		},
		{
			name: "dsse signature is not base64",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				env := envelope(t, intoto, stmt)
				env.Signatures[0].Sig = "%%%"
				return domain.ProvenanceSignature{Envelope: env, PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"DSSE signature 1 is not valid base64"},
		},
		{
			name: "detached payload is not base64",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.Payload = "not*base64"
				return sig
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"detached payload is not valid base64"},
		},
		{
			name: "detached signature is not base64",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.Signature = "not*base64"
				return sig
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"detached signature is not valid base64"},
		},
		{
			name: "envelope without signatures",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				env := envelope(t, intoto, stmt)
				env.Signatures = nil
				return domain.ProvenanceSignature{Envelope: env, PublicKey: pemText}
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"DSSE envelope carries no signatures"},
		},
		{
			name: "detached payload without signature",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.Signature = ""
				return sig
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"detached payload has no signature"},
		},
		{
			name: "detached signature without payload",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.Payload = ""
				return sig
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"detached signature has no payload"},
		},
		{
			name: "envelope and detached together",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				sig := provDetached(t, sc, sc.priv, stmt)
				sig.Envelope = envelope(t, intoto, stmt)
				return sig
			},
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{"not both"},
		},
		{
			name: "malformed artifact digest",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return domain.ProvenanceSignature{Envelope: envelope(t, intoto, stmt), PublicKey: pemText}
			},
			digest:     "md5:abc",
			wantStatus: domain.ProvenanceFailed,
			wantMsg:    []string{`artifact digest "md5:abc" is not sha256:<64 hex digits>`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			digest := tc.digest
			if digest == "" {
				digest = provDigest
			}
			status, msg := domain.VerifyProvenance(tc.sig(t), digest)
			assert.Equal(t, tc.wantStatus, status, msg)
			for _, want := range tc.wantMsg {
				assert.Contains(t, msg, want)
			}
		})
	}
}

func TestVerifyProvenanceAccepts(t *testing.T) {
	t.Parallel()
	schemes := provTestSchemes(t)
	sc := schemes[0]
	pemText := provPEM(t, sc.priv)
	intoto := "application/vnd.in-toto+json"

	tests := []struct {
		name   string
		sig    func(t *testing.T) domain.ProvenanceSignature
		digest string
	}{
		{
			name: "statement v0.1",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				p := provStatementJSON("https://in-toto.io/Statement/v0.1",
					`[{"name":"a","digest":{"sha256":"`+provHex+`"}}]`)
				return domain.ProvenanceSignature{Envelope: provEnvelope(t, sc, sc.priv, intoto, p), PublicKey: pemText}
			},
		},
		{
			name: "hex case differs on both sides",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				return provDetached(t, sc, sc.priv, provenancetest.Statement(strings.ToUpper(provHex)))
			},
			digest: "sha256:" + strings.ToUpper(provHex[:32]) + provHex[32:],
		},
		{
			name: "matching subject is not the first",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				p := provStatementJSON("https://in-toto.io/Statement/v1",
					`[{"name":"a","digest":{"sha256":"`+provOtherHex+`"}},{"name":"b","digest":{"sha512":"00","sha256":"`+provHex+`"}}]`)
				return provDetached(t, sc, sc.priv, p)
			},
		},
		{
			name: "signer's own key ID is ignored",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				env := provEnvelope(t, sc, sc.priv, intoto, provenancetest.Statement(provHex))
				env.Signatures[0].KeyID = "projects/ci/keys/release-2026"
				return domain.ProvenanceSignature{Envelope: env, PublicKey: pemText}
			},
		},
		{
			name: "one of several signatures is by the key",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				stmt := provenancetest.Statement(provHex)
				env := provEnvelope(t, sc, sc.other, intoto, stmt)
				good := provEnvelope(t, sc, sc.priv, intoto, stmt)
				env.Signatures = append(env.Signatures, good.Signatures...)
				return domain.ProvenanceSignature{Envelope: env, PublicKey: pemText}
			},
		},
		{
			name: "URL-safe base64 and trailing newlines in detached fields",
			sig: func(t *testing.T) domain.ProvenanceSignature {
				t.Helper()
				stmt := provenancetest.Statement(provHex)
				return domain.ProvenanceSignature{
					Payload:   base64.URLEncoding.EncodeToString(stmt) + "\n",
					Signature: base64.URLEncoding.EncodeToString(sc.sign(t, sc.priv, stmt)) + "\n",
					PublicKey: pemText,
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			digest := tc.digest
			if digest == "" {
				digest = provDigest
			}
			status, msg := domain.VerifyProvenance(tc.sig(t), digest)
			assert.Equal(t, domain.ProvenanceVerified, status, msg)
		})
	}
}

func TestProvenanceSignatureJSONNames(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(domain.ProvenanceSignature{
		Envelope:  &dsse.Envelope{PayloadType: "t"},
		Payload:   "p",
		Signature: "s",
		PublicKey: "k",
	})
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &fields))
	assert.ElementsMatch(t, []string{"dsseEnvelope", "payload", "signature", "publicKey"}, provKeys(fields))

	b, err = json.Marshal(domain.ProvenanceSignature{})
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(b))
}

func provKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func FuzzVerifyProvenance(f *testing.F) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(f, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	stmt := provenancetest.Statement(provHex)

	envJSON, edPEM := provenancetest.SignDSSE(f, ed, provHex)
	f.Add(string(envJSON), "", "", edPEM, provDigest)
	ecPEM := provenancetest.PublicKeyPEM(f, ec.Public())
	f.Add("", base64.StdEncoding.EncodeToString(stmt),
		base64.StdEncoding.EncodeToString(provenancetest.Sign(f, ec, stmt)), ecPEM, provDigest)
	f.Add("", "", "", "", "")
	f.Add(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AAAA"}]}`, "", "", edPEM, provDigest)
	f.Add(`{"signatures":null}`, "", "", ecPEM, "sha256:")
	f.Add("", "e30=", "AAAA", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", provDigest)

	valid := map[string]bool{
		domain.ProvenanceUnverified: true,
		domain.ProvenanceVerified:   true,
		domain.ProvenanceFailed:     true,
	}
	f.Fuzz(func(t *testing.T, envelopeJSON, payload, signature, publicKey, digest string) {
		sig := domain.ProvenanceSignature{Payload: payload, Signature: signature, PublicKey: publicKey}
		var env dsse.Envelope
		if envelopeJSON != "" && json.Unmarshal([]byte(envelopeJSON), &env) == nil {
			sig.Envelope = &env
		}
		status, msg := domain.VerifyProvenance(sig, digest)
		if !valid[status] {
			t.Fatalf("status %q is not one VerifyProvenance may return", status)
		}
		if msg == "" {
			t.Fatalf("status %s came without a message", status)
		}
		noMaterial := sig.Envelope == nil && strings.TrimSpace(payload) == "" && strings.TrimSpace(signature) == ""
		if noMaterial != (status == domain.ProvenanceUnverified) {
			t.Fatalf("status %s for input with signature material=%v: %s", status, !noMaterial, msg)
		}
	})
}
