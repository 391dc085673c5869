/*
 * engine/workflow/conditions.c: Knock conditions, {variable, operator,
 * argument}, shared by step, channel and preference conditions.  An array
 * of them is ANDed; an empty array holds.
 *
 * Variables.  A variable is a dotted path into the evaluation context.  Its
 * first segment is a root -- data, recipient, actor, tenant or refs in a
 * workflow's conditions, event in a source's (eng_cond_check_event) -- and
 * the rest walk objects by key ("recipient.subscription.properties.role");
 * a segment of digits indexes an array ("data.items.0.sku").  A root alone
 * ("tenant") names the whole value.  A path that does not resolve, or that
 * resolves to JSON null, is missing.
 *
 * Arguments.  A string argument that begins with a root and a dot
 * ("data.limit", "actor.id") is a reference, replaced by that variable's
 * value when the variable is present.  When it is missing the string is
 * taken literally: "data.csv" still compares as a file name when data has
 * no "csv" key, and a comparison with a dangling reference is, in practice,
 * false.  Every other argument is a literal.
 *
 * Operators, v being the variable's value and a the argument's:
 *   equal_to          two strings compare as strings ("5" != "5.0"); a
 *                     number and a number or numeric string compare
 *                     numerically (5 == "5" == 5.0); a boolean and the
 *                     string "true" or "false" compare as booleans (Knock's
 *                     editor stores arguments as strings); anything else by
 *                     JSON equality, so mismatched types are unequal.
 *   greater_than, less_than, greater_than_or_equal_to,
 *   less_than_or_equal_to
 *                     both numbers or numeric strings (JSON number syntax),
 *                     compared numerically, integers exactly; else false.
 *   contains          a string v and a string a: a is a substring of v; an
 *                     array v: some element is equal_to a; else false.
 *   is_timestamp_before, is_timestamp_after
 *                     both RFC 3339 date-times ("2026-03-08T07:30:00Z",
 *                     "2026-03-08T02:30:00.250-05:00"), compared as
 *                     instants to the nanosecond; else false.  No ICU: the
 *                     parser below is self-contained.
 *   exists            v is present.
 *   empty             v is missing, null, "", [] or {}.
 *   is_audience_member
 *                     a string a: the recipient being evaluated is a member
 *                     of audience a, as the evaluation's environment answers
 *                     (eng_cond_eval_env); the variable is not read
 *                     (Knock's is "recipient").  Without an environment no
 *                     one is a member.
 * not_equal_to, not_contains, not_exists, not_empty and
 * is_not_audience_member are the exact negations of their positive forms.  So a missing variable makes every
 * comparison false and every negated one true.
 *
 * Checking refuses a non-array, a non-object entry, a variable that is not
 * a path under a root, an unknown operator, an argument given to exists,
 * not_exists, empty or not_empty (absent, null and "" are allowed), a
 * missing or null argument to any other operator, a literal argument to an
 * ordering operator that is not a number, and one to a timestamp operator
 * that is not an RFC 3339 date-time.  Other keys are ignored.  Evaluation
 * never fails: a malformed condition does not hold.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tz/tz.h"
#include "engine/workflow/conditions.h"

#define COND_NITEMS(a) (sizeof(a) / sizeof((a)[0]))

enum cond_op {
	COND_EQ,
	COND_NE,
	COND_GT,
	COND_LT,
	COND_GE,
	COND_LE,
	COND_CONTAINS,
	COND_NOT_CONTAINS,
	COND_EXISTS,
	COND_NOT_EXISTS,
	COND_TS_BEFORE,
	COND_TS_AFTER,
	COND_EMPTY,
	COND_NOT_EMPTY,
	COND_MEMBER,
	COND_NOT_MEMBER
};

/* What an operator's argument must be. */
enum cond_argkind {
	COND_ARG_NONE,   /* absent (null or "" tolerated) */
	COND_ARG_ANY,    /* any non-null value */
	COND_ARG_NUMBER, /* a number, a numeric string or a reference */
	COND_ARG_TIME,   /* an RFC 3339 string or a reference */
	COND_ARG_STRING  /* a string (an audience key) or a reference */
};

static const struct cond_opdef {
	const char *name;
	enum cond_op op;
	enum cond_argkind arg;
} cond_ops[] = {
	{ "equal_to", COND_EQ, COND_ARG_ANY },
	{ "not_equal_to", COND_NE, COND_ARG_ANY },
	{ "greater_than", COND_GT, COND_ARG_NUMBER },
	{ "less_than", COND_LT, COND_ARG_NUMBER },
	{ "greater_than_or_equal_to", COND_GE, COND_ARG_NUMBER },
	{ "less_than_or_equal_to", COND_LE, COND_ARG_NUMBER },
	{ "contains", COND_CONTAINS, COND_ARG_ANY },
	{ "not_contains", COND_NOT_CONTAINS, COND_ARG_ANY },
	{ "exists", COND_EXISTS, COND_ARG_NONE },
	{ "not_exists", COND_NOT_EXISTS, COND_ARG_NONE },
	{ "is_timestamp_before", COND_TS_BEFORE, COND_ARG_TIME },
	{ "is_timestamp_after", COND_TS_AFTER, COND_ARG_TIME },
	{ "empty", COND_EMPTY, COND_ARG_NONE },
	{ "not_empty", COND_NOT_EMPTY, COND_ARG_NONE },
	{ "is_audience_member", COND_MEMBER, COND_ARG_STRING },
	{ "is_not_audience_member", COND_NOT_MEMBER, COND_ARG_STRING },
};

/* The roots of a workflow's variables, then a source's ("event"). */
static const char *const cond_roots[] = {
	"data", "recipient", "actor", "tenant", "refs", "event"
};

/* A number from JSON or a numeric string: exact when an integer. */
struct cond_num {
	int isint;
	long long i;
	double d;
};

/* An instant: seconds since the epoch and nanoseconds. */
struct cond_time {
	int64_t sec;
	long nsec;
};

static int cond_time_parse(const char *, struct cond_time *);

/* The operator named name, or NULL. */
static const struct cond_opdef *
cond_opdef(const char *name)
{
	size_t i;

	for (i = 0; i < COND_NITEMS(cond_ops); i++) {
		if (strcmp(cond_ops[i].name, name) == 0)
			return &cond_ops[i];
	}
	return NULL;
}

/* The length of path's root when path starts with one, else 0. */
static size_t
cond_root(const char *path)
{
	size_t i, n;

	for (i = 0; i < COND_NITEMS(cond_roots); i++) {
		n = strlen(cond_roots[i]);
		if (strncmp(path, cond_roots[i], n) == 0 &&
		    (path[n] == '.' || path[n] == '\0'))
			return n;
	}
	return 0;
}

/*
 * Whether path is a root followed by non-empty dotted segments; with
 * event, the root must be "event", else one of a workflow's.
 */
static int
cond_path_valid(const char *path, int event)
{
	const char *p;
	size_t n = cond_root(path);

	if (n == 0 || (strncmp(path, "event", n) == 0) != event)
		return 0;
	for (p = path; *p != '\0'; p++) {
		if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
			return 0;
	}
	return 1;
}

/* Whether arg is a reference: a string naming a path below a root. */
static int
cond_is_ref(json_t *arg)
{
	const char *s;
	size_t n;

	if (!json_is_string(arg))
		return 0;
	s = json_string_value(arg);
	n = cond_root(s);
	return n != 0 && s[n] == '.' && (cond_path_valid(s, 0) ||
	    cond_path_valid(s, 1));
}

/* Parse an array index made only of digits; 0 or -1. */
static int
cond_index(const char *s, size_t *idx)
{
	unsigned long long v;
	const char *p;
	char *end;

	for (p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
	}
	if (p == s)
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > SIZE_MAX)
		return -1;
	*idx = (size_t)v;
	return 0;
}

/* The value at path in ctx (borrowed), or NULL when missing or null. */
static json_t *
cond_lookup(json_t *ctx, const char *path)
{
	json_t *v = ctx;
	const char *p = path;
	char *seg;
	size_t len, idx;

	if (cond_root(path) == 0)
		return NULL;
	for (;;) {
		len = strcspn(p, ".");
		if (v == NULL || len == 0)
			return NULL;
		seg = xmalloc(len + 1);
		memcpy(seg, p, len);
		seg[len] = '\0';
		if (json_is_object(v))
			v = json_object_get(v, seg);
		else if (json_is_array(v) && cond_index(seg, &idx) == 0)
			v = json_array_get(v, idx);
		else
			v = NULL;
		free(seg);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	return json_is_null(v) ? NULL : v;
}

/* The argument's value: a reference resolved in ctx, else the literal. */
static json_t *
cond_arg(json_t *arg, json_t *ctx)
{
	json_t *v;

	if (cond_is_ref(arg) &&
	    (v = cond_lookup(ctx, json_string_value(arg))) != NULL)
		return v;
	return arg;
}

/* Advance *pp past a run of digits. */
static void
cond_skip_digits(const char **pp)
{
	while (isdigit((unsigned char)**pp))
		(*pp)++;
}

/* Parse a string in JSON number syntax ("-12", "3.5e2"); 0 or -1. */
static int
cond_num_str(const char *s, struct cond_num *n)
{
	const char *p = s, *q;
	int integral = 1;
	char *end;

	if (*p == '-')
		p++;
	q = p;
	cond_skip_digits(&p);
	if (p == q)
		return -1;
	if (*p == '.') {
		q = ++p;
		cond_skip_digits(&p);
		if (p == q)
			return -1;
		integral = 0;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		q = p;
		cond_skip_digits(&p);
		if (p == q)
			return -1;
		integral = 0;
	}
	if (*p != '\0')
		return -1;
	if (integral) {
		errno = 0;
		n->i = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0') {
			n->isint = 1;
			n->d = (double)n->i;
			return 0;
		}
	}
	n->isint = 0;
	n->d = strtod(s, &end);
	return 0;
}

/* v as a number, from a JSON number or a numeric string; 0 or -1. */
static int
cond_num(json_t *v, struct cond_num *n)
{
	if (json_is_integer(v)) {
		n->isint = 1;
		n->i = json_integer_value(v);
		n->d = (double)n->i;
		return 0;
	}
	if (json_is_real(v)) {
		n->isint = 0;
		n->d = json_real_value(v);
		return 0;
	}
	if (json_is_string(v))
		return cond_num_str(json_string_value(v), n);
	return -1;
}

/* Compare two numbers: negative, zero or positive. */
static int
cond_num_cmp(const struct cond_num *a, const struct cond_num *b)
{
	if (a->isint && b->isint)
		return (a->i > b->i) - (a->i < b->i);
	return (a->d > b->d) - (a->d < b->d);
}

/* The boolean a string spells ("true" 1, "false" 0), else -1. */
static int
cond_bool_str(json_t *v)
{
	if (!json_is_string(v))
		return -1;
	if (strcmp(json_string_value(v), "true") == 0)
		return 1;
	if (strcmp(json_string_value(v), "false") == 0)
		return 0;
	return -1;
}

/* Whether a and b are equal under equal_to's coercions. */
static int
cond_equal(json_t *a, json_t *b)
{
	struct cond_num x, y;

	if (json_is_string(a) && json_is_string(b))
		return json_equal(a, b);
	if ((json_is_number(a) || json_is_number(b)) && cond_num(a, &x) == 0 &&
	    cond_num(b, &y) == 0)
		return cond_num_cmp(&x, &y) == 0;
	if (json_is_boolean(a) && json_is_string(b))
		return cond_bool_str(b) == (json_is_true(a) ? 1 : 0);
	if (json_is_boolean(b) && json_is_string(a))
		return cond_bool_str(a) == (json_is_true(b) ? 1 : 0);
	return json_equal(a, b);
}

/* Whether v contains a: a substring of a string, an element of an array. */
static int
cond_contains(json_t *v, json_t *a)
{
	size_t i;
	json_t *e;

	if (json_is_string(v) && json_is_string(a))
		return strstr(json_string_value(v), json_string_value(a)) != NULL;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (cond_equal(e, a))
				return 1;
		}
	}
	return 0;
}

/* Whether v is missing, null, "", [] or {}. */
static int
cond_empty(json_t *v)
{
	if (v == NULL || json_is_null(v))
		return 1;
	if (json_is_string(v))
		return json_string_length(v) == 0;
	if (json_is_array(v))
		return json_array_size(v) == 0;
	if (json_is_object(v))
		return json_object_size(v) == 0;
	return 0;
}

/* Read exactly n digits into *out; 0 or -1. */
static int
cond_digits(const char **pp, int n, int *out)
{
	const char *p = *pp;
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*pp = p + n;
	*out = v;
	return 0;
}

/* Consume one character that is in set; 0 or -1. */
static int
cond_char(const char **pp, const char *set)
{
	if (**pp == '\0' || strchr(set, **pp) == NULL)
		return -1;
	(*pp)++;
	return 0;
}

/* The number of days in a month of the proleptic Gregorian calendar. */
static int
cond_mdays(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[month - 1] + (month == 2 && leap);
}

/* An RFC 3339 date-time as whole seconds since the epoch; 0 or -1. */
int
eng_time_parse(const char *s, int64_t *t)
{
	struct cond_time ct;

	if (cond_time_parse(s, &ct) != 0)
		return -1;
	*t = ct.sec;
	return 0;
}

/* Parse an RFC 3339 date-time into an instant; 0 or -1. */
static int
cond_time_parse(const char *s, struct cond_time *t)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	long ns = 0, scale = 100000000;

	if (cond_digits(&p, 4, &y) != 0 || cond_char(&p, "-") != 0 ||
	    cond_digits(&p, 2, &mo) != 0 || cond_char(&p, "-") != 0 ||
	    cond_digits(&p, 2, &d) != 0 || cond_char(&p, "Tt ") != 0 ||
	    cond_digits(&p, 2, &h) != 0 || cond_char(&p, ":") != 0 ||
	    cond_digits(&p, 2, &mi) != 0 || cond_char(&p, ":") != 0 ||
	    cond_digits(&p, 2, &sec) != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > cond_mdays(y, mo) || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			ns += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (cond_char(&p, "Zz") != 0) {
		if (*p == '+')
			sign = 1;
		else if (*p == '-')
			sign = -1;
		else
			return -1;
		p++;
		if (cond_digits(&p, 2, &oh) != 0 || cond_char(&p, ":") != 0 ||
		    cond_digits(&p, 2, &om) != 0 || oh > 23 || om > 59)
			return -1;
	}
	if (*p != '\0')
		return -1;
	t->sec = tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	t->nsec = ns;
	return 0;
}

/* Compare v's and a's instants into *cmp; 0, or -1 if either is not one. */
static int
cond_time_cmp(json_t *v, json_t *a, int *cmp)
{
	struct cond_time x, y;

	if (!json_is_string(v) || !json_is_string(a) ||
	    cond_time_parse(json_string_value(v), &x) != 0 ||
	    cond_time_parse(json_string_value(a), &y) != 0)
		return -1;
	if (x.sec != y.sec)
		*cmp = x.sec < y.sec ? -1 : 1;
	else
		*cmp = (x.nsec > y.nsec) - (x.nsec < y.nsec);
	return 0;
}

/* Whether the recipient env evaluates for is a member of audience a. */
static int
cond_member(const struct eng_cond_env *env, json_t *a)
{
	if (env == NULL || env->member == NULL || !json_is_string(a))
		return 0;
	return env->member(env->arg, json_string_value(a)) == 1;
}

/* Whether one condition holds in ctx and env; a malformed one does not. */
static int
cond_eval_one(json_t *c, json_t *ctx, const struct eng_cond_env *env)
{
	const struct cond_opdef *def;
	json_t *var, *op, *arg, *v, *a = NULL;
	struct cond_num x, y;
	int cmp;

	var = json_object_get(c, "variable");
	op = json_object_get(c, "operator");
	if (!json_is_string(var) || !json_is_string(op) ||
	    (def = cond_opdef(json_string_value(op))) == NULL)
		return 0;
	v = cond_lookup(ctx, json_string_value(var));
	arg = json_object_get(c, "argument");
	if (def->arg != COND_ARG_NONE) {
		if (arg == NULL || json_is_null(arg))
			return 0;
		a = cond_arg(arg, ctx);
	}

	switch (def->op) {
	case COND_EQ:
		return v != NULL && cond_equal(v, a);
	case COND_NE:
		return v == NULL || !cond_equal(v, a);
	case COND_GT:
	case COND_LT:
	case COND_GE:
	case COND_LE:
		if (v == NULL || cond_num(v, &x) != 0 || cond_num(a, &y) != 0)
			return 0;
		cmp = cond_num_cmp(&x, &y);
		if (def->op == COND_GT)
			return cmp > 0;
		if (def->op == COND_LT)
			return cmp < 0;
		if (def->op == COND_GE)
			return cmp >= 0;
		return cmp <= 0;
	case COND_CONTAINS:
		return v != NULL && cond_contains(v, a);
	case COND_NOT_CONTAINS:
		return v == NULL || !cond_contains(v, a);
	case COND_EXISTS:
		return v != NULL;
	case COND_NOT_EXISTS:
		return v == NULL;
	case COND_TS_BEFORE:
		return v != NULL && cond_time_cmp(v, a, &cmp) == 0 && cmp < 0;
	case COND_TS_AFTER:
		return v != NULL && cond_time_cmp(v, a, &cmp) == 0 && cmp > 0;
	case COND_EMPTY:
		return cond_empty(v);
	case COND_NOT_EMPTY:
		return !cond_empty(v);
	case COND_MEMBER:
		return cond_member(env, a);
	case COND_NOT_MEMBER:
		return !cond_member(env, a);
	}
	return 0;
}

/* Check conditions[i] (of a source's with event); 0 or -1 with *cause. */
static int
cond_check_one(json_t *c, size_t i, int event, char **cause)
{
	const struct cond_opdef *def;
	json_t *var, *op, *arg;
	struct cond_num n;
	struct cond_time t;
	const char *name;

	if (!json_is_object(c)) {
		*cause = xasprintf("conditions[%zu]: must be an object", i);
		return -1;
	}
	var = json_object_get(c, "variable");
	if (!json_is_string(var)) {
		*cause = xasprintf("conditions[%zu]: variable must be a string",
		    i);
		return -1;
	}
	if (!cond_path_valid(json_string_value(var), event)) {
		*cause = xasprintf("conditions[%zu]: variable \"%s\" is not a "
		    "path under %s", i, json_string_value(var), event ?
		    "event" : "data, recipient, actor, tenant or refs");
		return -1;
	}
	op = json_object_get(c, "operator");
	if (!json_is_string(op)) {
		*cause = xasprintf("conditions[%zu]: operator must be a string",
		    i);
		return -1;
	}
	name = json_string_value(op);
	if ((def = cond_opdef(name)) == NULL) {
		*cause = xasprintf("conditions[%zu]: unknown operator \"%s\"", i,
		    name);
		return -1;
	}

	arg = json_object_get(c, "argument");
	if (def->arg == COND_ARG_NONE) {
		if (arg != NULL && !json_is_null(arg) &&
		    !(json_is_string(arg) && json_string_length(arg) == 0)) {
			*cause = xasprintf("conditions[%zu]: operator \"%s\" "
			    "takes no argument", i, name);
			return -1;
		}
		return 0;
	}
	if (arg == NULL || json_is_null(arg)) {
		*cause = xasprintf("conditions[%zu]: operator \"%s\" needs an "
		    "argument", i, name);
		return -1;
	}
	if (cond_is_ref(arg))
		return 0;
	if (def->arg == COND_ARG_NUMBER && cond_num(arg, &n) != 0) {
		*cause = xasprintf("conditions[%zu]: argument of \"%s\" must be "
		    "a number or a variable", i, name);
		return -1;
	}
	if (def->arg == COND_ARG_STRING && (!json_is_string(arg) ||
	    json_string_length(arg) == 0)) {
		*cause = xasprintf("conditions[%zu]: argument of \"%s\" must be "
		    "an audience key", i, name);
		return -1;
	}
	if (def->arg == COND_ARG_TIME && (!json_is_string(arg) ||
	    cond_time_parse(json_string_value(arg), &t) != 0)) {
		*cause = xasprintf("conditions[%zu]: argument of \"%s\" must be "
		    "an RFC 3339 timestamp or a variable", i, name);
		return -1;
	}
	return 0;
}

/* Validate a conditions array of either kind; 0 or -1 with *cause. */
static int
cond_check(json_t *conditions, int event, char **cause)
{
	json_t *c;
	size_t i;

	if (!json_is_array(conditions)) {
		*cause = xstrdup("conditions: must be an array");
		return -1;
	}
	json_array_foreach(conditions, i, c) {
		if (cond_check_one(c, i, event, cause) != 0)
			return -1;
	}
	return 0;
}

/* Validate a workflow's conditions array; 0 or -1 with *cause. */
int
eng_cond_check(json_t *conditions, char **cause)
{
	return cond_check(conditions, 0, cause);
}

/* Validate a source mapping's conditions (on event.*); 0 or -1. */
int
eng_cond_check_event(json_t *conditions, char **cause)
{
	return cond_check(conditions, 1, cause);
}

/* Evaluate ANDed conditions in ctx: 1 if all hold, else 0 and *failed. */
int
eng_cond_eval(json_t *conditions, json_t *ctx, size_t *failed)
{
	return eng_cond_eval_env(conditions, ctx, NULL, failed);
}

/* eng_cond_eval asking env (may be NULL) about audiences. */
int
eng_cond_eval_env(json_t *conditions, json_t *ctx,
    const struct eng_cond_env *env, size_t *failed)
{
	json_t *c;
	size_t i;

	if (conditions == NULL)
		return 1;
	if (!json_is_array(conditions)) {
		if (failed != NULL)
			*failed = 0;
		return 0;
	}
	json_array_foreach(conditions, i, c) {
		if (!cond_eval_one(c, ctx, env)) {
			if (failed != NULL)
				*failed = i;
			return 0;
		}
	}
	return 1;
}
