/*
 * tests/unit/engine/fixture.c: see fixture.h.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/engine/fixture.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/engine/fixtures"
#endif

/* Write text to dir/name (NULL text: remove it); abort on failure. */
void
fixture_put(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (text == NULL) {
		unlink(path);
		return;
	}
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		fprintf(stderr, "fixture: cannot write %s\n", path);
		abort();
	}
}

/* The text of file in fixture name, to free; abort when unreadable. */
char *
fixture_read(const char *name, const char *file)
{
	char path[1024], *text;
	long len;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", FIXTURE_DIR, name, file);
	if ((f = fopen(path, "r")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "fixture: cannot read %s\n", path);
		abort();
	}
	text = malloc((size_t)len + 1);
	if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len)
		abort();
	text[len] = '\0';
	fclose(f);
	return text;
}

/* Copy the regular files of from into to (created if missing). */
static void
fixture_copy_dir(const char *from, const char *to)
{
	char src[1024], dst[1024], buf[8192];
	struct dirent *de;
	size_t n;
	FILE *in, *out;
	DIR *d;

	mkdir(to, 0700);
	if ((d = opendir(from)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof src, "%s/%s", from, de->d_name);
		snprintf(dst, sizeof dst, "%s/%s", to, de->d_name);
		if (de->d_type == DT_DIR) {
			fixture_copy_dir(src, dst);
			continue;
		}
		if ((in = fopen(src, "r")) == NULL ||
		    (out = fopen(dst, "w")) == NULL) {
			fprintf(stderr, "fixture: cannot copy %s\n", src);
			abort();
		}
		while ((n = fread(buf, 1, sizeof buf, in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
		if (fclose(out) != 0)
			abort();
	}
	closedir(d);
}

/*
 * Copy fixture name into dir, load it, and open a new database
 * dir/dbN in a begun transaction; NULL (after printing why) on failure.
 */
struct eng *
fixture_open(const char *name, const char *dir)
{
	static int n;
	char from[1024], path[1024], *cause = NULL;
	struct eng_config *c;
	struct eng *e;

	snprintf(from, sizeof from, "%s/%s", FIXTURE_DIR, name);
	fixture_copy_dir(from, dir);
	if ((c = eng_config_load(dir, &cause)) == NULL) {
		fprintf(stderr, "fixture %s: %s\n", name, cause);
		free(cause);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/db%d", dir, n++);
	if ((e = eng_open(path, &cause)) == NULL) {
		fprintf(stderr, "fixture %s: %s\n", name, cause);
		free(cause);
		eng_config_free(c);
		return NULL;
	}
	eng_set_config(e, c);
	if (eng_begin(e, &cause) != 0) {
		fprintf(stderr, "fixture %s: %s\n", name, cause);
		free(cause);
		eng_close(e);
		return NULL;
	}
	return e;
}

/* Commit what the test left and close the engine. */
void
fixture_close(struct eng *e)
{
	char *cause = NULL;

	if (eng_commit(e, &cause) != 0)
		free(cause);
	eng_close(e);
}
