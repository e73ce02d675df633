package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/factstore/factstore/ledger"
)

// FuzzDecodeVerify feeds arbitrary bytes, as one item at an arbitrary
// position, to Verify and CheckLink. Neither may panic, and their verdicts
// must be consistent with each other and with what they return.
func FuzzDecodeVerify(f *testing.F) {
	c := sealChain(f, 2, alternateAB, simpleEvent(newRand(16)))
	first := c.raws[0]
	f.Add(first, uint64(0))
	f.Add(first, uint64(1))
	f.Add(first, uint64(2))
	f.Add(c.raws[1], uint64(0))
	f.Add(bytes.Replace(first, []byte(`,"v":1,`), []byte(`,"v":2,`), 1), uint64(1))
	f.Add(first[:len(first)/2], uint64(0))
	f.Add([]byte(`{"v":1,"seq":1,"prev":"`+ledger.ZeroHash+`"}`), uint64(0))
	f.Add([]byte(`{"v":1,"seq":1,"data":{"a":[1,2,{"b":null}]},"hash":"zz"}`), uint64(0))
	f.Add([]byte(`null`), uint64(0))
	f.Add([]byte{}, uint64(0))
	kr := trustedKeys(f)

	f.Fuzz(func(t *testing.T, raw []byte, pos uint64) {
		it := ledger.Item{Pos: pos, Raw: raw}
		rep, err := ledger.Verify(context.Background(), ledger.SliceSource([]ledger.Item{it}), ledger.VerifyOptions{Keys: kr, Workers: 1})
		if err != nil {
			t.Fatalf("Verify returned a source error for an in-memory item: %v", err)
		}
		if rep.Valid == (rep.Broken != nil) {
			t.Fatalf("Valid=%v but Broken=%v", rep.Valid, rep.Broken)
		}
		if !rep.Valid {
			if !errors.Is(rep.Broken, ledger.ErrTampered) {
				t.Fatalf("broken error does not wrap ErrTampered: %v", rep.Broken)
			}
			if rep.Broken.Seq != 1 && rep.Broken.Seq != pos {
				t.Fatalf("broken at %d for an item at %d", rep.Broken.Seq, pos)
			}
			if rep.Checked != 0 {
				t.Fatalf("checked %d", rep.Checked)
			}
		}

		st := ledger.Genesis()
		e, linkErr := ledger.CheckLink(&st, it)
		if linkErr != nil {
			var be *ledger.BrokenError
			if !errors.As(linkErr, &be) || !errors.Is(linkErr, ledger.ErrTampered) {
				t.Fatalf("CheckLink error is not a BrokenError wrapping ErrTampered: %v", linkErr)
			}
			if st != ledger.Genesis() {
				t.Fatalf("failed CheckLink advanced the state to %+v", st)
			}
			if rep.Valid {
				t.Fatalf("Verify accepts what CheckLink rejects: %v", linkErr)
			}
			return
		}
		if e == nil || e.V != ledger.Version || e.Seq != 1 || e.Prev != ledger.ZeroHash {
			t.Fatalf("CheckLink accepted %+v", e)
		}
		if st != (ledger.ChainState{NextSeq: 2, PrevHash: e.Hash}) {
			t.Fatalf("state after CheckLink: %+v", st)
		}
		if !rep.Valid {
			return
		}
		// What was verified is what a consumer decodes: the decoded fields
		// hash to the verified hash.
		canon, err := ledger.Canonical(e)
		if err != nil {
			t.Fatalf("verified envelope does not canonicalise: %v", err)
		}
		if h := ledger.HashBytes(canon); h != rep.HeadHash || h != e.Hash {
			t.Fatalf("verified envelope hashes to %s, report says %s", h, rep.HeadHash)
		}
	})
}
