/*
 * Message templates (private to engine/): a safe subset of Liquid, the
 * language Knock's templates use.
 *
 * A template is text with expressions in "{{ }}":
 *
 *	{{ path }}	{{ path | filter | filter: arg, arg }}
 *
 * A path is a key followed by ".key", "[index]" (negative counts from the
 * end) or ["quoted key"] steps, looked up in the context object; a ".size"
 * step is the length of an array, object or string (an object's own "size"
 * key wins).  Keys are letters, digits, '_', '-', '$' and non-ASCII bytes.
 * Filter arguments are "strings" or 'strings' (no escapes, as in Liquid),
 * numbers, or paths.  Filters: default: v, upcase, downcase, json,
 * truncate: n[, ellipsis], join[: sep], size.  "{%" anywhere (tags),
 * "{{-" and " -}}" (whitespace control) and unknown filters are syntax
 * errors.
 *
 * Rendering never fails on data: a missing value or null renders empty,
 * strings raw, numbers as JSON numbers (reals in their shortest form),
 * booleans as true/false, arrays and objects as compact JSON.  In
 * ENG_TEMPLATE_JSON mode every inserted value is further escaped as the
 * contents of a JSON string, so a template that is valid JSON with its
 * expressions inside strings stays valid JSON whatever the data holds;
 * in ENG_TEMPLATE_HTML mode its HTML special characters become character
 * references, so data cannot add markup to an email's HTML.
 *
 * Bounds: a template is at most ENG_TEMPLATE_MAX_SIZE bytes with at most
 * ENG_TEMPLATE_MAX_EXPRS expressions; the output is at most
 * ENG_TEMPLATE_MAX_OUTPUT bytes.  The template's own text is never cut:
 * inserted values are, at a character boundary, and once one has been cut
 * the remaining expressions render empty.  Intermediate values made by
 * filters share a fixed work budget per render.  Nothing recurses.
 */
#ifndef BELFRY_ENGINE_TEMPLATE_H
#define BELFRY_ENGINE_TEMPLATE_H

#include <jansson.h>

#define ENG_TEMPLATE_MAX_OUTPUT (1024 * 1024)
#define ENG_TEMPLATE_MAX_SIZE ENG_TEMPLATE_MAX_OUTPUT
#define ENG_TEMPLATE_MAX_EXPRS 10000

/* How inserted values are written. */
enum eng_template_mode {
	ENG_TEMPLATE_TEXT, /* as they are (email text, SMS, chat text) */
	ENG_TEMPLATE_JSON, /* escaped as JSON string contents (webhook body) */
	ENG_TEMPLATE_HTML  /* & < > " ' as character references (email html) */
};

/*
 * Render tpl against ctx (a JSON object; NULL or a non-object is an empty
 * context).  Returns a new string for the caller to free.  Never fails on
 * missing variables (they render empty); returns NULL with *cause only for
 * a template that does not pass eng_template_check().
 */
char *eng_template_render(const char *tpl, json_t *ctx,
    enum eng_template_mode mode, char **cause);

/*
 * Check a template's syntax at config load: 0, or -1 with *cause naming
 * the problem and its byte offset ("... at byte N", counted from 0).
 */
int eng_template_check(const char *tpl, char **cause);

/*
 * A template parsed once, at config load, and rendered for every
 * recipient: eng_template_parse fails as eng_template_check does (tpl must
 * outlive the result); eng_template_run renders as eng_template_render.
 */
struct eng_template;
struct eng_template *eng_template_parse(const char *tpl, char **cause);
char *eng_template_run(const struct eng_template *t, json_t *ctx,
    enum eng_template_mode mode);
void eng_template_free(struct eng_template *t);

#endif
