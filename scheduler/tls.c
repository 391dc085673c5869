/*
 * TLS on the TCP listener: the tls section's certificate chain and key
 * (PEM files) in an OpenSSL context that http.c's accepted connections
 * wrap their sockets in (libevent's OpenSSL bufferevents), so that a
 * browser reaches belfry over https and wss.  The context is built when
 * a configuration is installed (start and reload: a reload whose files do
 * not load is refused and the old context stays; new connections take
 * the new one).
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "scheduler/scheduler.h"

/* OpenSSL's last error as text, or what. */
static char *
tls_error(const char *file, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (e == 0)
		return xasprintf("tls: %s: %s", file, what);
	ERR_error_string_n(e, buf, sizeof buf);
	return xasprintf("tls: %s: %s (%s)", file, what, buf);
}

/*
 * See scheduler.h: the TLS context of configuration c into *out (NULL
 * without a tls section); -1 with *cause when a file does not load or
 * the key does not match the certificate.
 */
int
tls_load(const struct eng_config *c, SSL_CTX **out, char **cause)
{
	const char *cert = eng_config_tls_certificate(c);
	const char *key = eng_config_tls_key(c);
	SSL_CTX *ctx;

	*out = NULL;
	if (cert == NULL)
		return 0;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatalx("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*cause = tls_error(cert, "not a PEM certificate chain");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*cause = tls_error(key, "not a PEM private key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*cause = tls_error(key, "the key does not match the "
		    "certificate");
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

/* See scheduler.h: free a context from tls_load (NULL: nothing). */
void
tls_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}
