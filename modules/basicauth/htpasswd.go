package basicauth

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// kind is a password hash scheme of an htpasswd file.
type kind uint8

const (
	kindBcrypt kind = iota + 1 // $2y$, $2a$, $2b$: htpasswd -B
	kindAPR1                   // $apr1$: htpasswd -m, the default
	kindSHA                    // {SHA}: htpasswd -s
)

func (k kind) String() string {
	switch k {
	case kindBcrypt:
		return "bcrypt"
	case kindAPR1:
		return "apr1"
	case kindSHA:
		return "{SHA}"
	}
	return "unknown"
}

// bcryptMaxPassword is how much of a password bcrypt uses: htpasswd (and
// Apache's check) ignore what follows, while Go's bcrypt refuses it.
const bcryptMaxPassword = 72

// credential is one user's password hash.
type credential struct {
	kind kind
	// hash is the hash as the file holds it for bcrypt and apr1, the
	// 20-byte SHA-1 digest for {SHA}.
	hash string
	cost int // bcrypt's cost; 0 for the others
	line int // where the file defines it
}

// match reports whether password is the one hashed. It takes the time
// of the scheme and cost whatever the password, and compares digests in
// constant time.
func (c *credential) match(password string) bool {
	switch c.kind {
	case kindBcrypt:
		if len(password) > bcryptMaxPassword {
			password = password[:bcryptMaxPassword]
		}
		return bcrypt.CompareHashAndPassword([]byte(c.hash), []byte(password)) == nil
	case kindAPR1:
		got := APR1(password, c.hash[len(apr1Magic):])
		return subtle.ConstantTimeCompare([]byte(got), []byte(c.hash)) == 1
	case kindSHA:
		sum := sha1.Sum([]byte(password))
		return subtle.ConstantTimeCompare(sum[:], []byte(c.hash)) == 1
	}
	return false
}

// Users is the content of an htpasswd file. It is read-only once made
// and safe for concurrent use.
type Users struct {
	byName map[string]*credential
	// dummy is a credential of the scheme and cost most users have, with
	// a random hash, that an unknown user's password is checked against
	// so that a wrong user costs as much as a wrong password. nil when
	// there are no users.
	dummy *credential
}

// Len is the number of users.
func (u *Users) Len() int { return len(u.byName) }

// Check reports whether password is user's. For an unknown user it does
// the same work as for a known one, against a dummy hash, and reports
// known false.
func (u *Users) Check(user, password string) (ok, known bool) {
	c, known := u.byName[user]
	if !known {
		c = u.dummy
		if c == nil {
			return false, false
		}
	}
	ok = c.match(password)
	return ok && known, known
}

// LineError is a problem on one line of an htpasswd file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// maxLine bounds a line of an htpasswd file; a bcrypt line is about 70
// bytes.
const maxLine = 64 << 10

// Load reads the htpasswd file at path.
func Load(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads an htpasswd file: one "user:hash" a line, as Apache's
// htpasswd writes them, with bcrypt ($2y$, $2a$, $2b$), apr1 ($apr1$) or
// {SHA} hashes. Blank lines and lines starting with '#' are skipped,
// spaces around a line are ignored, and what follows a second ':' is
// ignored (as Apache does). Any other line, a hash of another scheme
// (crypt(3), plain text) and a user named twice are errors: the first
// is returned as a *LineError naming name and the line.
func Parse(r io.Reader, name string) (*Users, error) {
	u := &Users{byName: map[string]*credential{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, c, err := parseLine(line)
		if err != nil {
			return nil, &LineError{File: name, Line: n, Err: err}
		}
		if prev, dup := u.byName[user]; dup {
			return nil, &LineError{File: name, Line: n, Err: fmt.Errorf("user %q is defined again (first on line %d): remove one of the lines", user, prev.line)}
		}
		c.line = n
		u.byName[user] = c
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LineError{File: name, Line: n + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	u.dummy = dummyFor(u.byName)
	return u, nil
}

// parseLine reads one line that is neither blank nor a comment.
func parseLine(line string) (string, *credential, error) {
	user, hash, ok := strings.Cut(line, ":")
	if !ok {
		return "", nil, errors.New(`no ':' between user and password hash: write lines as "user:hash", with htpasswd`)
	}
	if user == "" {
		return "", nil, errors.New("empty user name before ':'")
	}
	for i := 0; i < len(user); i++ {
		if c := user[i]; c < 0x20 || c == 0x7f {
			return "", nil, fmt.Errorf("user name %q holds a control character", user)
		}
	}
	hash, _, _ = strings.Cut(hash, ":")
	c, err := parseHash(hash)
	if err != nil {
		return "", nil, fmt.Errorf("user %q: %w", user, err)
	}
	return user, c, nil
}

// bcryptAlphabet is the base-64 alphabet of bcrypt's salt and hash.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseHash classifies a hash and checks its form. Error messages never
// quote the hash: a line meant to be a hash may hold a password.
func parseHash(hash string) (*credential, error) {
	switch {
	case hash == "":
		return nil, errors.New("no password hash after ':'")
	case strings.HasPrefix(hash, "$2y$"), strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil || len(hash) != 60 || hash[6] != '$' || !only(hash[7:], bcryptAlphabet) {
			return nil, errors.New("malformed bcrypt hash: it must be $2y$, two digits of cost, '$' and 53 characters; write the line again with htpasswd -B")
		}
		return &credential{kind: kindBcrypt, hash: hash, cost: cost}, nil
	case strings.HasPrefix(hash, apr1Magic):
		salt, sum, ok := strings.Cut(hash[len(apr1Magic):], "$")
		if !ok || salt == "" || len(salt) > 8 || len(sum) != 22 || !only(sum, itoa64) {
			return nil, errors.New("malformed apr1 hash: it must be $apr1$, a salt of up to 8 characters, '$' and 22 characters; write the line again with htpasswd -m")
		}
		return &credential{kind: kindAPR1, hash: hash}, nil
	case strings.HasPrefix(hash, "{SHA}"):
		sum, err := base64.StdEncoding.Strict().DecodeString(hash[len("{SHA}"):])
		if err != nil || len(sum) != sha1.Size {
			return nil, errors.New("malformed {SHA} hash: it must be {SHA} and the base-64 of a 20-byte SHA-1 digest; write the line again with htpasswd -s, or better -B")
		}
		return &credential{kind: kindSHA, hash: string(sum)}, nil
	case strings.HasPrefix(hash, "$1$"):
		return nil, errors.New("MD5-crypt ($1$) hashes of crypt(3) are not supported: write the line again with htpasswd -B (bcrypt)")
	case strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		return nil, errors.New("SHA-crypt ($5$, $6$) hashes of crypt(3) are not supported: write the line again with htpasswd -B (bcrypt)")
	case strings.HasPrefix(hash, "$2x$"):
		return nil, errors.New("$2x$ bcrypt hashes (of a buggy old implementation) are not supported: write the line again with htpasswd -B")
	case hash[0] == '$':
		return nil, errors.New("unknown password hash scheme: only bcrypt ($2y$), apr1 ($apr1$) and {SHA} are supported; write the line again with htpasswd -B")
	}
	return nil, errors.New("not a bcrypt, apr1 or {SHA} hash: crypt(3) and plain-text passwords are not supported; write the line again with htpasswd -B (bcrypt)")
}

// only reports whether every byte of s is in alphabet.
func only(s, alphabet string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// dummyFor makes the credential an unknown user is checked against: of
// the scheme and cost that most users have (the slower on a tie), with a
// random hash no password matches but by chance. nil for no users.
func dummyFor(users map[string]*credential) *credential {
	count := map[scheme]int{}
	var best scheme
	for _, c := range users {
		s := scheme{c.kind, c.cost}
		count[s]++
		if n, bn := count[s], count[best]; n > bn || n == bn && s.slower(best) {
			best = s
		}
	}
	switch best.kind {
	case kindBcrypt:
		// A well-formed hash at the lowest cost, with the cost digits
		// changed: checking a password against it costs best.cost.
		h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), bcrypt.MinCost)
		if err != nil {
			panic("basicauth: bcrypt: " + err.Error())
		}
		return &credential{kind: kindBcrypt, hash: fmt.Sprintf("$2y$%02d%s", best.cost, h[6:]), cost: best.cost}
	case kindAPR1:
		return &credential{kind: kindAPR1, hash: APR1(rand.Text(), rand.Text()[:8])}
	case kindSHA:
		sum := sha1.Sum([]byte(rand.Text()))
		return &credential{kind: kindSHA, hash: string(sum[:])}
	}
	return nil
}

// scheme is a hash scheme and its cost.
type scheme struct {
	kind kind
	cost int
}

// slower reports whether checking a password takes longer with s than
// with o: bcrypt by cost, then apr1, then {SHA}.
func (s scheme) slower(o scheme) bool {
	if s.kind != o.kind {
		return s.kind < o.kind
	}
	return s.cost > o.cost
}
