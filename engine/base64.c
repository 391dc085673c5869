/*
 * Base64 (RFC 4648, the standard alphabet with padding): encoding for
 * MIME and webhook signatures, strict decoding for configured secrets.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

static const char b64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The base64 text of in[0..len), NUL-terminated, for the caller to free. */
char *
eng_base64_encode(const unsigned char *in, size_t len)
{
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;
	unsigned v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*o++ = b64_digits[v >> 18];
		*o++ = b64_digits[(v >> 12) & 63];
		*o++ = b64_digits[(v >> 6) & 63];
		*o++ = b64_digits[v & 63];
	}
	if (i < len) {
		v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] <<
		    8 : 0);
		*o++ = b64_digits[v >> 18];
		*o++ = b64_digits[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_digits[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* The value of base64 digit c, or -1. */
static int
b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64_digits, c) : NULL;

	return p != NULL ? (int)(p - b64_digits) : -1;
}

/*
 * Decode base64 text (padding required, no spaces) into *out (the
 * caller's to free) and *len; -1 if in is not that.
 */
int
eng_base64_decode(const char *in, unsigned char **out, size_t *len)
{
	size_t n = strlen(in), i, k = 0;
	unsigned char *buf;
	int d[4], j;

	if (n == 0 || n % 4 != 0)
		return -1;
	buf = xmalloc(n / 4 * 3);
	for (i = 0; i < n; i += 4) {
		for (j = 0; j < 4; j++) {
			d[j] = b64_value(in[i + j]);
			/* '=' only as the last one or two digits. */
			if (d[j] < 0 && !(in[i + j] == '=' && i + 4 == n &&
			    j >= 2 && (j == 3 || in[i + 3] == '=')))
				goto bad;
		}
		buf[k++] = (unsigned char)(d[0] << 2 | d[1] >> 4);
		if (d[2] >= 0)
			buf[k++] = (unsigned char)((d[1] & 15) << 4 | d[2] >> 2);
		if (d[3] >= 0)
			buf[k++] = (unsigned char)((d[2] & 3) << 6 | d[3]);
	}
	*out = buf;
	*len = k;
	return 0;
bad:
	free(buf);
	return -1;
}
