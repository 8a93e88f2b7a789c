package serve

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestOpenRefusesMalformedContents seals contents Seal never makes, under
// the sealer's own key, so they pass the AEAD and reach the parser: each
// is refused as invalid, never read past its end.
func TestOpenRefusesMalformedContents(t *testing.T) {
	s := memoSealer(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// exp is the expiry followed by more, in a slice of its own.
	exp := func(more ...byte) []byte {
		return append(binary.AppendUvarint(nil, uint64(now.Add(time.Hour).Unix())), more...)
	}
	tests := []struct {
		name     string
		contents []byte
		want     int
		wantErr  error
	}{
		{name: "well formed", contents: exp(1, 'a'), want: 1},
		{name: "nothing at all", contents: nil, want: 0, wantErr: ErrSealInvalid},
		{name: "an expiry past 2^40", contents: binary.AppendUvarint(nil, 1<<41), want: 0, wantErr: ErrSealInvalid},
		{name: "an unterminated expiry", contents: []byte{0xff, 0xff}, want: 0, wantErr: ErrSealInvalid},
		{name: "a field longer than what is left", contents: exp(5, 'a'), want: 1, wantErr: ErrSealInvalid},
		{name: "a field length past 2^63", contents: exp(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), want: 1, wantErr: ErrSealInvalid},
		{name: "an unterminated field length", contents: exp(0x80), want: 1, wantErr: ErrSealInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nonce := make([]byte, chacha20poly1305.NonceSizeX)
			rand.Read(nonce)
			v := b64.EncodeToString(s.aeads[0].Seal(nonce, nonce, tt.contents, []byte("p")))
			_, _, err := s.Open("p", v, now, tt.want)
			if tt.wantErr == nil && err != nil {
				t.Errorf("Open: %v, want success", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Open: %v, want %v", err, tt.wantErr)
			}
		})
	}
}
