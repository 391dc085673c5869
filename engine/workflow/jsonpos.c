/*
 * Where a value sits in JSON text: jansson reports line and column for
 * syntax errors only, so configuration errors about a value ("unknown step
 * type") find its position by walking the text along the value's path.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

struct jsonpos {
	const char *p;
	int line, col;
};

/* Advance one character, counting lines and columns. */
static void
jsonpos_adv(struct jsonpos *j)
{
	if (*j->p == '\n') {
		j->line++;
		j->col = 1;
	} else
		j->col++;
	j->p++;
}

/* Skip white space. */
static void
jsonpos_ws(struct jsonpos *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		jsonpos_adv(j);
}

/*
 * Skip a string, copying up to len-1 raw bytes of it into out if given;
 * returns how many there are, so that a longer string is not taken for
 * its first len-1 bytes.
 */
static size_t
jsonpos_string(struct jsonpos *j, char *out, size_t len)
{
	size_t n = 0;

	if (*j->p != '"')
		return 0;
	jsonpos_adv(j);
	while (*j->p != '\0' && *j->p != '"') {
		if (*j->p == '\\' && j->p[1] != '\0')
			jsonpos_adv(j);
		if (out != NULL && n + 1 < len)
			out[n] = *j->p;
		n++;
		jsonpos_adv(j);
	}
	if (*j->p == '"')
		jsonpos_adv(j);
	if (out != NULL)
		out[n < len ? n : len - 1] = '\0';
	return n;
}

/* Skip one value of any kind (iteratively: depth is counted, not recursed). */
static void
jsonpos_skip(struct jsonpos *j)
{
	int depth = 0;

	do {
		jsonpos_ws(j);
		if (*j->p == '"')
			jsonpos_string(j, NULL, 0);
		else if (*j->p == '{' || *j->p == '[') {
			depth++;
			jsonpos_adv(j);
		} else if (*j->p == '}' || *j->p == ']') {
			depth--;
			jsonpos_adv(j);
		} else if (*j->p == ',' || *j->p == ':') {
			if (depth == 0)
				return;
			jsonpos_adv(j);
		} else if (*j->p == '\0')
			return;
		else
			while (*j->p != '\0' && strchr(",:]} \t\r\n", *j->p) ==
			    NULL)
				jsonpos_adv(j);
	} while (depth > 0);
}

/* Find the position of the value at path ("a.b[2].c"); 0 or -1. */
int
eng_jsonpos(const char *text, const char *path, int *line, int *col)
{
	struct jsonpos j = { text, 1, 1 };
	char seg[256], key[256];
	const char *s = path;
	char *end;
	long idx;
	size_t n, klen;
	int found;

	while (*s != '\0') {
		jsonpos_ws(&j);
		if (*s == '[') {
			idx = strtol(s + 1, &end, 10);
			s = end;
			if (*s++ != ']' || *j.p != '[')
				return -1;
			jsonpos_adv(&j);
			for (; idx > 0; idx--) {
				jsonpos_skip(&j);
				jsonpos_ws(&j);
				if (*j.p != ',')
					return -1;
				jsonpos_adv(&j);
			}
		} else {
			if (*s == '.')
				s++;
			n = strcspn(s, ".[");
			if (n >= sizeof seg || *j.p != '{')
				return -1;
			memcpy(seg, s, n);
			seg[n] = '\0';
			s += n;
			jsonpos_adv(&j);
			for (found = 0; !found;) {
				jsonpos_ws(&j);
				if (*j.p != '"')
					return -1;
				klen = jsonpos_string(&j, key, sizeof key);
				jsonpos_ws(&j);
				if (*j.p != ':')
					return -1;
				jsonpos_adv(&j);
				if (klen < sizeof key && strcmp(key, seg) == 0) {
					found = 1;
					break;
				}
				jsonpos_skip(&j);
				jsonpos_ws(&j);
				if (*j.p != ',')
					return -1;
				jsonpos_adv(&j);
			}
		}
	}
	jsonpos_ws(&j);
	*line = j.line;
	*col = j.col;
	return 0;
}
