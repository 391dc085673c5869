/*
 * Fuzz target: configuration files through engine/config/load.c's
 * loader and validator, as belfryd start, reload and `belfryctl check`
 * read them.
 *
 * An input is up to three files separated by NUL bytes: belfry.conf, then
 * workflows/w.json, then schedules/s.json (a file left out is absent).
 * They are written into a temporary directory made once per process and
 * loaded with eng_config_load().
 *
 * Oracles besides the sanitizers: a refused configuration has a cause
 * that names one of the files with a line and column inside it
 * ("FILE:LINE:COLUMN: message"); a loaded one answers its accessors.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

#define FUZZ_FILES 3

static const char *const fuzz_names[FUZZ_FILES] = { "belfry.conf",
	"workflows/w.json", "schedules/s.json" };
static char fuzz_dir[64];
static char *fuzz_paths[FUZZ_FILES];

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop on a broken contract, saying which. */
static void __attribute__((noreturn))
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s: %s\n", what, detail ? detail : "");
	abort();
}

/* Remove the temporary directory at exit. */
static void
fuzz_cleanup(void)
{
	char *d;
	int i;

	for (i = 0; i < FUZZ_FILES; i++) {
		unlink(fuzz_paths[i]);
		free(fuzz_paths[i]);
	}
	d = xasprintf("%s/workflows", fuzz_dir);
	rmdir(d);
	free(d);
	d = xasprintf("%s/schedules", fuzz_dir);
	rmdir(d);
	free(d);
	rmdir(fuzz_dir);
}

/* Write p[0..len) as file i. */
static void
fuzz_write(int i, const char *p, size_t len)
{
	FILE *f;

	if ((f = fopen(fuzz_paths[i], "w")) == NULL)
		fuzz_fail("fopen", fuzz_paths[i]);
	if (len > 0 && fwrite(p, 1, len, f) != len)
		fuzz_fail("fwrite", fuzz_paths[i]);
	if (fclose(f) != 0)
		fuzz_fail("fclose", fuzz_paths[i]);
}

/* The number of lines of file text p[0..len). */
static long
fuzz_lines(const char *p, size_t len)
{
	long n = 1;
	size_t i;

	for (i = 0; i < len; i++)
		n += p[i] == '\n';
	return n;
}

/*
 * Check a refusal's cause: "FILE:LINE:COLUMN: message" for one of the
 * files written, with LINE inside it.
 */
static void
fuzz_check_cause(const char *cause, const char *const part[],
    const size_t len[])
{
	size_t n;
	long line, col;
	char *end;
	int i;

	if (cause == NULL || *cause == '\0')
		fuzz_fail("a refusal without a cause", "");
	for (i = 0; i < FUZZ_FILES; i++) {
		n = strlen(fuzz_paths[i]);
		if (part[i] != NULL && strncmp(cause, fuzz_paths[i], n) == 0 &&
		    cause[n] == ':')
			break;
	}
	if (i == FUZZ_FILES)
		fuzz_fail("a cause that names no file", cause);
	line = strtol(cause + n + 1, &end, 10);
	if (end == cause + n + 1 || *end != ':')
		fuzz_fail("a cause without a line", cause);
	col = strtol(end + 1, &end, 10);
	if (*end != ':' || end[1] != ' ')
		fuzz_fail("a cause without a column", cause);
	if (line < 1 || line > fuzz_lines(part[i], len[i]) || col < 1)
		fuzz_fail("a position outside the file", cause);
}

/* Once per process: zone rules and the directory. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char *cause = NULL, *d;
	int i;

	(void)argc;
	(void)argv;
	if (tz_init(NULL, &cause) != 0)
		fuzz_fail("zone rules", cause);
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/belfry-fuzz-config.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL)
		fuzz_fail("mkdtemp", fuzz_dir);
	for (i = 0; i < FUZZ_FILES; i++)
		fuzz_paths[i] = xasprintf("%s/%s", fuzz_dir, fuzz_names[i]);
	atexit(fuzz_cleanup);
	d = xasprintf("%s/workflows", fuzz_dir);
	if (mkdir(d, 0700) != 0)
		fuzz_fail("mkdir", d);
	free(d);
	d = xasprintf("%s/schedules", fuzz_dir);
	if (mkdir(d, 0700) != 0)
		fuzz_fail("mkdir", d);
	free(d);
	return 0;
}

/* One input: its files written, loaded and checked. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nul;
	const char *part[FUZZ_FILES] = { NULL, NULL, NULL };
	size_t len[FUZZ_FILES] = { 0, 0, 0 }, i;
	struct eng_config *c;
	char *cause = NULL;

	for (i = 0; i < FUZZ_FILES && p <= end; i++) {
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL)
			nul = end;
		part[i] = p;
		len[i] = (size_t)(nul - p);
		p = nul + 1;
	}
	for (i = 0; i < FUZZ_FILES; i++) {
		if (part[i] != NULL)
			fuzz_write((int)i, part[i], len[i]);
		else
			unlink(fuzz_paths[i]);
	}
	if ((c = eng_config_load(fuzz_dir, &cause)) == NULL) {
		fuzz_check_cause(cause, part, len);
		free(cause);
		return 0;
	}
	for (i = 0; i < eng_config_api_key_count(c); i++)
		if (eng_config_api_key(c, i) == NULL)
			fuzz_fail("an API key that is NULL", "");
	(void)eng_config_socket(c);
	(void)eng_config_database(c);
	(void)eng_config_listen(c);
	(void)eng_config_database_check(c);
	(void)eng_config_default_timezone(c);
	(void)eng_config_workflow_count(c);
	(void)eng_config_has_workflow(c, "w");
	eng_config_free(c);
	return 0;
}
