package server

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Authentication.
//
// A token file holds one "USER TOKEN" pair per line (blank lines and lines
// starting with # are ignored). A request authenticates with
//
//	Authorization: Bearer TOKEN          (the Go driver: accessToken=TOKEN)
//	Authorization: Basic USER:TOKEN      (only over TLS: a password over
//	                                      plain HTTP is refused)
//
// and then acts as USER. An X-Trino-User header naming someone else is
// refused (no impersonation). Tokens are looked up by their SHA-256, so
// response times do not reveal a token's prefix.
//
// Without a token file (allowed on loopback only) the user is whatever
// X-Trino-User says: names keep sessions apart but prove nothing.

// minTokenLen refuses guessable tokens.
const minTokenLen = 16

// authenticator maps tokens to users.
type authenticator struct {
	byHash map[[32]byte]string // sha256(token) → user
}

// loadTokens reads a token file.
func loadTokens(path string) (*authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a := &authenticator{byHash: map[[32]byte]string{}}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s line %d: want USER TOKEN", path, n)
		}
		user, token := fields[0], fields[1]
		if len(token) < minTokenLen {
			return nil, fmt.Errorf("%s line %d: the token of %s is shorter than %d characters", path, n, user, minTokenLen)
		}
		h := sha256.Sum256([]byte(token))
		if _, dup := a.byHash[h]; dup {
			return nil, fmt.Errorf("%s line %d: a token appears twice", path, n)
		}
		a.byHash[h] = user
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(a.byHash) == 0 {
		return nil, fmt.Errorf("%s: no tokens", path)
	}
	return a, nil
}

// lookup returns the user of token. The map is keyed by the token's hash:
// what its timing can reveal is about the hash, not the token.
func (a *authenticator) lookup(token string) (string, bool) {
	user, ok := a.byHash[sha256.Sum256([]byte(token))]
	return user, ok
}

// authError is a refused request: 401 (who are you?) or 403 (not yours).
type authError struct {
	status int
	msg    string
}

func (e *authError) Error() string { return e.msg }

// identify returns who sent r. With auth, the credentials decide and a
// different X-Trino-User is refused; without, X-Trino-User is the user (""
// when absent, as on the Go driver's polls).
func (s *Server) identify(r *http.Request) (string, *authError) {
	claimed := r.Header.Get("X-Trino-User")
	if s.auth == nil {
		return claimed, nil
	}
	h := r.Header.Get("Authorization")
	var user string
	switch {
	case h == "":
		return "", &authError{http.StatusUnauthorized, "authentication required: send Authorization: Bearer TOKEN (Go driver: accessToken=TOKEN in the DSN)"}
	case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "):
		u, ok := s.auth.lookup(strings.TrimSpace(h[7:]))
		if !ok {
			return "", &authError{http.StatusUnauthorized, "invalid bearer token"}
		}
		user = u
	case len(h) > 6 && strings.EqualFold(h[:6], "Basic "):
		if r.TLS == nil {
			return "", &authError{http.StatusUnauthorized, "basic authentication is accepted only over TLS (start the server with --tls-cert and --tls-key)"}
		}
		name, pass, ok := r.BasicAuth()
		if !ok {
			return "", &authError{http.StatusUnauthorized, "malformed basic credentials"}
		}
		u, ok := s.auth.lookup(pass)
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(name)) != 1 {
			return "", &authError{http.StatusUnauthorized, "invalid user or password"}
		}
		user = u
	default:
		return "", &authError{http.StatusUnauthorized, "unsupported Authorization scheme (want Bearer, or Basic over TLS)"}
	}
	if claimed != "" && claimed != user {
		return "", &authError{http.StatusForbidden, fmt.Sprintf("authenticated as %s, cannot act as %s", user, claimed)}
	}
	return user, nil
}

// authorize checks that user may touch something owned by owner. With
// auth, only its owner may. Without, a request that names a user must name
// the owner, and one that names none (the Go driver's polls) holds the
// unguessable URL as its capability.
func (s *Server) authorize(user, owner, what string) *authError {
	if user == owner || (s.auth == nil && user == "") {
		return nil
	}
	return &authError{http.StatusForbidden, fmt.Sprintf("%s belongs to another user", what)}
}

func (s *Server) refuse(w http.ResponseWriter, e *authError) {
	if e.status == http.StatusUnauthorized {
		ch := `Bearer realm="weir"`
		if s.tls {
			ch += `, Basic realm="weir"`
		}
		w.Header().Set("WWW-Authenticate", ch)
	}
	http.Error(w, e.msg, e.status)
}
