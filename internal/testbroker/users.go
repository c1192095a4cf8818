package testbroker

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"
)

var (
	errExists   = errors.New("already exists")
	errNotFound = errors.New("not found")
)

type userKey struct {
	kind string
	name string
}

// userRecord is a built-in database user. Only a salted hash is kept: the
// double must never be able to leak a password, like the real broker.
type userRecord struct {
	kind      string
	name      string
	salt      string
	hash      string // lowercase hex sha256(salt ++ password)
	superuser bool
	createdAt time.Time
}

func hashPassword(salt, password string) string {
	sum := sha256.Sum256([]byte(salt + password))
	return hex.EncodeToString(sum[:])
}

func newSalt() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (u *userRecord) passwordMatches(password string) bool {
	want := hashPassword(u.salt, password)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(u.hash))) == 1
}

// addUser creates a user; it never overwrites (v4 "existed", v5 409).
func (s *store) addUser(kind, name, password string, superuser bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := userKey{kind, name}
	if _, ok := s.users[k]; ok {
		return errExists
	}
	salt := newSalt()
	s.users[k] = &userRecord{kind: kind, name: name, salt: salt, hash: hashPassword(salt, password),
		superuser: superuser, createdAt: s.now()}
	return nil
}

// updateUser replaces the password and, when superuser is non-nil, the flag.
func (s *store) updateUser(kind, name, password string, superuser *bool) (userRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userKey{kind, name}]
	if !ok {
		return userRecord{}, errNotFound
	}
	u.salt = newSalt()
	u.hash = hashPassword(u.salt, password)
	if superuser != nil {
		u.superuser = *superuser
	}
	return *u, nil
}

// importOutcome says what an import did with one user.
type importOutcome int

const (
	importCreated importOutcome = iota
	importOverride
	importSkipped
)

// importUser writes a user with override semantics (the v5 import API). When
// hash is non-empty the given hash and salt are stored as they are; an
// identical existing record is skipped.
func (s *store) importUser(kind, name, password, salt, hash string, superuser bool) importOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := userKey{kind, name}
	old, exists := s.users[k]
	if hash != "" && exists && old.hash == strings.ToLower(hash) && old.salt == salt && old.superuser == superuser {
		return importSkipped
	}
	rec := &userRecord{kind: kind, name: name, superuser: superuser, createdAt: s.now()}
	if hash != "" {
		rec.salt, rec.hash = salt, strings.ToLower(hash)
	} else {
		rec.salt = newSalt()
		rec.hash = hashPassword(rec.salt, password)
	}
	if exists {
		rec.createdAt = old.createdAt
	}
	s.users[k] = rec
	if exists {
		return importOverride
	}
	return importCreated
}

func (s *store) deleteUser(kind, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := userKey{kind, name}
	_, ok := s.users[k]
	delete(s.users, k)
	return ok
}

func (s *store) getUser(kind, name string) (userRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userKey{kind, name}]
	if !ok {
		return userRecord{}, false
	}
	return *u, true
}

// listUsers returns the users of one namespace sorted by name, which stands
// in for both v4 storage order and the v5 ordered_set order.
func (s *store) listUsers(kind string) []userRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []userRecord
	for k, u := range s.users {
		if k.kind == kind {
			out = append(out, *u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// authResult is the outcome of checking CONNECT credentials.
type authResult int

const (
	authNotFound authResult = iota // no entry: EMQX "ignore", refused here
	authOK
	authBadPassword
)

// authenticate checks a CONNECT against the clientid entry and the username
// entry and accepts when the password matches either (EMQX 4 semantics). The
// v5 API only ever writes the namespace of its user_id_type, so with v5 data
// this is the v5 lookup.
func (s *store) authenticate(clientID, username string, hasUsername bool, password string) (authResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*userRecord
	if u, ok := s.users[userKey{kindClientID, clientID}]; ok {
		found = append(found, u)
	}
	if hasUsername {
		if u, ok := s.users[userKey{kindUsername, username}]; ok {
			found = append(found, u)
		}
	}
	if len(found) == 0 {
		return authNotFound, false
	}
	for _, u := range found {
		if u.passwordMatches(password) {
			return authOK, u.superuser
		}
	}
	return authBadPassword, false
}
