/*
 * Who may use the TCP listener: server keys (api_keys, api_keys_file and
 * the api_keys credential: everything), metrics keys (metrics_api_keys:
 * GET /metrics and GET /healthz only), public
 * keys (public_api_keys, the user-scoped routes a browser's feed uses),
 * user tokens (Knock's enhanced security: an RS256 JWT that names the user
 * in "sub", verified with the PEM public key of user_token_public_key),
 * and which browser origins CORS lets in (allowed_origins).
 *
 * The verification key is loaded from its file when a configuration is
 * installed (start and reload, auth_load); a reload whose key does not
 * load is refused and the old key stays.  Token expiry is judged on the
 * daemon's clock (sch_now(): the virtual clock in tests), with
 * AUTH_SKEW seconds of allowance for clocks that differ a little.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "scheduler/scheduler.h"

#define AUTH_SKEW 30           /* seconds a token's exp may have passed */
#define AUTH_MAX_TOKEN 8192    /* longer tokens are refused unread */

/* Compare a presented key with a configured one in constant time. */
static int
auth_key_equal(const char *given, const char *key)
{
	size_t lg = strlen(given), lk = strlen(key), i;
	unsigned char diff = 0;

	/* Time depends only on the length of what the client sent. */
	diff |= (unsigned char)(lg != lk);
	for (i = 0; i < lg; i++)
		diff |= (unsigned char)given[i] ^
		    (unsigned char)(lk ? key[i % lk] : 0);
	if (lk == 0)
		diff |= 1;
	return diff == 0;
}

/* See scheduler.h: what kind of key key (NULL: none) is. */
enum auth_kind
auth_key(struct sch *s, const char *key)
{
	const struct eng_config *c = eng_config(s->eng);
	size_t i, n;
	int server = 0, pub = 0, metrics = 0;

	if (key == NULL || c == NULL)
		return AUTH_NONE;
	n = eng_config_api_key_count(c);
	for (i = 0; i < n; i++)
		server |= auth_key_equal(key, eng_config_api_key(c, i));
	n = eng_config_public_key_count(c);
	for (i = 0; i < n; i++)
		pub |= auth_key_equal(key, eng_config_public_key(c, i));
	n = eng_config_metrics_key_count(c);
	for (i = 0; i < n; i++)
		metrics |= auth_key_equal(key, eng_config_metrics_key(c, i));
	return server ? AUTH_SERVER : pub ? AUTH_PUBLIC : metrics ?
	    AUTH_METRICS : AUTH_NONE;
}

/* See scheduler.h: the key of "Authorization: Bearer KEY", or NULL. */
const char *
auth_bearer(struct http_conn *c)
{
	const char *h = http_header(c, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/* See scheduler.h: whether origin is one of allowed_origins. */
int
auth_origin(struct sch *s, const char *origin)
{
	const struct eng_config *c = eng_config(s->eng);
	size_t i, n = c != NULL ? eng_config_origin_count(c) : 0;

	for (i = 0; i < n; i++)
		if (strcmp(origin, eng_config_origin(c, i)) == 0)
			return 1;
	return 0;
}

/*
 * See scheduler.h: load the user token key that configuration c names
 * into *out (NULL when it names none); -1 with *cause.
 */
int
auth_load(const struct eng_config *c, EVP_PKEY **out, char **cause)
{
	const char *path = eng_config_user_token_key(c);
	EVP_PKEY *k;
	FILE *f;

	*out = NULL;
	if (path == NULL)
		return 0;
	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("user_token_public_key %s: %s", path,
		    strerror(errno));
		return -1;
	}
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		*cause = xasprintf("user_token_public_key %s: not a PEM "
		    "public key (-----BEGIN PUBLIC KEY-----)", path);
		return -1;
	}
	if (!EVP_PKEY_is_a(k, "RSA")) {
		EVP_PKEY_free(k);
		*cause = xasprintf("user_token_public_key %s: not an RSA key "
		    "(user tokens are RS256)", path);
		return -1;
	}
	*out = k;
	return 0;
}

/* The value of base64url digit ch, or -1. */
static int
auth_b64(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/*
 * Decode the len base64url characters at p (no padding) into a new
 * buffer (NUL-terminated, for JSON) and *outlen; NULL when they are not
 * base64url.
 */
static unsigned char *
auth_unb64(const char *p, size_t len, size_t *outlen)
{
	unsigned char *out = xmalloc(len * 3 / 4 + 3);
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	if (len % 4 == 1)
		goto bad;
	for (i = 0; i < len; i++) {
		if ((v = auth_b64((unsigned char)p[i])) < 0)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	out[n] = '\0';
	*outlen = n;
	return out;
bad:
	free(out);
	return NULL;
}

/* A base64url JSON object of a token, or NULL. */
static json_t *
auth_part(const char *p, size_t len)
{
	unsigned char *text;
	size_t n;
	json_t *j;

	if ((text = auth_unb64(p, len, &n)) == NULL)
		return NULL;
	j = json_loadb((const char *)text, n, 0, NULL);
	free(text);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Whether sig (n bytes) is key's RS256 signature of the len bytes at p. */
static int
auth_rs256(EVP_PKEY *key, const char *p, size_t len, const unsigned char *sig,
    size_t n)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	if (md == NULL)
		fatalx("out of memory");
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, n, (const unsigned char *)p, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/*
 * See scheduler.h: verify user token tok at now: 0 with *user (the
 * caller frees) set to its "sub", or the HTTP status to answer (401)
 * with *code and *cause.
 */
int
auth_token(struct sch *s, const char *tok, int64_t now, char **user,
    const char **code, char **cause)
{
	const char *d1, *d2, *alg, *sub;
	json_t *head = NULL, *claims = NULL, *exp;
	unsigned char *sig = NULL;
	size_t n;

	*code = "invalid_user_token";
	if (s->token_key == NULL) {
		*cause = xstrdup("user tokens are not configured");
		return 401;
	}
	if (strlen(tok) > AUTH_MAX_TOKEN ||
	    (d1 = strchr(tok, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL ||
	    (head = auth_part(tok, (size_t)(d1 - tok))) == NULL ||
	    (claims = auth_part(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL ||
	    (sig = auth_unb64(d2 + 1, strlen(d2 + 1), &n)) == NULL) {
		*cause = xstrdup("the user token is not a JWT "
		    "(HEADER.CLAIMS.SIGNATURE in base64url)");
		goto fail;
	}
	alg = json_string_value(json_object_get(head, "alg"));
	if (alg == NULL || strcmp(alg, "RS256") != 0) {
		*cause = xasprintf("the user token is signed with %s; belfry "
		    "takes RS256 tokens", alg != NULL ? alg : "no \"alg\"");
		goto fail;
	}
	if (!auth_rs256(s->token_key, tok, (size_t)(d2 - tok), sig, n)) {
		*cause = xstrdup("the user token's signature does not verify "
		    "with user_token_public_key");
		goto fail;
	}
	exp = json_object_get(claims, "exp");
	if (!json_is_number(exp)) {
		*cause = xstrdup("the user token has no \"exp\"");
		goto fail;
	}
	if (json_number_value(exp) + AUTH_SKEW < (double)now) {
		*code = "user_token_expired";
		*cause = xstrdup("the user token has expired");
		goto fail;
	}
	sub = json_string_value(json_object_get(claims, "sub"));
	if (sub == NULL || *sub == '\0') {
		*cause = xstrdup("the user token has no \"sub\" (the user)");
		goto fail;
	}
	*user = xstrdup(sub);
	json_decref(head);
	json_decref(claims);
	free(sig);
	return 0;
fail:
	json_decref(head);
	json_decref(claims);
	free(sig);
	return 401;
}
