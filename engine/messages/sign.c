/*
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the
 * secret is "whsec_" and the base64 of 24 to 64 random bytes; a delivery
 * is signed as "v1," and the base64 of HMAC-SHA256(secret, "ID.TS.BODY"),
 * ID being webhook-id and TS webhook-timestamp (seconds since the epoch),
 * so that receivers verify with the Standard Webhooks libraries.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/engine_int.h"

#define SIGN_PREFIX "whsec_"
#define SIGN_KEY_MIN 24
#define SIGN_KEY_MAX 64

/* See engine.h. */
int
eng_webhook_secret(const char *text, unsigned char **key, size_t *len,
    char **cause)
{
	size_t n = strlen(SIGN_PREFIX);

	if (strncmp(text, SIGN_PREFIX, n) != 0 ||
	    eng_base64_decode(text + n, key, len) != 0) {
		*cause = xstrdup("a signing secret is \"whsec_\" and the base64 "
		    "of its key (openssl rand -base64 32)");
		return -1;
	}
	if (*len < SIGN_KEY_MIN || *len > SIGN_KEY_MAX) {
		free(*key);
		*key = NULL;
		*cause = xasprintf("a signing secret's key must be %d to %d "
		    "bytes (this one has %zu)", SIGN_KEY_MIN, SIGN_KEY_MAX,
		    *len);
		return -1;
	}
	return 0;
}

/* See engine.h. */
char *
eng_webhook_signature(const unsigned char *key, size_t keylen,
    const char *id, int64_t ts, const char *body, size_t bodylen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *head = xasprintf("%s.%lld.", id, (long long)ts), *msg, *b64, *sig;
	size_t hlen = strlen(head);

	msg = xmalloc(hlen + bodylen + 1);
	memcpy(msg, head, hlen);
	memcpy(msg + hlen, body, bodylen);
	free(head);
	if (HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)msg,
	    hlen + bodylen, mac, &maclen) == NULL)
		abort();
	free(msg);
	b64 = eng_base64_encode(mac, maclen);
	sig = xasprintf("v1,%s", b64);
	free(b64);
	return sig;
}
