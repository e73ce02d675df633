package ledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/ledger"
)

// randSeed makes the randomised tests reproducible; change it to explore.
var randSeed = flag.Uint64("seed", 20240601, "seed of the randomised ledger tests")

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

var keyCreated = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// seededSigner returns a deterministic signer whose 32-byte seed is b repeated.
func seededSigner(b byte) *ledger.Signer {
	return ledger.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize)), keyCreated)
}

var (
	keyA = seededSigner(0xA1) // trusted
	keyB = seededSigner(0xB2) // trusted (rotation)
	keyC = seededSigner(0xC3) // not trusted: the forger's key
)

func trustedKeys(tb testing.TB) *ledger.Keyring {
	tb.Helper()
	kr, err := ledger.NewKeyring(keyA.Public(), keyB.Public())
	require.NoError(tb, err)
	return kr
}

// marker is a string inside every fixture event's data; flipping one of its
// bytes is a change to the payload that keeps the JSON well-formed.
const marker = "tamper-me-0123456789"

// chain is a sealed ledger held in memory.
type chain struct {
	raws   [][]byte          // raws[i] is the stored body of the event at seq i+1
	hashes []string          // hashes[i] is the hash of seq i; hashes[0] is ZeroHash
	envs   []ledger.Envelope // the unsealed inputs, for forging
	times  []string
}

func (c *chain) n() int { return len(c.raws) }

// sealChain seals n events, event seq i signed by signerFor(i).
func sealChain(tb require.TestingT, n int, signerFor func(seq int) *ledger.Signer, gen func(seq int) ledger.Envelope) *chain {
	if h, ok := tb.(interface{ Helper() }); ok {
		h.Helper()
	}
	c := &chain{hashes: []string{ledger.ZeroHash}}
	for seq := 1; seq <= n; seq++ {
		e := gen(seq)
		d, err := ledger.NewDraft(e, "factstore.events.test")
		require.NoError(tb, err, "seq %d", seq)
		s := signerFor(seq).Seal(d, uint64(seq), c.hashes[seq-1])
		require.Equal(tb, uint64(seq), s.Seq)
		c.raws = append(c.raws, s.Raw)
		c.hashes = append(c.hashes, s.Hash)
		c.envs = append(c.envs, e)
		c.times = append(c.times, e.Time)
	}
	return c
}

func onlyKey(s *ledger.Signer) func(int) *ledger.Signer { return func(int) *ledger.Signer { return s } }

// alternateAB signs runs of three events with A, then B, then A...
func alternateAB(seq int) *ledger.Signer {
	if (seq/3)%2 == 0 {
		return keyA
	}
	return keyB
}

var baseTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// simpleEvent is a small event with the marker in its data.
func simpleEvent(r *rand.Rand) func(seq int) ledger.Envelope {
	return func(seq int) ledger.Envelope {
		data := map[string]any{"note": marker, "n": seq, "x": randValue(r, 2)}
		raw, err := json.Marshal(data)
		if err != nil {
			panic(err)
		}
		return ledger.Envelope{
			ID:          fmt.Sprintf("00000000-0000-4000-8000-%012d", seq),
			Type:        []string{"trail.started", "attestation.recorded", "approval.granted"}[seq%3],
			Org:         []string{"acme", ledger.NoOrg, "ünïcødé"}[seq%3],
			Aggregate:   "trail",
			AggregateID: fmt.Sprintf("trail-%d", seq%7),
			Actor:       "alice@example.com",
			Time:        ledger.FormatTime(baseTime.Add(time.Duration(seq) * time.Millisecond)),
			Data:        raw,
		}
	}
}

// randomEvent is an event with random, often nasty, content in every field.
func randomEvent(r *rand.Rand) func(seq int) ledger.Envelope {
	return func(seq int) ledger.Envelope {
		obj := map[string]any{"note": marker}
		for range r.IntN(6) {
			obj[randString(r)] = randValue(r, 0)
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			panic(err)
		}
		return ledger.Envelope{
			ID:          fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()>>16),
			Type:        randString(r),
			Org:         randString(r),
			Aggregate:   randString(r),
			AggregateID: randString(r),
			Actor:       randString(r),
			Time:        ledger.FormatTime(baseTime.Add(time.Duration(r.Int64N(1e15)))),
			Data:        raw,
		}
	}
}

var nastyRunes = []rune{
	'a', 'Z', '0', ' ', '"', '\\', '/', '<', '>', '&', '\'', '\t', '\n', '\r', '\b', '\f', 0, 0x1f, 0x7f,
	'é', 'ß', '中', 0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFF5E, 0x1F600, 0x1D11E, 0x10FFFF,
}

func randString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(10) {
		if r.IntN(4) == 0 {
			// any valid scalar value
			for {
				c := rune(r.IntN(0x110000))
				if c < 0xD800 || c > 0xDFFF {
					b.WriteRune(c)
					break
				}
			}
			continue
		}
		b.WriteRune(nastyRunes[r.IntN(len(nastyRunes))])
	}
	return b.String()
}

func randNumber(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return float64(r.IntN(2_000_001) - 1_000_000)
	case 1:
		return r.Float64()
	case 2:
		return float64(1<<53) + float64(r.IntN(5)-2)
	case 3:
		return []float64{1e21, 1e-7, 0.1, 5e-324, math.MaxFloat64, math.Copysign(0, -1), 1e20, 123e-20}[r.IntN(8)]
	default:
		for {
			f := math.Float64frombits(r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f
			}
		}
	}
}

func randValue(r *rand.Rand, depth int) any {
	k := r.IntN(8)
	if depth >= 3 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return randNumber(r)
	case 3, 4:
		return randString(r)
	case 5:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randValue(r, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for range r.IntN(4) {
			m[randString(r)] = randValue(r, depth+1)
		}
		return m
	}
}

func newRand(salt uint64) *rand.Rand { return rand.New(rand.NewPCG(*randSeed, salt)) }

// posMode says how items carry their position.
type posMode int

const (
	posStream  posMode = iota // Pos is the position in the stream, 1-based
	posUnknown                // Pos is 0, as in an export file
)

func (m posMode) String() string {
	if m == posStream {
		return "pos=stream"
	}
	return "pos=0"
}

// itemsOf wraps bodies as items starting at position first.
func itemsOf(raws [][]byte, mode posMode, first uint64) []ledger.Item {
	items := make([]ledger.Item, len(raws))
	for i, raw := range raws {
		items[i] = ledger.Item{Raw: raw}
		if mode == posStream {
			items[i].Pos = first + uint64(i)
		}
	}
	return items
}

func verify(tb testing.TB, items []ledger.Item, opt ledger.VerifyOptions) ledger.Report {
	tb.Helper()
	rep, err := ledger.Verify(context.Background(), ledger.SliceSource(items), opt)
	require.NoError(tb, err)
	return rep
}

// requireValid checks a report on an intact chain of events first..last.
func requireValid(tb testing.TB, rep ledger.Report, c *chain, first, last int) {
	tb.Helper()
	if !rep.Valid {
		require.FailNow(tb, "false alarm", "broken at %d: %v", rep.Broken.Seq, rep.Broken)
	}
	require.Nil(tb, rep.Broken)
	require.Equal(tb, uint64(last-first+1), rep.Checked)
	require.Equal(tb, uint64(first), rep.FirstSeq)
	require.Equal(tb, uint64(last), rep.LastSeq)
	require.Equal(tb, c.hashes[last], rep.HeadHash)
	require.Equal(tb, c.times[first-1], rep.FirstTime)
	require.Equal(tb, c.times[last-1], rep.LastTime)
}

// decodedID is the id Verify can report for a body: "" if it is unreadable.
func decodedID(raw []byte) string {
	e, _ := ledger.Decode(raw)
	if e == nil {
		return ""
	}
	return e.ID
}

// ---------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------

// mutation is one class of tampering with the stored chain.
type mutation struct {
	name string
	// ok reports whether the mutation applies at position p of an n-event chain.
	ok func(p, n int) bool
	// apply returns new bodies (c is never modified) and the position of the
	// first event Verify must report as bad.
	apply func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int)
	// noSig is where CheckLink (which checks no signature) first fails, 0 if
	// it does not; nil means the same position as Verify.
	noSig func(p, n int) int
}

func anyPos(p, n int) bool     { return p >= 1 && p <= n }
func notLastPos(p, n int) bool { return p >= 1 && p < n }
func neverNoSig(_, _ int) int  { return 0 }
func nextOrNever(p, n int) int {
	if p < n {
		return p + 1 // the next event's prev no longer matches
	}
	return 0
}

// replaced returns a copy of raws with the body at position p replaced.
func replaced(raws [][]byte, p int, raw []byte) [][]byte {
	out := slices.Clone(raws)
	out[p-1] = raw
	return out
}

func mustDecode(tb testing.TB, raw []byte) *ledger.Envelope {
	tb.Helper()
	e, err := ledger.Decode(raw)
	require.NoError(tb, err)
	return e
}

// rebuild serialises e the way Seal does: canonical bytes, then hash, keyId
// and sig. The hash is recomputed; keyId and sig are kept from e.
func rebuild(tb testing.TB, e *ledger.Envelope) []byte {
	tb.Helper()
	canon, err := ledger.Canonical(e)
	require.NoError(tb, err)
	e.Hash = ledger.HashBytes(canon)
	out := bytes.Clone(canon[:len(canon)-1])
	out = fmt.Appendf(out, `,"hash":%q,"keyId":%q,"sig":%q}`, e.Hash, e.KeyID, e.Sig)
	return out
}

// editField changes one hashed field (not seq, prev or v).
func editField(e *ledger.Envelope, r *rand.Rand) string {
	switch r.IntN(7) {
	case 0:
		e.Actor = "mallory"
		return "actor"
	case 1:
		e.Data = json.RawMessage(`{"note":"forged","amount":1000000}`)
		return "data"
	case 2:
		e.Type = "approval.granted.forged"
		return "type"
	case 3:
		e.Org = "evil-corp"
		return "org"
	case 4:
		e.Time = "2099-01-01T00:00:00.000000000Z"
		return "time"
	case 5:
		e.ID = "ffffffff-ffff-4fff-8fff-ffffffffffff"
		return "id"
	default:
		e.AggregateID = "someone-else"
		return "aggregateId"
	}
}

func replaceLast(tb testing.TB, raw []byte, old, repl string) []byte {
	tb.Helper()
	i := bytes.LastIndex(raw, []byte(old))
	require.GreaterOrEqual(tb, i, 0, "%q not in %s", old, raw)
	out := bytes.Clone(raw[:i])
	out = append(out, repl...)
	return append(out, raw[i+len(old):]...)
}

func otherTrusted(keyID string) string {
	if keyID == keyA.KeyID() {
		return keyB.KeyID()
	}
	return keyA.KeyID()
}

func forge(tb testing.TB, c *chain, p int, claimKey string) []byte {
	tb.Helper()
	e := c.envs[p-1]
	e.Actor = "mallory"
	d, err := ledger.NewDraft(e, "forged")
	require.NoError(tb, err)
	raw := keyC.Seal(d, uint64(p), c.hashes[p-1]).Raw
	if claimKey != "" {
		raw = replaceLast(tb, raw, `"keyId":"`+keyC.KeyID()+`"`, `"keyId":"`+claimKey+`"`)
	}
	return raw
}

var mutations = []mutation{
	{
		name: "flip a byte of the data payload",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			raw := bytes.Clone(c.raws[p-1])
			i := bytes.Index(raw, []byte(marker))
			require.GreaterOrEqual(tb, i, 0)
			raw[i+r.IntN(len(marker))] ^= 0x01
			return replaced(c.raws, p, raw), p
		},
	},
	{
		name: "edit a field and re-serialise without re-hashing",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			e := mustDecode(tb, c.raws[p-1])
			editField(e, r)
			raw, err := json.Marshal(e)
			require.NoError(tb, err)
			return replaced(c.raws, p, raw), p
		},
	},
	{
		name: "edit a field and recompute the hash",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			e := mustDecode(tb, c.raws[p-1])
			editField(e, r)
			raw := rebuild(tb, e)
			require.NotEqual(tb, c.hashes[p], e.Hash)
			return replaced(c.raws, p, raw), p
		},
		noSig: nextOrNever,
	},
	{
		name: "flip a byte of the hash",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			raw := bytes.Clone(c.raws[p-1])
			j := bytes.LastIndex(raw, []byte(`,"hash":"`)) + len(`,"hash":"`) + r.IntN(64)
			if raw[j] == '0' {
				raw[j] = '1'
			} else {
				raw[j] = '0'
			}
			return replaced(c.raws, p, raw), p
		},
	},
	{
		name: "flip a byte of the signature",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			raw := bytes.Clone(c.raws[p-1])
			// The first 85 of the 88 base64 characters carry 6 signature
			// bits each; the 86th also carries padding bits.
			j := bytes.LastIndex(raw, []byte(`"sig":"`)) + len(`"sig":"`) + r.IntN(85)
			if raw[j] == 'A' {
				raw[j] = 'B'
			} else {
				raw[j] = 'A'
			}
			return replaced(c.raws, p, raw), p
		},
		noSig: neverNoSig,
	},
	{
		name: "swap keyId to another trusted key",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, _ *rand.Rand) ([][]byte, int) {
			tb.Helper()
			e := mustDecode(tb, c.raws[p-1])
			raw := replaceLast(tb, c.raws[p-1], `"keyId":"`+e.KeyID+`"`, `"keyId":"`+otherTrusted(e.KeyID)+`"`)
			return replaced(c.raws, p, raw), p
		},
		noSig: neverNoSig,
	},
	{
		name: "reorder two adjacent events",
		ok:   notLastPos,
		apply: func(_ testing.TB, c *chain, p int, _ *rand.Rand) ([][]byte, int) {
			out := slices.Clone(c.raws)
			out[p-1], out[p] = out[p], out[p-1]
			return out, p
		},
	},
	{
		name: "delete an event",
		ok:   notLastPos, // deleting the last event is truncation: see TestVerifyTruncation
		apply: func(_ testing.TB, c *chain, p int, _ *rand.Rand) ([][]byte, int) {
			return slices.Delete(slices.Clone(c.raws), p-1, p), p
		},
	},
	{
		name: "insert a forged event signed by an untrusted key",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, _ *rand.Rand) ([][]byte, int) {
			tb.Helper()
			return slices.Insert(slices.Clone(c.raws), p-1, forge(tb, c, p, "")), p
		},
		noSig: func(p, _ int) int { return p + 1 }, // the displaced original no longer links
	},
	{
		name: "insert a forged event claiming a trusted keyId",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, _ *rand.Rand) ([][]byte, int) {
			tb.Helper()
			return slices.Insert(slices.Clone(c.raws), p-1, forge(tb, c, p, keyA.KeyID())), p
		},
		noSig: func(p, _ int) int { return p + 1 },
	},
	{
		name: "duplicate an event",
		ok:   anyPos,
		apply: func(_ testing.TB, c *chain, p int, _ *rand.Rand) ([][]byte, int) {
			return slices.Insert(slices.Clone(c.raws), p, c.raws[p-1]), p + 1
		},
		noSig: func(p, _ int) int { return p + 1 },
	},
	{
		name: "change the seq field",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			other := []int{p + 1, p - 1, p + 1000}[r.IntN(3)]
			raw := replaceLast(tb, c.raws[p-1], fmt.Sprintf(`,"seq":%d,"time":`, p), fmt.Sprintf(`,"seq":%d,"time":`, other))
			return replaced(c.raws, p, raw), p
		},
	},
	{
		// A fork (e.g. two writers): validly signed by a trusted key at
		// the right seq, but chained to another event. Only prev catches it.
		name: "trusted event with the right seq but another prev",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			prev := fmt.Sprintf("%064x", r.Uint64())
			if p >= 2 && r.IntN(2) == 0 {
				prev = c.hashes[p-2]
			}
			d, err := ledger.NewDraft(c.envs[p-1], "fork")
			require.NoError(tb, err)
			return replaced(c.raws, p, keyA.Seal(d, uint64(p), prev).Raw), p
		},
	},
	{
		// Validly signed and linked, but sealed for another position.
		// Only the seq/position check catches it.
		name: "trusted event with the right prev but another seq",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			tb.Helper()
			d, err := ledger.NewDraft(c.envs[p-1], "misplaced")
			require.NoError(tb, err)
			seq := []int{p + 1, p - 1, p + 1000}[r.IntN(3)]
			return replaced(c.raws, p, keyB.Seal(d, uint64(seq), c.hashes[p-1]).Raw), p
		},
	},
	{
		name: "change the version",
		ok:   anyPos,
		apply: func(tb testing.TB, c *chain, p int, _ *rand.Rand) ([][]byte, int) {
			tb.Helper()
			raw := replaceLast(tb, c.raws[p-1], `,"v":1,"hash":"`, `,"v":2,"hash":"`)
			return replaced(c.raws, p, raw), p
		},
	},
	{
		name: "truncate a stored body",
		ok:   anyPos,
		apply: func(_ testing.TB, c *chain, p int, r *rand.Rand) ([][]byte, int) {
			raw := c.raws[p-1]
			return replaced(c.raws, p, bytes.Clone(raw[:r.IntN(len(raw))])), p
		},
	},
}

func mutationNamed(tb testing.TB, name string) mutation {
	tb.Helper()
	for _, m := range mutations {
		if m.name == name {
			return m
		}
	}
	require.FailNow(tb, "no mutation "+name)
	return mutation{}
}

// checkMutation verifies mutated bodies (positions lo.. of the mutated chain,
// starting from the original chain's state before lo) and requires that the
// first bad event is reported at want.
func checkMutation(tb testing.TB, c *chain, mut [][]byte, lo, want int, mode posMode, workers int) error {
	tb.Helper()
	items := itemsOf(mut[lo-1:], mode, uint64(lo))
	start := ledger.ChainState{NextSeq: uint64(lo), PrevHash: c.hashes[lo-1]}
	rep, err := ledger.Verify(context.Background(), ledger.SliceSource(items), ledger.VerifyOptions{Keys: trustedKeys(tb), Start: start, Workers: workers})
	switch {
	case err != nil:
		return err
	case rep.Valid || rep.Broken == nil:
		return fmt.Errorf("not detected (report %+v)", rep)
	case !errors.Is(rep.Broken, ledger.ErrTampered):
		return fmt.Errorf("broken error does not wrap ErrTampered: %w", rep.Broken)
	case rep.Broken.Seq != uint64(want):
		return fmt.Errorf("detected at %d, want %d: %s", rep.Broken.Seq, want, rep.Broken.Reason)
	case rep.Checked != uint64(want-lo):
		return fmt.Errorf("checked %d events before the break, want %d", rep.Checked, want-lo)
	case want > lo && (rep.LastSeq != uint64(want-1) || rep.HeadHash != c.hashes[want-1]):
		return fmt.Errorf("report head %d/%s, want %d/%s", rep.LastSeq, rep.HeadHash, want-1, c.hashes[want-1])
	case rep.Broken.ID != decodedID(mut[want-1]):
		return fmt.Errorf("broken id %q, want %q", rep.Broken.ID, decodedID(mut[want-1]))
	case rep.Broken.Reason == "":
		return errors.New("empty reason")
	}
	return nil
}

// ---------------------------------------------------------------------------
// Verify on intact chains
// ---------------------------------------------------------------------------

func TestVerifyGoodChains(t *testing.T) {
	t.Parallel()
	r := newRand(1)
	kr := trustedKeys(t)
	const chains = 200
	for i := range chains {
		// Mostly short chains keep this fast under -race; a few long ones
		// (and exactly 1 and 300) cover the extremes.
		n := 1 + r.IntN(16)
		switch {
		case i == 0:
			n = 1
		case i == 1:
			n = 300
		case i%40 == 2:
			n = 1 + r.IntN(300)
		}
		var signerFor func(int) *ledger.Signer
		rotation := []string{"A only", "B only", "alternating A/B", "rotation A→B"}[i%4]
		switch rotation {
		case "A only":
			signerFor = onlyKey(keyA)
		case "B only":
			signerFor = onlyKey(keyB)
		case "alternating A/B":
			signerFor = func(seq int) *ledger.Signer { return []*ledger.Signer{keyA, keyB}[seq%2] }
		default:
			cut := 1 + r.IntN(n)
			signerFor = func(seq int) *ledger.Signer {
				if seq < cut {
					return keyA
				}
				return keyB
			}
		}
		c := sealChain(t, n, signerFor, randomEvent(r))
		mode := posMode(i % 2)
		workers := []int{0, 1, 3}[i%3]
		msg := fmt.Sprintf("chain %d (n=%d, %s, %s, workers=%d, seed=%d)", i, n, rotation, mode, workers, *randSeed)

		rep := verify(t, itemsOf(c.raws, mode, 1), ledger.VerifyOptions{Keys: kr, Workers: workers})
		if !rep.Valid {
			require.FailNow(t, "false alarm", "%s: %v\n%s", msg, rep.Broken, c.raws[rep.Broken.Seq-1])
		}
		requireValid(t, rep, c, 1, n)

		// Verifying a suffix from the state before it also holds.
		if k := r.IntN(n); k > 0 && i%4 == 0 {
			start := ledger.ChainState{NextSeq: uint64(k + 1), PrevHash: c.hashes[k]}
			rep := verify(t, itemsOf(c.raws[k:], mode, uint64(k+1)), ledger.VerifyOptions{Keys: kr, Start: start, Workers: workers})
			requireValid(t, rep, c, k+1, n)
		}

		// Projectors' link check agrees.
		st := ledger.Genesis()
		for _, it := range itemsOf(c.raws, mode, 1) {
			_, err := ledger.CheckLink(&st, it)
			require.NoError(t, err, msg)
		}
		require.Equal(t, ledger.ChainState{NextSeq: uint64(n + 1), PrevHash: c.hashes[n]}, st, msg)
	}
}

func TestVerifyEmptySource(t *testing.T) {
	t.Parallel()
	rep := verify(t, nil, ledger.VerifyOptions{Keys: trustedKeys(t)})
	assert.True(t, rep.Valid)
	assert.Zero(t, rep.Checked)
	assert.Nil(t, rep.Broken)
	assert.Empty(t, rep.HeadHash)
}

func TestVerifyNeedsKeyring(t *testing.T) {
	t.Parallel()
	c := sealChain(t, 1, onlyKey(keyA), simpleEvent(newRand(2)))
	_, err := ledger.Verify(context.Background(), ledger.SliceSource(itemsOf(c.raws, posStream, 1)), ledger.VerifyOptions{})
	require.Error(t, err)
}

func TestVerifySourceError(t *testing.T) {
	t.Parallel()
	c := sealChain(t, 5, onlyKey(keyA), simpleEvent(newRand(3)))
	boom := errors.New("disk on fire")
	next := ledger.SliceSource(itemsOf(c.raws[:3], posStream, 1))
	src := func(ctx context.Context) (ledger.Item, error) {
		it, err := next(ctx)
		if errors.Is(err, io.EOF) {
			return ledger.Item{}, boom
		}
		return it, err
	}
	rep, err := ledger.Verify(context.Background(), src, ledger.VerifyOptions{Keys: trustedKeys(t)})
	require.ErrorIs(t, err, boom)
	assert.False(t, rep.Valid)
	assert.Equal(t, uint64(3), rep.Checked, "events read before the failure are still checked")
}

func TestVerifyUnknownKey(t *testing.T) {
	t.Parallel()
	onlyB, err := ledger.NewKeyring(keyB.Public())
	require.NoError(t, err)
	empty, err := ledger.NewKeyring()
	require.NoError(t, err)

	c := sealChain(t, 3, onlyKey(keyA), simpleEvent(newRand(4)))
	for name, kr := range map[string]*ledger.Keyring{"other key": onlyB, "empty keyring": empty} {
		rep := verify(t, itemsOf(c.raws, posStream, 1), ledger.VerifyOptions{Keys: kr})
		require.False(t, rep.Valid, name)
		require.Equal(t, uint64(1), rep.Broken.Seq, name)
		require.Contains(t, rep.Broken.Reason, "unknown signing key", name)
	}

	// A chain that rotates to an untrusted key breaks exactly there.
	rot := sealChain(t, 10, func(seq int) *ledger.Signer {
		if seq < 7 {
			return keyA
		}
		return keyC
	}, simpleEvent(newRand(5)))
	rep := verify(t, itemsOf(rot.raws, posUnknown, 1), ledger.VerifyOptions{Keys: trustedKeys(t)})
	require.False(t, rep.Valid)
	require.Equal(t, uint64(7), rep.Broken.Seq)
	require.Contains(t, rep.Broken.Reason, keyC.KeyID())
	require.Equal(t, uint64(6), rep.Checked)
}

// TestVerifyTruncation documents that dropping events from the end is not a
// chain break: only comparing HeadHash/LastSeq with a known head reveals it.
func TestVerifyTruncation(t *testing.T) {
	t.Parallel()
	c := sealChain(t, 6, alternateAB, simpleEvent(newRand(6)))
	rep := verify(t, itemsOf(c.raws[:5], posStream, 1), ledger.VerifyOptions{Keys: trustedKeys(t)})
	requireValid(t, rep, c, 1, 5)
	assert.NotEqual(t, c.hashes[6], rep.HeadHash)
}

// ---------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------

var tamperChain = sync.OnceValue(func() *chain {
	return sealChain(panicTB{}, 24, alternateAB, simpleEvent(newRand(7)))
})

// panicTB lets fixtures shared between tests fail loudly.
type panicTB struct{}

func (panicTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicTB) FailNow()                          { panic("fixture failed") }

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	c := tamperChain()
	n := c.n()
	for mi, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range []int{1, n / 2, n - 1, n} {
				if !m.ok(p, n) {
					continue
				}
				for _, mode := range []posMode{posStream, posUnknown} {
					r := newRand(uint64(100*mi + p))
					mut, want := m.apply(t, c, p, r)
					workers := []int{0, 1}[p%2]
					err := checkMutation(t, c, mut, 1, want, mode, workers)
					require.NoError(t, err, "mutation at %d, %s, workers=%d", p, mode, workers)
				}
			}
		})
	}
}

// TestVerifyRandomMutations makes K random single mutations (random class,
// random position, mostly interior) of a 2,000-event chain and requires every
// one to be found at its exact position.
//
// Verify is sequential in its verdict: events before the mutation are the
// original, intact ones, so starting Verify from the chain state just before
// the mutation gives the same verdict as verifying from genesis. Most
// mutations are therefore checked over a small window, which keeps the test
// fast; a few near chunk boundaries are checked over the whole chain.
func TestVerifyRandomMutations(t *testing.T) {
	t.Parallel()
	c := bigChain()
	n := c.n()
	r := newRand(8)
	const k = 1000
	var failures []string
	for i := range k {
		m := mutations[r.IntN(len(mutations))]
		p := 1 + r.IntN(n)
		for !m.ok(p, n) {
			p = 1 + r.IntN(n)
		}
		mode := posMode(r.IntN(2))
		mut, want := m.apply(t, c, p, r)
		lo := max(1, want-1)
		if hi := want + 1; hi < len(mut) {
			mut = mut[:hi]
		}
		if err := checkMutation(t, c, mut, lo, want, mode, 1); err != nil {
			failures = append(failures, fmt.Sprintf("#%d %s at %d (%s): %v", i, m.name, p, mode, err))
		}
	}
	require.Empty(t, failures, "%d of %d mutations missed or misplaced (seed %d)", len(failures), k, *randSeed)

	// Whole-chain runs around Verify's 512-event chunks.
	for _, p := range []int{511, 512, 513, n} {
		for _, name := range []string{"flip a byte of the data payload", "flip a byte of the signature", "reorder two adjacent events"} {
			m := mutationNamed(t, name)
			q := p
			if !m.ok(q, n) {
				q--
			}
			mut, want := m.apply(t, c, q, r)
			require.NoError(t, checkMutation(t, c, mut, 1, want, posMode(q%2), 0), "%s at %d", m.name, q)
		}
	}
}

var bigChain = sync.OnceValue(func() *chain {
	return sealChain(panicTB{}, 2000, alternateAB, simpleEvent(newRand(9)))
})

func TestVerifyLongChainProgress(t *testing.T) {
	t.Parallel()
	c := bigChain()
	var progress []uint64
	rep := verify(t, itemsOf(c.raws, posStream, 1), ledger.VerifyOptions{
		Keys:     trustedKeys(t),
		Progress: func(done uint64) { progress = append(progress, done) },
	})
	requireValid(t, rep, c, 1, c.n())
	assert.Equal(t, []uint64{512, 1024, 1536, 2000}, progress)
}

// TestVerifyStreamGap deletes an event from a stream, where the following
// events keep their stream positions.
func TestVerifyStreamGap(t *testing.T) {
	t.Parallel()
	c := tamperChain()
	for _, p := range []int{1, 12, 23} {
		items := itemsOf(c.raws, posStream, 1)
		items = slices.Delete(items, p-1, p)
		rep := verify(t, items, ledger.VerifyOptions{Keys: trustedKeys(t)})
		require.False(t, rep.Valid, "deleted %d", p)
		require.Equal(t, uint64(p-1), rep.Checked)
		require.Contains(t, rep.Broken.Reason, fmt.Sprintf("expected sequence %d next", p))
		// The first bad position is the missing one.
		require.Equal(t, uint64(p), rep.Broken.Seq)
	}
}

// TestVerifyRejectsMembersAfterSignature appends members after the signature.
// encoding/json keeps the last of duplicate (and case-insensitively equal)
// keys, so the decoded envelope, the one projectors apply, differs from the
// signed canonical bytes while the fast path of storedHash still matches.
func TestVerifyRejectsMembersAfterSignature(t *testing.T) {
	t.Parallel()
	c := tamperChain()
	for _, extra := range []string{
		`,"actor":"mallory"`,
		`,"ACTOR":"mallory"`,
		`,"data":{"note":"forged","amount":1000000}`,
		`,"id":"ffffffff-ffff-4fff-8fff-ffffffffffff"`,
	} {
		for _, p := range []int{1, 12, 24} {
			raw := c.raws[p-1]
			forged := append(bytes.Clone(raw[:len(raw)-1]), extra+"}"...)
			err := checkMutation(t, c, replaced(c.raws, p, forged), 1, p, posStream, 0)
			require.NoError(t, err, "%s at %d", extra, p)
		}
	}
}

// ---------------------------------------------------------------------------
// CheckLink
// ---------------------------------------------------------------------------

func TestCheckLinkGoodChain(t *testing.T) {
	t.Parallel()
	c := tamperChain()
	for _, mode := range []posMode{posStream, posUnknown} {
		st := ledger.Genesis()
		require.Equal(t, ledger.ChainState{NextSeq: 1, PrevHash: ledger.ZeroHash}, st)
		for i, it := range itemsOf(c.raws, mode, 1) {
			seq := i + 1
			e, err := ledger.CheckLink(&st, it)
			require.NoError(t, err, "%s seq %d", mode, seq)
			require.Equal(t, ledger.ChainState{NextSeq: uint64(seq + 1), PrevHash: c.hashes[seq]}, st)
			require.Equal(t, uint64(seq), e.Seq)
			require.Equal(t, c.hashes[seq-1], e.Prev)
			require.Equal(t, c.hashes[seq], e.Hash)
			require.Equal(t, c.envs[i].ID, e.ID)
			require.Equal(t, c.envs[i].Actor, e.Actor)
			require.JSONEq(t, string(c.envs[i].Data), string(e.Data))
		}
	}

	// Starting mid-chain from a known state.
	st := ledger.ChainState{NextSeq: 10, PrevHash: c.hashes[9]}
	_, err := ledger.CheckLink(&st, ledger.Item{Pos: 10, Raw: c.raws[9]})
	require.NoError(t, err)
	require.Equal(t, ledger.ChainState{NextSeq: 11, PrevHash: c.hashes[10]}, st)
}

func TestCheckLinkBroken(t *testing.T) {
	t.Parallel()
	c := tamperChain()
	n := c.n()
	for mi, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range []int{1, n / 2, n - 1, n} {
				if !m.ok(p, n) {
					continue
				}
				for _, mode := range []posMode{posStream, posUnknown} {
					mut, want := m.apply(t, c, p, newRand(uint64(100*mi+p)))
					if m.noSig != nil {
						want = m.noSig(p, n)
					}
					st := ledger.Genesis()
					var (
						gotErr error
						at     int
					)
					for i, it := range itemsOf(mut, mode, 1) {
						before := st
						e, err := ledger.CheckLink(&st, it)
						if err != nil {
							gotErr, at = err, i+1
							require.Equal(t, before, st, "a failed check must not advance the state")
							if id := decodedID(it.Raw); id != "" {
								require.NotNil(t, e)
								require.Equal(t, id, e.ID)
							}
							break
						}
					}
					msg := fmt.Sprintf("mutation at %d, %s", p, mode)
					if want == 0 {
						require.NoError(t, gotErr, msg+": CheckLink does not check signatures")
						continue
					}
					var be *ledger.BrokenError
					require.ErrorAs(t, gotErr, &be, msg)
					require.ErrorIs(t, gotErr, ledger.ErrTampered, msg)
					require.Equal(t, uint64(want), be.Seq, "%s: %s", msg, be.Reason)
					require.Equal(t, want, at, msg)
				}
			}
		})
	}
}

func TestCheckLinkMalformed(t *testing.T) {
	t.Parallel()
	st := ledger.Genesis()
	e, err := ledger.CheckLink(&st, ledger.Item{Pos: 0, Raw: []byte("not json")})
	require.Nil(t, e)
	var be *ledger.BrokenError
	require.ErrorAs(t, err, &be)
	require.ErrorIs(t, err, ledger.ErrTampered)
	require.Equal(t, uint64(1), be.Seq)
	require.Equal(t, ledger.Genesis(), st)
}

// ---------------------------------------------------------------------------
// Faithful re-serialised copies
// ---------------------------------------------------------------------------

// asciiOnly escapes every non-ASCII character as \uXXXX (a surrogate pair
// above the BMP); outside strings JSON has only ASCII, so this is faithful.
func asciiOnly(in []byte) []byte {
	var out bytes.Buffer
	for _, c := range string(in) {
		if c < 0x80 {
			out.WriteRune(c)
			continue
		}
		for _, u := range utf16.Encode([]rune{c}) {
			fmt.Fprintf(&out, `\u%04X`, u)
		}
	}
	return out.Bytes()
}

type reserialiser func(tb testing.TB, raw []byte) []byte

var reserialisers = map[string]reserialiser{
	"map + MarshalIndent": func(tb testing.TB, raw []byte) []byte {
		tb.Helper()
		var m map[string]any
		require.NoError(tb, json.Unmarshal(raw, &m))
		out, err := json.MarshalIndent(m, "", "  ")
		require.NoError(tb, err)
		return out
	},
	"map + Marshal (sorted keys, HTML escaped)": func(tb testing.TB, raw []byte) []byte {
		tb.Helper()
		var m map[string]any
		require.NoError(tb, json.Unmarshal(raw, &m))
		out, err := json.Marshal(m)
		require.NoError(tb, err)
		return out
	},
	"struct Marshal": func(tb testing.TB, raw []byte) []byte {
		tb.Helper()
		out, err := json.Marshal(mustDecode(tb, raw))
		require.NoError(tb, err)
		return out
	},
	"reverse key order, spaces, \\u escapes": func(tb testing.TB, raw []byte) []byte {
		tb.Helper()
		var m map[string]json.RawMessage
		require.NoError(tb, json.Unmarshal(raw, &m))
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(keys)))
		var b bytes.Buffer
		b.WriteString("{\n")
		for i, k := range keys {
			var v any
			require.NoError(tb, json.Unmarshal(m[k], &v))
			val, err := json.MarshalIndent(v, "\t", "\t")
			require.NoError(tb, err)
			if i > 0 {
				b.WriteString(" ,\n")
			}
			fmt.Fprintf(&b, "\t%q :  %s", k, val)
		}
		b.WriteString("\r\n}\n")
		return asciiOnly(b.Bytes())
	},
}

func TestVerifyReserialisedCopies(t *testing.T) {
	t.Parallel()
	chains := map[string]*chain{
		"golden":        goldenChain(t),
		"random events": sealChain(t, 40, alternateAB, randomEvent(newRand(10))),
	}
	kr := trustedKeys(t)
	require.NoError(t, kr.Add(goldenSigner().Public()))
	for cname, c := range chains {
		for name, re := range reserialisers {
			t.Run(cname+"/"+name, func(t *testing.T) {
				t.Parallel()
				copied := make([][]byte, c.n())
				for i, raw := range c.raws {
					copied[i] = re(t, raw)
					require.NotEqual(t, raw, copied[i], "the copy must differ to exercise the fallback")
					e := mustDecode(t, copied[i])
					canon, err := ledger.Canonical(e)
					require.NoError(t, err)
					require.Equal(t, c.hashes[i+1], ledger.HashBytes(canon), "seq %d: %s", i+1, copied[i])
				}
				for _, mode := range []posMode{posStream, posUnknown} {
					rep := verify(t, itemsOf(copied, mode, 1), ledger.VerifyOptions{Keys: kr})
					requireValid(t, rep, c, 1, c.n())
				}
				// An edit to the copy is still caught.
				e := mustDecode(t, copied[0])
				e.Actor += "!"
				forged, err := json.Marshal(e)
				require.NoError(t, err)
				rep := verify(t, itemsOf(replaced(copied, 1, forged), posStream, 1), ledger.VerifyOptions{Keys: kr})
				require.False(t, rep.Valid)
				require.Equal(t, uint64(1), rep.Broken.Seq)
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Decode, Canonical, drafts
// ---------------------------------------------------------------------------

func TestDecode(t *testing.T) {
	t.Parallel()
	good := tamperChain().raws[0]
	e, err := ledger.Decode(good)
	require.NoError(t, err)
	require.Equal(t, ledger.Version, e.V)

	unsupported := map[string][]byte{
		"v 2":          bytes.Replace(good, []byte(`,"v":1,`), []byte(`,"v":2,`), 1),
		"v 0":          bytes.Replace(good, []byte(`,"v":1,`), []byte(`,"v":0,`), 1),
		"v -1":         bytes.Replace(good, []byte(`,"v":1,`), []byte(`,"v":-1,`), 1),
		"v missing":    []byte(`{"seq":1,"id":"x"}`),
		"empty object": []byte(`{}`),
		"null":         []byte(`null`),
	}
	for name, raw := range unsupported {
		e, err := ledger.Decode(raw)
		require.ErrorIs(t, err, ledger.ErrUnsupportedVersion, name)
		require.NotErrorIs(t, err, ledger.ErrMalformed, name)
		require.NotNil(t, e, name)
	}

	malformed := map[string][]byte{
		"empty":            nil,
		"not json":         []byte("hello"),
		"truncated":        good[:len(good)/2],
		"array":            []byte(`[1,2]`),
		"string":           []byte(`"v"`),
		"seq is a string":  []byte(`{"v":1,"seq":"1"}`),
		"seq negative":     []byte(`{"v":1,"seq":-1}`),
		"v is a string":    []byte(`{"v":"1"}`),
		"v is fractional":  []byte(`{"v":1.5}`),
		"trailing garbage": append(bytes.Clone(good), " x"...),
		"two objects":      append(bytes.Clone(good), good...),
	}
	for name, raw := range malformed {
		e, err := ledger.Decode(raw)
		require.ErrorIs(t, err, ledger.ErrMalformed, name)
		require.NotErrorIs(t, err, ledger.ErrUnsupportedVersion, name)
		require.Nil(t, e, name)
	}
}

func TestNewDraftRejectsBadData(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{
		"invalid json":    `{"a":`,
		"duplicate key":   `{"a":1,"a":2}`,
		"lone surrogate":  `{"a":"\ud800"}`,
		"not json at all": `hello`,
	} {
		_, err := ledger.NewDraft(ledger.Envelope{ID: "x", Data: json.RawMessage(data)}, "s")
		require.ErrorIs(t, err, ledger.ErrMalformed, name)
	}
}

func TestNewDraftIgnoresSeqPrevAndVersion(t *testing.T) {
	t.Parallel()
	e := simpleEvent(newRand(11))(1)
	d1, err := ledger.NewDraft(e, "subject.one")
	require.NoError(t, err)
	assert.Equal(t, e.ID, d1.ID)
	assert.Equal(t, "subject.one", d1.Subject)
	assert.Positive(t, d1.Size())

	e.Seq, e.Prev, e.V, e.Hash, e.Sig, e.KeyID = 99, "bogus", 7, "h", "s", "k"
	d2, err := ledger.NewDraft(e, "subject.two")
	require.NoError(t, err)
	s1 := keyA.Seal(d1, 5, ledger.ZeroHash)
	s2 := keyA.Seal(d2, 5, ledger.ZeroHash)
	require.Equal(t, s1, s2)
	require.Equal(t, s1.Raw, keyA.Seal(d1, 5, ledger.ZeroHash).Raw, "sealing is deterministic")
}

// TestSealMatchesCanonical checks the spliced canonical form against
// Canonical for random content, including data that contains the text of
// the seq/prev slot, at small and huge sequence numbers.
func TestSealMatchesCanonical(t *testing.T) {
	t.Parallel()
	r := newRand(12)
	gen := randomEvent(r)
	for i := range 200 {
		e := gen(i)
		if i%5 == 0 {
			e.Data = json.RawMessage(`{"z":{"a":1,"prev":"","seq":0,"time":"x"},"a":",\"prev\":\"\",\"seq\":0,\"time\":"}`)
		}
		d, err := ledger.NewDraft(e, "s")
		require.NoError(t, err)
		// Up to 2^53: beyond it Canonical (RFC 8785 numbers are doubles)
		// and Seal disagree, see the report.
		seq := []uint64{1, 9, 10, uint64(r.IntN(1e9)), 1 << 53}[i%5]
		prev := fmt.Sprintf("%064x", r.Uint64())
		s := keyB.Seal(d, seq, prev)

		got := mustDecode(t, s.Raw)
		require.Equal(t, seq, got.Seq)
		require.Equal(t, prev, got.Prev)
		require.Equal(t, keyB.KeyID(), got.KeyID)
		require.Equal(t, s.Hash, got.Hash)

		want := e
		want.V, want.Seq, want.Prev = ledger.Version, seq, prev
		canon, err := ledger.Canonical(&want)
		require.NoError(t, err)
		require.Equal(t, string(canon[:len(canon)-1])+`,"hash":"`, string(s.Raw[:len(canon)-1+len(`,"hash":"`)]))
		require.Equal(t, ledger.HashBytes(canon), s.Hash)
		sum := sha256.Sum256(canon)
		require.Equal(t, hex.EncodeToString(sum[:]), s.Hash)

		sig, err := base64.StdEncoding.DecodeString(got.Sig)
		require.NoError(t, err)
		pub, err := base64.StdEncoding.DecodeString(keyB.Public().PublicKey)
		require.NoError(t, err)
		require.True(t, ed25519.Verify(pub, sum[:], sig), "the signature covers the 32-byte digest")
	}
}

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	got, err := ledger.CanonicalJSON(map[string]any{
		"b": []any{1.0, "<&>", nil}, "a": map[string]any{"y": 1e21, "x": 0.1}, "é": "\u2028",
	})
	require.NoError(t, err)
	//nolint:testifylint // the exact bytes matter, not JSON equivalence
	assert.Equal(t, "{\"a\":{\"x\":0.1,\"y\":1e+21},\"b\":[1,\"<&>\",null],\"é\":\"\u2028\"}", string(got))

	_, err = ledger.CanonicalJSON(math.Inf(1))
	require.ErrorIs(t, err, ledger.ErrMalformed)
}

func TestCanonicalNilDataIsNull(t *testing.T) {
	t.Parallel()
	canon, err := ledger.Canonical(&ledger.Envelope{V: 1})
	require.NoError(t, err)
	//nolint:testifylint // the exact bytes matter, not JSON equivalence
	assert.Equal(t, `{"actor":"","aggregate":"","aggregateId":"","data":null,"id":"","org":"","prev":"","seq":0,"time":"","type":"","v":1}`, string(canon))
}

func TestTimes(t *testing.T) {
	t.Parallel()
	local := time.Date(2025, 6, 30, 23, 59, 59, 123000000, time.FixedZone("CEST", 2*3600))
	s := ledger.FormatTime(local)
	assert.Equal(t, "2025-06-30T21:59:59.123000000Z", s)
	e := ledger.Envelope{Time: s}
	assert.True(t, local.Equal(e.OccurredAt()))
	assert.True(t, (&ledger.Envelope{Time: "yesterday"}).OccurredAt().IsZero())
	// Fixed width keeps string order equal to time order.
	assert.Less(t, ledger.FormatTime(time.Unix(1, 0)), ledger.FormatTime(time.Unix(1, 1)))
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

var keyIDPattern = regexp.MustCompile(`^ed25519:[0-9a-f]{16}$`)

func TestSignerKeyID(t *testing.T) {
	t.Parallel()
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xA1}, 32)).Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	assert.Equal(t, "ed25519:"+hex.EncodeToString(sum[:8]), keyA.KeyID())
	assert.Equal(t, keyA.KeyID(), ledger.KeyID(pub))
	assert.Regexp(t, keyIDPattern, keyA.KeyID())
	pk := keyA.Public()
	assert.Equal(t, ledger.PublicKey{KeyID: keyA.KeyID(), Algorithm: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(pub), CreatedAt: keyCreated}, pk)
	assert.NotEqual(t, keyA.KeyID(), keyB.KeyID())
}

func TestLoadOrCreateSigner(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "dir", "signing.key")

	s1, created, err := ledger.LoadOrCreateSigner(path)
	require.NoError(t, err)
	require.True(t, created)
	assert.Regexp(t, keyIDPattern, s1.KeyID())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = os.Stat(path + ".tmp")
	require.ErrorIs(t, err, os.ErrNotExist, "no temporary file left behind")

	var kf struct {
		KeyID, Algorithm, Seed string
	}
	content, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(content, &kf))
	assert.Equal(t, s1.KeyID(), kf.KeyID)
	assert.Equal(t, "ed25519", kf.Algorithm)
	seed, err := base64.StdEncoding.DecodeString(kf.Seed)
	require.NoError(t, err)
	require.Len(t, seed, ed25519.SeedSize)
	assert.Equal(t, s1.KeyID(), ledger.KeyID(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)))

	s2, created, err := ledger.LoadOrCreateSigner(path)
	require.NoError(t, err)
	require.False(t, created)
	assert.Equal(t, s1.KeyID(), s2.KeyID())
	p1, p2 := s1.Public(), s2.Public()
	assert.True(t, p1.CreatedAt.Equal(p2.CreatedAt), "creation time survives the round trip")
	p1.CreatedAt, p2.CreatedAt = time.Time{}, time.Time{}
	assert.Equal(t, p1, p2)

	// What the reloaded key seals, the original public key verifies.
	kr, err := ledger.NewKeyring(s1.Public())
	require.NoError(t, err)
	c := sealChain(t, 3, func(seq int) *ledger.Signer { return []*ledger.Signer{s1, s2}[seq%2] }, simpleEvent(newRand(13)))
	rep := verify(t, itemsOf(c.raws, posStream, 1), ledger.VerifyOptions{Keys: kr})
	requireValid(t, rep, c, 1, 3)

	// A different file gives a different key.
	s3, created, err := ledger.LoadOrCreateSigner(filepath.Join(t.TempDir(), "other.key"))
	require.NoError(t, err)
	require.True(t, created)
	assert.NotEqual(t, s1.KeyID(), s3.KeyID())
}

func TestLoadOrCreateSignerRejectsBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"not json":   "garbage",
		"short seed": `{"seed":"` + base64.StdEncoding.EncodeToString(make([]byte, 31)) + `"}`,
		"bad base64": `{"seed":"!!!"}`,
		"no seed":    `{}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		s, _, err := ledger.LoadOrCreateSigner(path)
		require.Error(t, err, name)
		require.Nil(t, s, name)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, content, string(got), "%s: a bad key file must not be overwritten", name)
	}

	// A path whose parent is a file cannot be created.
	file := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, _, err := ledger.LoadOrCreateSigner(filepath.Join(file, "signing.key"))
	require.Error(t, err)
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	a, b := keyA.Public(), keyB.Public()
	wrongID := a
	wrongID.KeyID = b.KeyID
	wrongAlg := a
	wrongAlg.Algorithm = "rsa"
	badB64 := a
	badB64.PublicKey = "not base64!"
	short := a
	short.PublicKey = base64.StdEncoding.EncodeToString(make([]byte, 31))

	kr, err := ledger.NewKeyring(b, a)
	require.NoError(t, err)
	keys := kr.Keys()
	require.Len(t, keys, 2)
	assert.Less(t, keys[0].KeyID, keys[1].KeyID, "sorted by id")
	assert.ElementsMatch(t, []ledger.PublicKey{a, b}, keys)

	for name, pk := range map[string]ledger.PublicKey{
		"id of another key": wrongID,
		"wrong algorithm":   wrongAlg,
		"bad base64":        badB64,
		"wrong length":      short,
	} {
		one, addErr := ledger.NewKeyring(a)
		require.NoError(t, addErr)
		require.Error(t, one.Add(pk), name)
		require.Len(t, one.Keys(), 1, "%s: a rejected key is not trusted", name)
		_, addErr = ledger.NewKeyring(a, pk)
		require.Error(t, addErr, name)
	}

	// The id check matters: a key trusted under another key's id would let
	// its holder sign as that key.
	only, err := ledger.NewKeyring(a)
	require.NoError(t, err)
	require.Error(t, only.Add(ledger.PublicKey{KeyID: a.KeyID, Algorithm: "ed25519", PublicKey: keyC.Public().PublicKey}))
	c := sealChain(t, 2, onlyKey(keyA), simpleEvent(newRand(14)))
	requireValid(t, verify(t, itemsOf(c.raws, posStream, 1), ledger.VerifyOptions{Keys: only}), c, 1, 2)
}

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

func kibEvent(seq int) ledger.Envelope {
	e := simpleEvent(newRand(15))(seq)
	e.Data = json.RawMessage(fmt.Sprintf(`{"blob":%q,"seq":%d}`, strings.Repeat("x", 1000), seq))
	return e
}

func BenchmarkSeal(b *testing.B) {
	d, err := ledger.NewDraft(kibEvent(1), "s")
	require.NoError(b, err)
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		keyA.Seal(d, seq, ledger.ZeroHash)
	}
}

func BenchmarkVerify(b *testing.B) {
	const n = 1024
	c := sealChain(b, n, onlyKey(keyA), kibEvent)
	items := itemsOf(c.raws, posStream, 1)
	kr := trustedKeys(b)
	b.ReportAllocs()
	for b.Loop() {
		rep, err := ledger.Verify(context.Background(), ledger.SliceSource(items), ledger.VerifyOptions{Keys: kr})
		if err != nil || !rep.Valid {
			b.Fatal(err, rep.Broken)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

func BenchmarkCheckLink(b *testing.B) {
	c := sealChain(b, 1, onlyKey(keyA), kibEvent)
	it := ledger.Item{Pos: 1, Raw: c.raws[0]}
	b.ReportAllocs()
	for b.Loop() {
		st := ledger.Genesis()
		if _, err := ledger.CheckLink(&st, it); err != nil {
			b.Fatal(err)
		}
	}
}
