/*
 * Public ids: UUID v4-shaped strings derived from integer keys with a
 * keyed Feistel permutation, so that tables stay keyed by increasing
 * integers and ids are never indexed, yet look random and cannot be
 * guessed or walked.
 *
 * The 122 free bits of a v4 UUID carry a 48-bit key a, a 24-bit key b, an
 * 8-bit kind and 42 zero bits, permuted as two 61-bit halves through six
 * rounds keyed by the database's random key.  Parsing inverts the
 * permutation and accepts the id only if kind and zero bits match: a
 * forged or mistyped id is "not found" with certainty near 1 - 2^-50.
 */
#include <string.h>

#include "engine/engine_int.h"

#define IDS_MASK61 ((1ULL << 61) - 1)

/* A 64-bit mixing function (splitmix64's finalizer). */
static uint64_t
ids_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Round function i of the permutation. */
static uint64_t
ids_round(const struct eng *e, int i, uint64_t half)
{
	return ids_mix(half ^ e->idkey[i % 4] ^ ((uint64_t)i << 56)) &
	    IDS_MASK61;
}

/* The permuted 122-bit payload of kind/a/b. */
static unsigned __int128
ids_encrypt(const struct eng *e, enum eng_id_kind kind, uint64_t a,
    uint64_t b)
{
	uint64_t l, r, t;
	int i;

	/* l = a (48 bits) | b's high 13 bits; r = b's low 11 | kind | 0s. */
	l = ((a & 0xffffffffffffULL) << 13) | ((b >> 11) & 0x1fff);
	r = ((b & 0x7ff) << 50) | ((uint64_t)(kind & 0xff) << 42);
	for (i = 0; i < 6; i++) {
		t = r;
		r = l ^ ids_round(e, i, r);
		l = t;
	}
	return ((unsigned __int128)l << 61) | r;
}

/* The low n hex digits of v, most significant first, into out. */
static void
ids_hex(char *out, uint64_t v, int n)
{
	static const char digits[] = "0123456789abcdef";

	while (n-- > 0) {
		out[n] = digits[v & 15];
		v >>= 4;
	}
}

/* Format kind/a/b as a UUID v4 string. */
void
eng_id_format(const struct eng *e, enum eng_id_kind kind, uint64_t a,
    uint64_t b, char out[37])
{
	unsigned __int128 x = ids_encrypt(e, kind, a, b);
	uint64_t hf = (uint64_t)(x >> 62), lf, h, lo;

	lf = (uint64_t)x & ((1ULL << 62) - 1);
	h = ((hf >> 12) << 16) | (0x4ULL << 12) | (hf & 0xfff);
	lo = (0x2ULL << 62) | lf;
	/* 8-4-4-4-12 lower-case hex digits of h then lo (no printf: hot). */
	ids_hex(out, h >> 32, 8);
	out[8] = '-';
	ids_hex(out + 9, h >> 16, 4);
	out[13] = '-';
	ids_hex(out + 14, h, 4);
	out[18] = '-';
	ids_hex(out + 19, lo >> 48, 4);
	out[23] = '-';
	ids_hex(out + 24, lo, 12);
	out[36] = '\0';
}

/* Parse a UUID string back into kind/a/b; 0, or -1 if it is not ours. */
int
eng_id_parse(const struct eng *e, enum eng_id_kind kind, const char *s,
    uint64_t *a, uint64_t *b)
{
	uint64_t h = 0, lo = 0, l, r, t, hf, lf;
	unsigned __int128 x;
	int i, n = 0, v;

	if (s == NULL || strlen(s) != 36)
		return -1;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		if (s[i] >= '0' && s[i] <= '9')
			v = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			v = s[i] - 'A' + 10;
		else
			return -1;
		if (n < 16)
			h = (h << 4) | (uint64_t)v;
		else
			lo = (lo << 4) | (uint64_t)v;
		n++;
	}
	if (((h >> 12) & 0xf) != 4 || (lo >> 62) != 2)
		return -1;
	hf = ((h >> 16) << 12) | (h & 0xfff);
	lf = lo & ((1ULL << 62) - 1);
	x = ((unsigned __int128)hf << 62) | lf;
	l = (uint64_t)(x >> 61) & IDS_MASK61;
	r = (uint64_t)x & IDS_MASK61;
	for (i = 5; i >= 0; i--) {
		t = l;
		l = r ^ ids_round(e, i, l);
		r = t;
	}
	if (((r >> 42) & 0xff) != (uint64_t)kind ||
	    (r & ((1ULL << 42) - 1)) != 0)
		return -1;
	*a = l >> 13;
	*b = ((l & 0x1fff) << 11) | ((r >> 50) & 0x7ff);
	return 0;
}
