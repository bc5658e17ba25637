package basicauth

import (
	"errors"
	"strings"
	"testing"
)

// Lines written by Debian's htpasswd (apache2-utils 2.4).
const (
	aliceBcrypt = "alice:$2y$04$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6EK" // wonderland
	bobSHA      = "bob:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg="                              // builder
	carolAPR1   = "carol:$apr1$46Sv0dtY$SfJ3/MM4VevPTGfUkolO2."                        // pässwörd
	// dave's password is 80 "x": bcrypt uses the first 72.
	daveBcrypt = "dave:$2y$04$ntbCeGboveDhKr3hBDXh/eZWYCwLmlwBRQHD35.mhkwd4m6Nujnuu"
)

// TestAPR1 checks the hash against what htpasswd -m and openssl passwd
// -apr1 wrote.
func TestAPR1(t *testing.T) {
	tests := []struct {
		password, want string
	}{
		{"secret", "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"}, // openssl passwd -apr1 -salt abcdefgh secret
		{"", "$apr1$x$tMwYqBfQwi3FYAr0aJc8M/"},
		{"a very long password that is longer than sixteen bytes and more, much more than thirty two", "$apr1$saltsalt$dcOqjbh28tmvUALTqsJS60"},
		{"secret", "$apr1$HeMV8llS$LrWY84Yixb6sOqaWT5MF6/"}, // htpasswd -nbm u secret
		{"", "$apr1$uYUPQEj9$WrL8d3iWwfeXL9JAjF3PI0"},
		{"pässwörd", "$apr1$BqzOSJGP$Fl.RzmvQCoXEmiEOzs5ra1"},
		{"a:b:c", "$apr1$jWJHmWTg$jXhMULtFQ7ORc5QXz3gqR1"},
		{"0123456789abcdef", "$apr1$u0SCDi78$BKo8zgYNnljJBqKcBPNRA."},
		{"0123456789abcdef0", "$apr1$4HIn3CZF$IJ8trX7niYwcy1gWHRuhp1"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			salt := strings.Split(tt.want, "$")[2]
			if got := APR1(tt.password, salt); got != tt.want {
				t.Errorf("APR1(%q, %q) = %q, want %q", tt.password, salt, got, tt.want)
			}
			// The salt may come with the rest of the hash after it.
			if got := APR1(tt.password, tt.want[len(apr1Magic):]); got != tt.want {
				t.Errorf("APR1 with the whole hash as salt = %q", got)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		users int
		err   string // part of the error; "" for none
	}{
		{name: "empty", file: ""},
		{name: "comments and blank lines", file: "# users\n\n   \n\t# more\n" + aliceBcrypt + "\n", users: 1},
		{name: "every kind", file: aliceBcrypt + "\n" + bobSHA + "\n" + carolAPR1 + "\n", users: 3},
		{name: "crlf and spaces", file: "  " + aliceBcrypt + " \r\n" + bobSHA + "\r\n", users: 2},
		{name: "no final newline", file: bobSHA, users: 1},
		{name: "extra field ignored", file: bobSHA + ":Bob Builder\n", users: 1},
		{name: "2a and 2b", file: "a:$2a$04$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6EK\nb:$2b$04$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6EK\n", users: 2},
		{name: "plain text", file: "# x\nalice:wonderland\n", err: "f:2: user \"alice\": not a bcrypt, apr1 or {SHA} hash: crypt(3) and plain-text passwords are not supported"},
		{name: "crypt des", file: "u:xCRewO5bjhhVg\n", err: "f:1: user \"u\": not a bcrypt"},
		{name: "md5 crypt", file: "u:$1$abc$def\n", err: "f:1: user \"u\": MD5-crypt ($1$)"},
		{name: "sha crypt", file: "u:$5$dywmN0OD0a9tPZTm$Y8yZjXLRwXRhco5UWV.uOi/bJ4gxb49pFty5urvOxD/\n", err: "SHA-crypt ($5$, $6$)"},
		{name: "sha512 crypt", file: "u:$6$x$y\n", err: "SHA-crypt"},
		{name: "2x", file: "u:$2x$04$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6EK\n", err: "$2x$"},
		{name: "unknown scheme", file: "u:$argon2id$v=19$m=65536\n", err: "unknown password hash scheme"},
		{name: "no colon", file: bobSHA + "\njust-a-name\n", err: "f:2: no ':' between user and password hash"},
		{name: "empty user", file: ":{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=\n", err: "f:1: empty user name"},
		{name: "empty hash", file: "u:\n", err: "f:1: user \"u\": no password hash"},
		{name: "control in user", file: "a\x01b:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=\n", err: "control character"},
		{name: "duplicate", file: aliceBcrypt + "\n" + bobSHA + "\n" + strings.Replace(bobSHA, "bob", "alice", 1) + "\n", err: "f:3: user \"alice\" is defined again (first on line 1)"},
		{name: "short bcrypt", file: "u:$2y$04$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6E\n", err: "malformed bcrypt hash"},
		{name: "bcrypt bad cost", file: "u:$2y$99$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6EK\n", err: "malformed bcrypt hash"},
		{name: "bcrypt bad char", file: "u:$2y$04$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6E!\n", err: "malformed bcrypt hash"},
		{name: "apr1 no salt", file: "u:$apr1$$SfJ3/MM4VevPTGfUkolO2.\n", err: "malformed apr1 hash"},
		{name: "apr1 long salt", file: "u:$apr1$46Sv0dtYx$SfJ3/MM4VevPTGfUkolO2.\n", err: "malformed apr1 hash"},
		{name: "apr1 short", file: "u:$apr1$46Sv0dtY$SfJ3/MM4VevPTGfUkolO2\n", err: "malformed apr1 hash"},
		{name: "apr1 no sum", file: "u:$apr1$46Sv0dtY\n", err: "malformed apr1 hash"},
		{name: "sha short", file: "u:{SHA}9SMYoF5RilWWASry7TjeaKwmpG==\n", err: "malformed {SHA} hash"},
		{name: "sha not base64", file: "u:{SHA}9SMYoF5RilWWASry7Tjea!wmpGg=\n", err: "malformed {SHA} hash"},
		{name: "long line", file: bobSHA + "\nu:" + strings.Repeat("x", maxLine) + "\n", err: "f:2: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Parse(strings.NewReader(tt.file), "f")
			if tt.err != "" {
				var le *LineError
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &le) {
					t.Fatalf("error %v, want a *LineError holding %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "wonderland") {
					t.Errorf("the error quotes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Len() != tt.users {
				t.Errorf("%d users, want %d", u.Len(), tt.users)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	u, err := Parse(strings.NewReader(strings.Join([]string{aliceBcrypt, bobSHA, carolAPR1, daveBcrypt}, "\n")), "f")
	if err != nil {
		t.Fatal(err)
	}
	x72 := strings.Repeat("x", 72)
	tests := []struct {
		user, password string
		ok, known      bool
	}{
		{"alice", "wonderland", true, true},
		{"alice", "Wonderland", false, true},
		{"alice", "", false, true},
		{"bob", "builder", true, true},
		{"bob", "builder ", false, true},
		{"carol", "pässwörd", true, true},
		{"carol", "passwort", false, true},
		{"dave", strings.Repeat("x", 80), true, true},
		{"dave", x72, true, true}, // bcrypt ignores what follows 72 bytes
		{"dave", x72 + "yyyy", true, true},
		{"dave", x72[:71], false, true},
		{"Alice", "wonderland", false, false},
		{"eve", "wonderland", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.user+":"+tt.password, func(t *testing.T) {
			ok, known := u.Check(tt.user, tt.password)
			if ok != tt.ok || known != tt.known {
				t.Errorf("Check = %v, %v; want %v, %v", ok, known, tt.ok, tt.known)
			}
		})
	}
}

// TestDummy: an unknown user is checked against a hash of the scheme and
// cost most users have.
func TestDummy(t *testing.T) {
	bcrypt5 := "$2y$05$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6EK"
	bcrypt4 := "$2y$04$IOc8eIHOIRGbmKH5FIlcTO2FCmLx1mMy4.VLe2L1UYB0KlN9na6EK"
	sha := "{SHA}9SMYoF5RilWWASry7TjeaKwmpGg="
	apr1 := "$apr1$46Sv0dtY$SfJ3/MM4VevPTGfUkolO2."
	tests := []struct {
		name   string
		hashes []string
		kind   kind
		cost   int
	}{
		{"none", nil, 0, 0},
		{"bcrypt", []string{bcrypt5}, kindBcrypt, 5},
		{"most bcrypt 4", []string{bcrypt5, bcrypt4, bcrypt4}, kindBcrypt, 4},
		{"tie takes the slower", []string{bcrypt4, bcrypt5}, kindBcrypt, 5},
		{"most sha", []string{sha, sha, apr1}, kindSHA, 0},
		{"apr1 over sha", []string{sha, apr1}, kindAPR1, 0},
		{"bcrypt over apr1", []string{apr1, bcrypt4}, kindBcrypt, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			for i, h := range tt.hashes {
				lines = append(lines, "u"+string(rune('a'+i))+":"+h)
			}
			u, err := Parse(strings.NewReader(strings.Join(lines, "\n")), "f")
			if err != nil {
				t.Fatal(err)
			}
			if tt.kind == 0 {
				if u.dummy != nil {
					t.Fatalf("dummy %v for no users", u.dummy)
				}
				return
			}
			d := u.dummy
			if d == nil || d.kind != tt.kind || d.cost != tt.cost {
				t.Fatalf("dummy %+v, want %v cost %d", d, tt.kind, tt.cost)
			}
			// The dummy is well formed: the file parser takes it.
			if d.kind != kindSHA {
				c, err := parseHash(d.hash)
				if err != nil || c.kind != d.kind || c.cost != d.cost {
					t.Fatalf("dummy %q does not parse as %v cost %d: %v", d.hash, tt.kind, tt.cost, err)
				}
			}
			for _, h := range tt.hashes {
				if d.hash == h {
					t.Errorf("the dummy is a user's hash")
				}
			}
		})
	}
}

// FuzzParseLine: any line is parsed without panic; an accepted line has
// a user with no ':' nor control characters, and a hash of a known
// scheme in its canonical form.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		aliceBcrypt, bobSHA, carolAPR1, daveBcrypt, bobSHA + ":extra", "u:plain", ":", "", "u:$apr1$$",
		"u:$apr1$12345678$", "u:{SHA}", "u:$2y$", "u:$2y$04$", "u:$1$a$b", "a\x00:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		user, c, err := parseLine(line)
		if err != nil {
			if c != nil || user != "" {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		if user == "" || strings.ContainsAny(user, ":\x00\r\n") {
			t.Fatalf("user %q accepted", user)
		}
		switch c.kind {
		case kindAPR1:
			// Recomputing with the stored salt gives a string of the same
			// form.
			if got := APR1("x", c.hash[len(apr1Magic):]); len(got) != len(c.hash) || got[:len(got)-22] != c.hash[:len(c.hash)-22] {
				t.Fatalf("APR1 with the salt of %q gives %q", c.hash, got)
			}
		case kindSHA:
			if len(c.hash) != 20 {
				t.Fatalf("{SHA} digest of %d bytes", len(c.hash))
			}
		case kindBcrypt:
			if len(c.hash) != 60 || c.cost < 4 || c.cost > 31 {
				t.Fatalf("bcrypt %q cost %d", c.hash, c.cost)
			}
		default:
			t.Fatalf("kind %v", c.kind)
		}
		// Checking a password never panics (bcrypt only at a cost that
		// keeps the fuzzer fast).
		if c.kind != kindBcrypt || c.cost <= 5 {
			c.match(line)
		}
	})
}

// FuzzParse: any file is read without panic, and an error names the
// file and a line.
func FuzzParse(f *testing.F) {
	f.Add(aliceBcrypt + "\n" + bobSHA + "\n# c\n\n" + carolAPR1 + "\n")
	f.Add("a:b\n")
	f.Add(bobSHA + "\n" + bobSHA + "\n")
	f.Fuzz(func(t *testing.T, file string) {
		u, err := Parse(strings.NewReader(file), "f")
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.File != "f" || le.Line < 1 || !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error %v does not name the file and line", err)
			}
			return
		}
		if (u.Len() == 0) != (u.dummy == nil) {
			t.Fatalf("%d users, dummy %v", u.Len(), u.dummy)
		}
	})
}
