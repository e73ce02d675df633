package domain

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Provenance statuses, as reported on artifacts (the original's names, plus FAILED).
const (
	// ProvenanceNone means no build provenance was recorded for the artifact.
	ProvenanceNone = "NO_PROVENANCE"
	// ProvenanceUnverified means provenance was recorded without any signature.
	ProvenanceUnverified = "PROVENANCE_UNVERIFIED"
	// ProvenanceVerified means a signature verified with the supplied key and
	// the signed in-toto statement names the artifact's digest.
	ProvenanceVerified = "PROVENANCE_VERIFIED"
	// ProvenanceFailed means signature material was supplied but did not
	// prove the artifact's provenance; the message says why.
	ProvenanceFailed = "PROVENANCE_FAILED"
)

// ProvenanceSignature is the signature material a provenance record may
// carry: either a DSSE envelope, or a detached payload and signature, plus
// the signer's public key as PEM.
type ProvenanceSignature struct {
	Envelope  *dsse.Envelope `json:"dsseEnvelope,omitempty"`
	Payload   string         `json:"payload,omitempty"`   // detached: base64 signed bytes
	Signature string         `json:"signature,omitempty"` // detached: base64 signature
	PublicKey string         `json:"publicKey,omitempty"` // PEM
}

const (
	provPayloadType   = "application/vnd.in-toto+json"
	provStatementV1   = "https://in-toto.io/Statement/v1"
	provStatementV01  = "https://in-toto.io/Statement/v0.1"
	provMinRSABits    = 2048
	provListedMax     = 5  // subjects named in a mismatch message
	provQuotedMaxByte = 80 // untrusted strings are cut to this before quoting
)

var (
	errProvNoKey       = errors.New("a public key is required to verify the signature")
	errProvBadSig      = errors.New("signature does not verify")
	errProvNotStmt     = errors.New("payload is not an in-toto statement")
	errProvBadBase64   = errors.New("not valid base64")
	errProvBadPEM      = errors.New("public key is not a PEM \"PUBLIC KEY\" block")
	errProvUnsupported = errors.New("unsupported public key")
)

// VerifyProvenance checks sig against the artifact digest ("sha256:<hex>")
// and returns one of the statuses above and a human message saying why.
//
// VERIFIED needs both a signature that verifies with sig.PublicKey (DSSE:
// over PAE(payloadType, payload); detached: over the payload bytes) and an
// in-toto statement whose subjects include the artifact's digest. The seed
// product said VERIFIED whenever a signature string was present; a
// signature nobody checked proves nothing, so anything short of both checks
// passing is FAILED. Only the absence of any signature material is
// UNVERIFIED.
func VerifyProvenance(sig ProvenanceSignature, artifactDigest string) (status, message string) {
	hasEnvelope := sig.Envelope != nil
	hasDetached := strings.TrimSpace(sig.Payload) != "" || strings.TrimSpace(sig.Signature) != ""
	if !hasEnvelope && !hasDetached {
		return ProvenanceUnverified, "no signature supplied"
	}
	msg, err := provVerify(sig, artifactDigest, hasEnvelope, hasDetached)
	if err != nil {
		return ProvenanceFailed, err.Error()
	}
	return ProvenanceVerified, msg
}

// provVerify does the work of VerifyProvenance once signature material is
// known to be present; any error is the reason for FAILED.
func provVerify(sig ProvenanceSignature, artifactDigest string, hasEnvelope, hasDetached bool) (string, error) {
	if strings.TrimSpace(sig.PublicKey) == "" {
		return "", errProvNoKey
	}
	if hasEnvelope && hasDetached {
		// Verifying one and ignoring the other would let a caller believe
		// the ignored half was checked.
		return "", errors.New("supply either a DSSE envelope or a detached payload and signature, not both")
	}
	wantHex, err := provDigestHex(artifactDigest)
	if err != nil {
		return "", err
	}
	key, err := provParsePublicKey(sig.PublicKey)
	if err != nil {
		return "", err
	}
	var payload []byte
	if hasEnvelope {
		payload, err = provVerifyDSSE(sig.Envelope, key)
	} else {
		payload, err = provVerifyDetached(sig.Payload, sig.Signature, key)
	}
	if err != nil {
		return "", err
	}
	stmt, err := provParseStatement(payload)
	if err != nil {
		return "", err
	}
	if err := provMatchSubject(stmt, wantHex); err != nil {
		return "", err
	}
	return fmt.Sprintf("signature verified with %s; subject sha256:%s matches", key.label, wantHex), nil
}

// provDigestHex returns the lower-case hex of an artifact digest
// "sha256:<64 hex>".
func provDigestHex(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if ok && len(h) == sha256.Size*2 {
		if _, err := hex.DecodeString(h); err == nil {
			return strings.ToLower(h), nil
		}
	}
	return "", fmt.Errorf("artifact digest %s is not sha256:<64 hex digits>", provQuote(digest))
}

// provKey is a parsed, supported public key and how messages name it.
type provKey struct {
	pub   crypto.PublicKey
	keyID string // SHA256:<ssh-style fingerprint>
	label string // e.g. "ed25519 key SHA256:..."
}

func provParsePublicKey(pemText string) (provKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return provKey{}, fmt.Errorf("%w: no PEM block found", errProvBadPEM)
	}
	if block.Type != "PUBLIC KEY" {
		return provKey{}, fmt.Errorf("%w: found a %s block", errProvBadPEM, provQuote(block.Type))
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return provKey{}, fmt.Errorf("%w: %w", errProvUnsupported, err)
	}
	var kind string
	switch k := pub.(type) {
	case ed25519.PublicKey:
		kind = "ed25519"
	case *ecdsa.PublicKey:
		if name := k.Params().Name; name != "P-256" {
			return provKey{}, fmt.Errorf("%w: ecdsa curve %s (only P-256 is supported)", errProvUnsupported, name)
		}
		kind = "ecdsa P-256"
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < provMinRSABits {
			return provKey{}, fmt.Errorf("%w: rsa key of %d bits (at least %d required)", errProvUnsupported, bits, provMinRSABits)
		}
		kind = fmt.Sprintf("rsa %d-bit", bits)
	default:
		return provKey{}, fmt.Errorf("%w: key type %T", errProvUnsupported, pub)
	}
	// The ssh-style fingerprint is the one dsse itself derives for key IDs,
	// so messages name keys the way other DSSE tooling does.
	keyID, err := dsse.SHA256KeyID(pub)
	if err != nil {
		sum := sha256.Sum256(block.Bytes)
		keyID = "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
	}
	return provKey{pub: pub, keyID: keyID, label: kind + " key " + keyID}, nil
}

// provVerifier adapts a provKey to dsse.Verifier. It is also used for
// detached signatures, so both modes accept exactly the same signatures.
type provVerifier struct{ key provKey }

// Verify checks sig over data: Ed25519 over the message itself; ECDSA P-256
// and RSA over its SHA-256.
func (v provVerifier) Verify(_ context.Context, data, sig []byte) error {
	switch pub := v.key.pub.(type) {
	case ed25519.PublicKey:
		// ed25519.Verify panics on a short key; x509 never yields one, but
		// this check is cheaper than trusting that.
		if len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, data, sig) {
			return nil
		}
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(data)
		if ecdsa.VerifyASN1(pub, digest[:], sig) {
			return nil
		}
		// Some signers (KMS, WebCrypto) emit the raw r||s form instead of DER.
		if len(sig) == 64 {
			r := new(big.Int).SetBytes(sig[:32])
			s := new(big.Int).SetBytes(sig[32:])
			if ecdsa.Verify(pub, digest[:], r, s) {
				return nil
			}
		}
	case *rsa.PublicKey:
		digest := sha256.Sum256(data)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil {
			return nil
		}
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256}
		if rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, pss) == nil {
			return nil
		}
	}
	return fmt.Errorf("%w with %s", errProvBadSig, v.key.label)
}

// KeyID returns the key's fingerprint.
func (v provVerifier) KeyID() (string, error) { return v.key.keyID, nil }

// Public returns the key being verified against.
func (v provVerifier) Public() crypto.PublicKey { return v.key.pub }

func provVerifyDSSE(env *dsse.Envelope, key provKey) ([]byte, error) {
	if env.PayloadType != provPayloadType {
		return nil, fmt.Errorf("DSSE payloadType is %s, want %q", provQuote(env.PayloadType), provPayloadType)
	}
	if len(env.Signatures) == 0 {
		return nil, errors.New("DSSE envelope carries no signatures")
	}
	// dsse reports these decoding failures as bare errors; decoding first
	// lets the message say which field is malformed.
	if _, err := env.DecodeB64Payload(); err != nil {
		return nil, fmt.Errorf("DSSE payload is %w", errProvBadBase64)
	}
	// Key IDs are unauthenticated hints: dsse skips a signature whose keyid
	// differs from the verifier's, so a signer that labels its key its own
	// way would fail against the right key. The PEM is the trust anchor, so
	// verify a copy with the hints removed.
	bare := dsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload}
	for i, s := range env.Signatures {
		if _, err := provDSSEDecode(s.Sig); err != nil {
			return nil, fmt.Errorf("DSSE signature %d is %w", i+1, errProvBadBase64)
		}
		bare.Signatures = append(bare.Signatures, dsse.Signature{Sig: s.Sig})
	}
	ev, err := dsse.NewEnvelopeVerifier(provVerifier{key: key})
	if err != nil {
		return nil, fmt.Errorf("preparing DSSE verifier: %w", err)
	}
	_, payload, err := ev.VerifyAndDecode(context.Background(), &bare)
	if err != nil {
		// dsse's own error only counts accepted signatures; name the key.
		return nil, fmt.Errorf("DSSE %w with %s", errProvBadSig, key.label)
	}
	return payload, nil
}

func provVerifyDetached(payloadB64, sigB64 string, key provKey) ([]byte, error) {
	if strings.TrimSpace(payloadB64) == "" {
		return nil, errors.New("detached signature has no payload: the signed bytes are needed to verify it")
	}
	if strings.TrimSpace(sigB64) == "" {
		return nil, errors.New("detached payload has no signature")
	}
	payload, err := provDSSEDecode(payloadB64)
	if err != nil {
		return nil, fmt.Errorf("detached payload is %w", err)
	}
	sig, err := provDSSEDecode(sigB64)
	if err != nil {
		return nil, fmt.Errorf("detached signature is %w", err)
	}
	if err := (provVerifier{key: key}).Verify(context.Background(), payload, sig); err != nil {
		return nil, err
	}
	return payload, nil
}

// provDSSEDecode decodes base64 the way dsse does (standard, then URL-safe,
// both padded), so both modes and the pre-checks agree with dsse. Surrounding
// whitespace is dropped because detached signatures often come from files.
func provDSSEDecode(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.URLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return nil, errProvBadBase64
}

// provStatement is the part of an in-toto Statement (v1 or v0.1) that
// verification reads.
type provStatement struct {
	Type          string        `json:"_type"`
	Subject       []provSubject `json:"subject"`
	PredicateType string        `json:"predicateType"`
}

type provSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

func provParseStatement(payload []byte) (provStatement, error) {
	var st provStatement
	if err := json.Unmarshal(payload, &st); err != nil {
		return st, fmt.Errorf("%w: %w", errProvNotStmt, err)
	}
	if st.Type != provStatementV1 && st.Type != provStatementV01 {
		return st, fmt.Errorf("%w: _type is %s, want %q or %q", errProvNotStmt, provQuote(st.Type), provStatementV1, provStatementV01)
	}
	if len(st.Subject) == 0 {
		return st, fmt.Errorf("%w: it has no subjects", errProvNotStmt)
	}
	if st.PredicateType == "" {
		return st, fmt.Errorf("%w: predicateType is missing", errProvNotStmt)
	}
	return st, nil
}

// provMatchSubject returns nil when a subject of st carries the sha256
// digest wantHex, and otherwise an error listing what st does name.
func provMatchSubject(st provStatement, wantHex string) error {
	for _, s := range st.Subject {
		if strings.EqualFold(s.Digest["sha256"], wantHex) {
			return nil
		}
	}
	found := make([]string, 0, provListedMax+1)
	for i, s := range st.Subject {
		if i == provListedMax {
			found = append(found, fmt.Sprintf("and %d more", len(st.Subject)-provListedMax))
			break
		}
		d, ok := s.Digest["sha256"]
		if !ok {
			found = append(found, provQuote(s.Name)+" (no sha256 digest)")
			continue
		}
		found = append(found, provQuote(s.Name)+" sha256:"+provShowHex(d))
	}
	return fmt.Errorf("no subject with digest sha256:%s; the statement names %s", wantHex, strings.Join(found, ", "))
}

// provShowHex shows a digest as is when it is plausible hex, and quoted
// otherwise, so odd input cannot forge structure in the message.
func provShowHex(s string) string {
	if len(s) == 0 || len(s) > provQuotedMaxByte {
		return provQuote(s)
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return provQuote(s)
		}
	}
	return s
}

// provQuote quotes an untrusted string for a message, cut short so a
// hostile input cannot bloat what is stored and shown.
func provQuote(s string) string {
	if len(s) > provQuotedMaxByte {
		return strconv.Quote(s[:provQuotedMaxByte]) + "..."
	}
	return strconv.Quote(s)
}
