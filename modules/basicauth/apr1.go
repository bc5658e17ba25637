package basicauth

import (
	"crypto/md5"
	"strings"
)

// apr1Magic starts Apache's variant of MD5-crypt, which `htpasswd -m`
// (the default) writes.
const apr1Magic = "$apr1$"

// itoa64 is the alphabet of crypt(3)'s base-64 encoding.
const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// APR1 returns the apr1 hash of password with salt, as htpasswd -m
// writes it: "$apr1$" salt "$" and 22 characters. Only the first 8 bytes
// of salt count, and it ends at a '$'. It is Poul-Henning Kamp's
// MD5-crypt (FreeBSD's $1$) with Apache's magic string, 1000 rounds of
// MD5.
func APR1(password, salt string) string {
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 8 {
		salt = salt[:8]
	}
	pw := []byte(password)

	alt := md5.New()
	alt.Write(pw)
	alt.Write([]byte(salt))
	alt.Write(pw)
	altSum := alt.Sum(nil)

	ctx := md5.New()
	ctx.Write(pw)
	ctx.Write([]byte(apr1Magic))
	ctx.Write([]byte(salt))
	for n := len(pw); n > 0; n -= 16 {
		ctx.Write(altSum[:min(n, 16)])
	}
	for i := len(pw); i != 0; i >>= 1 {
		if i&1 != 0 {
			ctx.Write([]byte{0})
		} else {
			ctx.Write(pw[:1])
		}
	}
	final := ctx.Sum(nil)

	// 1000 rounds, to slow down a dictionary attack.
	var buf []byte
	for i := range 1000 {
		buf = buf[:0]
		if i&1 != 0 {
			buf = append(buf, pw...)
		} else {
			buf = append(buf, final...)
		}
		if i%3 != 0 {
			buf = append(buf, salt...)
		}
		if i%7 != 0 {
			buf = append(buf, pw...)
		}
		if i&1 != 0 {
			buf = append(buf, final...)
		} else {
			buf = append(buf, pw...)
		}
		sum := md5.Sum(buf)
		final = sum[:]
	}

	out := make([]byte, 0, len(apr1Magic)+len(salt)+1+22)
	out = append(out, apr1Magic...)
	out = append(out, salt...)
	out = append(out, '$')
	to64 := func(v uint32, n int) {
		for ; n > 0; n-- {
			out = append(out, itoa64[v&0x3f])
			v >>= 6
		}
	}
	to64(uint32(final[0])<<16|uint32(final[6])<<8|uint32(final[12]), 4)
	to64(uint32(final[1])<<16|uint32(final[7])<<8|uint32(final[13]), 4)
	to64(uint32(final[2])<<16|uint32(final[8])<<8|uint32(final[14]), 4)
	to64(uint32(final[3])<<16|uint32(final[9])<<8|uint32(final[15]), 4)
	to64(uint32(final[4])<<16|uint32(final[10])<<8|uint32(final[5]), 4)
	to64(uint32(final[11]), 2)
	return string(out)
}
