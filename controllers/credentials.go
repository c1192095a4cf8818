package controllers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
)

// generatePassword returns 32 characters from 24 random bytes.
func generatePassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// passwordHash is what status keeps to notice a rotation: salted with the
// object's UID so equal passwords of two users do not show as equal hashes.
func passwordHash(uid types.UID, password string) string {
	sum := sha256.Sum256([]byte(string(uid) + "\x00" + password))
	return "sha256:" + hex.EncodeToString(sum[:])
}
