package ledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/ledger"
)

// Golden vectors freeze the envelope encoding: a change that alters any of
// them is a breaking change (docs/architecture.md, "Event envelope"). Only
// regenerate them with -update for a deliberate new envelope version.
var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the inputs in vectors_test.go")

const vectorsPath = "testdata/vectors.json"

// goldenSeed is the Ed25519 seed 0x01, 0x02, ..., 0x20.
func goldenSeed() []byte {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	return seed
}

var goldenKeyCreated = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func goldenSigner() *ledger.Signer {
	return ledger.NewSigner(ed25519.NewKeyFromSeed(goldenSeed()), goldenKeyCreated)
}

type vectorInput struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	Type        string `json:"type"`
	Org         string `json:"org"`
	Aggregate   string `json:"aggregate"`
	AggregateID string `json:"aggregateId"`
	Actor       string `json:"actor"`
	Time        string `json:"time"`
	Subject     string `json:"subject"`
	// Data is the exact JSON text given to NewDraft; "" means no data.
	Data string `json:"data"`
}

type vector struct {
	vectorInput
	Seq       uint64 `json:"seq"`
	Prev      string `json:"prev"`
	Canonical string `json:"canonical"`
	Hash      string `json:"hash"`
	Sig       string `json:"sig"`
	Raw       string `json:"raw"`
}

type vectorFile struct {
	Comment      string    `json:"comment"`
	Seed         string    `json:"seed"`
	KeyCreatedAt time.Time `json:"keyCreatedAt"`
	KeyID        string    `json:"keyId"`
	PublicKey    string    `json:"publicKey"`
	Vectors      []vector  `json:"vectors"`
}

var vectorInputs = []vectorInput{
	{
		Name:        "unicode, html characters, unsorted keys",
		ID:          "00000000-0000-4000-8000-000000000001",
		Type:        "trail.started",
		Org:         "acme",
		Aggregate:   "trail",
		AggregateID: "trail-ünï",
		Actor:       "Zoë 🚀 <zoe@example.com> & co",
		Time:        ledger.FormatTime(time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)),
		Subject:     "factstore.events.acme.trail.trail.started",
		Data: `{"z":1,"a":"héllo wörld","m":{"y":[3,2,1],"b":true,"a":null},"emoji":"😀𝄞 \ud83d\ude80",` +
			`"ls":"esc\u2028raw` + "\u2028" + `end\u2029","html":"<script>alert('x&y')</script>",` +
			`"keys":{"～":1,"😀":2,"é":3,"e":4,"E":5}}`,
	},
	{
		Name:        "numbers",
		ID:          "00000000-0000-4000-8000-000000000002",
		Type:        "attestation.recorded",
		Org:         "acme",
		Aggregate:   "trail",
		AggregateID: "trail-1",
		Actor:       "ci-bot",
		Time:        ledger.FormatTime(time.Date(2025, 6, 30, 23, 59, 59, 999999999, time.FixedZone("CEST", 2*3600))),
		Subject:     "factstore.events.acme.trail.attestation.recorded",
		Data: `{"tenth":0.1,"big":1e21,"almostBig":999999999999999999999,"third":0.3333333333333333,` +
			`"negZero":-0.0,"small":1e-7,"smallish":0.000001,"exp":1E+2,"frac":12.50,` +
			`"max":1.7976931348623157e308,"tiny":5e-324,` +
			`"ints":[0,-1,42,9007199254740991,9007199254740993,123456789012345678901234567890]}`,
	},
	{
		Name:        "empty object, no org",
		ID:          "00000000-0000-4000-8000-000000000003",
		Type:        "org.created",
		Org:         ledger.NoOrg,
		Aggregate:   "organisation",
		AggregateID: "acme",
		Actor:       "system",
		Time:        ledger.FormatTime(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)),
		Subject:     "factstore.events._.organisation.org.created",
		Data:        `{}`,
	},
	{
		Name:        "no data (null)",
		ID:          "00000000-0000-4000-8000-000000000004",
		Type:        "flow.deleted",
		Org:         "acme",
		Aggregate:   "flow",
		AggregateID: "flow-9",
		Actor:       "alice",
		Time:        ledger.FormatTime(time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)),
		Subject:     "factstore.events.acme.flow.flow.deleted",
	},
	{
		Name:        "nesting, arrays, control characters, slot text in data",
		ID:          "00000000-0000-4000-8000-000000000005",
		Type:        "approval.granted",
		Org:         "acme",
		Aggregate:   "approval",
		AggregateID: `a"b\c`,
		Actor:       "bob",
		Time:        ledger.FormatTime(time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)),
		Subject:     "factstore.events.acme.approval.approval.granted",
		Data: `{"placeholder":{"time":"x","seq":0,"prev":"","a":1},` +
			`"list":[{"b":2,"a":1},[],{},"",[null,true,false]],"nested":{"c":{"b":{"a":{}}}},` +
			`"ctrl":"tab\tnl\nq\"bs\\\u0001\u001f\u007f\/\b\f\r\u00e9\u20AC"}`,
	},
}

// wantData is the RFC 8785 form of each vector's data, worked out by hand:
// keys sorted by UTF-16 code units ("😀" U+1F600 is D83D, before "～" U+FF5E),
// no HTML escaping, U+2028/2029 and DEL raw, ES6 number formatting, integers
// beyond 2^53 rounded to the nearest double.
var wantData = map[string]string{
	"unicode, html characters, unsorted keys": `{"a":"héllo wörld","emoji":"😀𝄞 🚀","html":"<script>alert('x&y')</script>",` +
		`"keys":{"E":5,"e":4,"é":3,"😀":2,"～":1},"ls":"esc` + "\u2028raw\u2028end\u2029" + `",` +
		`"m":{"a":null,"b":true,"y":[3,2,1]},"z":1}`,
	"numbers": `{"almostBig":1e+21,"big":1e+21,"exp":100,"frac":12.5,` +
		`"ints":[0,-1,42,9007199254740991,9007199254740992,1.2345678901234568e+29],` +
		`"max":1.7976931348623157e+308,"negZero":0,"small":1e-7,"smallish":0.000001,"tenth":0.1,` +
		`"third":0.3333333333333333,"tiny":5e-324}`,
	"empty object, no org": `{}`,
	"no data (null)":       `null`,
	"nesting, arrays, control characters, slot text in data": `{"ctrl":"tab\tnl\nq\"bs\\\u0001\u001f` + "\x7f" + `/\b\f\ré€",` +
		`"list":[{"a":1,"b":2},[],{},"",[null,true,false]],"nested":{"c":{"b":{"a":{}}}},` +
		`"placeholder":{"a":1,"prev":"","seq":0,"time":"x"}}`,
}

func (in vectorInput) envelope() ledger.Envelope {
	e := ledger.Envelope{
		ID: in.ID, Type: in.Type, Org: in.Org, Aggregate: in.Aggregate, AggregateID: in.AggregateID,
		Actor: in.Actor, Time: in.Time,
	}
	if in.Data != "" {
		e.Data = json.RawMessage(in.Data)
	}
	return e
}

// computeVectors seals the inputs with the golden key, chained from ZeroHash.
func computeVectors(tb testing.TB, inputs []vectorInput) vectorFile {
	tb.Helper()
	s := goldenSigner()
	vf := vectorFile{
		Comment:      "Golden envelope vectors; regenerate only for a new envelope version (go test ./ledger -run TestGoldenVectors -update).",
		Seed:         hex.EncodeToString(goldenSeed()),
		KeyCreatedAt: goldenKeyCreated,
		KeyID:        s.KeyID(),
		PublicKey:    s.Public().PublicKey,
	}
	prev := ledger.ZeroHash
	for i, in := range inputs {
		seq := uint64(i + 1)
		d, err := ledger.NewDraft(in.envelope(), in.Subject)
		require.NoError(tb, err, in.Name)
		require.Equal(tb, in.ID, d.ID)
		require.Equal(tb, in.Subject, d.Subject)
		sealed := s.Seal(d, seq, prev)
		e, err := ledger.Decode(sealed.Raw)
		require.NoError(tb, err, in.Name)
		canon, err := ledger.Canonical(e)
		require.NoError(tb, err, in.Name)
		vf.Vectors = append(vf.Vectors, vector{
			vectorInput: in, Seq: seq, Prev: prev,
			Canonical: string(canon), Hash: sealed.Hash, Sig: e.Sig, Raw: string(sealed.Raw),
		})
		prev = sealed.Hash
	}
	return vf
}

// goldenChain is the golden vectors as a chain, for other tests.
func goldenChain(tb testing.TB) *chain {
	tb.Helper()
	c := &chain{hashes: []string{ledger.ZeroHash}}
	for _, v := range computeVectors(tb, vectorInputs).Vectors {
		c.raws = append(c.raws, []byte(v.Raw))
		c.hashes = append(c.hashes, v.Hash)
		c.envs = append(c.envs, v.envelope())
		c.times = append(c.times, v.Time)
	}
	return c
}

func TestGoldenVectors(t *testing.T) {
	t.Parallel()
	got := computeVectors(t, vectorInputs)
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		require.NoError(t, enc.Encode(got))
		require.NoError(t, os.WriteFile(vectorsPath, buf.Bytes(), 0o644)) //nolint:gosec // test data
		t.Logf("wrote %s", vectorsPath)
	}

	content, err := os.ReadFile(vectorsPath)
	require.NoError(t, err, "run once with -update to create it")
	var want vectorFile
	require.NoError(t, json.Unmarshal(content, &want))

	// The key.
	require.Equal(t, want.Seed, hex.EncodeToString(goldenSeed()))
	require.True(t, goldenKeyCreated.Equal(want.KeyCreatedAt))
	require.Equal(t, want.KeyID, got.KeyID, "key id derivation changed")
	require.Equal(t, want.PublicKey, got.PublicKey)
	pub := ed25519.NewKeyFromSeed(goldenSeed()).Public().(ed25519.PublicKey)
	require.Equal(t, want.PublicKey, base64.StdEncoding.EncodeToString(pub))
	sum := sha256.Sum256(pub)
	require.Equal(t, want.KeyID, "ed25519:"+hex.EncodeToString(sum[:8]))

	require.Len(t, want.Vectors, len(vectorInputs))
	prev := ledger.ZeroHash
	for i, w := range want.Vectors {
		g := got.Vectors[i]
		name := w.Name
		require.Equal(t, vectorInputs[i], w.vectorInput, "%s: inputs in the file and in the test differ", name)

		// Frozen outputs.
		require.Equal(t, uint64(i+1), w.Seq, name)
		require.Equal(t, prev, w.Prev, "%s: vectors chain from ZeroHash", name)
		require.Equal(t, w.Canonical, g.Canonical, "%s: canonical encoding changed", name)
		require.Equal(t, w.Hash, g.Hash, "%s: hash changed", name)
		require.Equal(t, w.Sig, g.Sig, "%s: signature changed", name)
		require.Equal(t, w.Raw, g.Raw, "%s: stored form changed", name)
		prev = w.Hash

		// RFC 8785 expectations independent of the file.
		require.Contains(t, w.Canonical, `"data":`+wantData[name]+`,"id":`, name)

		// The stored form is the canonical bytes plus hash, keyId and sig.
		canon := []byte(w.Canonical)
		require.Equal(t, string(canon[:len(canon)-1])+`,"hash":"`+w.Hash+`","keyId":"`+want.KeyID+`","sig":"`+w.Sig+`"}`, w.Raw, name)

		// The hash is SHA-256 of the canonical bytes, and Canonical of the
		// decoded stored form reproduces them.
		digest := sha256.Sum256(canon)
		require.Equal(t, hex.EncodeToString(digest[:]), w.Hash, name)
		require.Equal(t, w.Hash, ledger.HashBytes(canon), name)
		e, decErr := ledger.Decode([]byte(w.Raw))
		require.NoError(t, decErr, name)
		recanon, canonErr := ledger.Canonical(e)
		require.NoError(t, canonErr, name)
		require.Equal(t, w.Canonical, string(recanon), name)
		require.Equal(t, w.Hash, ledger.HashBytes(recanon), name)

		// Decoded fields are the inputs.
		wantEnv := w.envelope()
		wantEnv.V, wantEnv.Seq, wantEnv.Prev, wantEnv.Hash, wantEnv.KeyID, wantEnv.Sig = ledger.Version, w.Seq, w.Prev, w.Hash, got.KeyID, w.Sig
		wantEnv.Data = json.RawMessage(wantData[name])
		require.Equal(t, wantEnv, *e, name)

		// Ed25519 is deterministic, so the signature is frozen too; it is
		// over the 32-byte digest.
		sig, sigErr := base64.StdEncoding.DecodeString(w.Sig)
		require.NoError(t, sigErr, name)
		require.True(t, ed25519.Verify(pub, digest[:], sig), name)
		require.Equal(t, sig, ed25519.Sign(ed25519.NewKeyFromSeed(goldenSeed()), digest[:]), name)
		d, draftErr := ledger.NewDraft(w.envelope(), w.Subject)
		require.NoError(t, draftErr)
		require.Equal(t, w.Raw, string(goldenSigner().Seal(d, w.Seq, w.Prev).Raw), "%s: sealing twice differs", name)
	}

	// One envelope written out in full, by hand.
	v3 := want.Vectors[2]
	assert.Equal(t, `{"actor":"system","aggregate":"organisation","aggregateId":"acme","data":{},`+
		`"id":"00000000-0000-4000-8000-000000000003","org":"_","prev":"`+want.Vectors[1].Hash+`","seq":3,`+
		`"time":"2000-01-01T00:00:00.000000000Z","type":"org.created","v":1}`, v3.Canonical)

	// The vectors form a valid chain under the golden key.
	kr, err := ledger.NewKeyring(goldenSigner().Public())
	require.NoError(t, err)
	items := make([]ledger.Item, len(want.Vectors))
	for i, v := range want.Vectors {
		items[i] = ledger.Item{Pos: v.Seq, Raw: []byte(v.Raw)}
	}
	rep, err := ledger.Verify(context.Background(), ledger.SliceSource(items), ledger.VerifyOptions{Keys: kr})
	require.NoError(t, err)
	require.True(t, rep.Valid, "%v", rep.Broken)
	require.Equal(t, uint64(len(items)), rep.Checked)
	require.Equal(t, want.Vectors[len(items)-1].Hash, rep.HeadHash)
}
