/*
 * The configuration model: what belfry.conf, the workflows, the
 * schedules and the sources files say once loaded (engine/config/load.c), read by the
 * rest of the engine and by the daemon, and freed.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/workflow/workflow_int.h"
#include "engine/workflow/template.h"

/* Free a configuration. */
void
eng_config_free(struct eng_config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_workflows; i++) {
		struct eng_workflow *w = &c->workflows[i];

		for (j = 0; j < w->nsteps; j++) {
			struct eng_step *st = &w->steps[j];
			size_t k;

			free(st->ref);
			free(st->type);
			json_decref(st->template);
			for (k = 0; k < sizeof st->parts / sizeof st->parts[0];
			    k++)
				eng_template_free(st->parts[k]);
			for (k = 0; k < st->nbuttons; k++)
				eng_template_free(st->buttons[k]);
			free(st->buttons);
			json_decref(st->conditions);
			json_decref(st->def);
			free(st->duration_key);
			free(st->window_rule);
			free(st->batch_key);
			free(st->throttle_key);
			for (k = 0; k < st->nbranches; k++) {
				free(st->branches[k].name);
				json_decref(st->branches[k].conditions);
			}
			free(st->branches);
		}
		free(w->steps);
		free(w->key);
		free(w->name);
		json_decref(w->categories);
		json_decref(w->data_required);
	}
	free(c->workflows);
	for (i = 0; i < c->n_sources; i++) {
		struct eng_srcdef *d = &c->sources[i];

		for (j = 0; j < d->nmaps; j++) {
			struct eng_srcmap *m = &d->maps[j];

			free(m->event);
			free(m->workflow);
			free(m->recipients);
			free(m->actor);
			free(m->data);
			free(m->tenant);
			free(m->ckey);
			json_decref(m->conditions);
		}
		free(d->maps);
		for (j = 0; j < d->n_write_keys; j++)
			free(d->write_keys[j]);
		free(d->write_keys);
		free(d->key);
		free(d->type);
		free(d->group_collection);
	}
	free(c->sources);
	for (i = 0; i < c->n_channels; i++)
		cfg_channel_clear(&c->channels[i]);
	free(c->channels);
	for (i = 0; i < c->n_api_keys; i++)
		free(c->api_keys[i]);
	free(c->api_keys);
	for (i = 0; i < c->n_public_keys; i++)
		free(c->public_keys[i]);
	free(c->public_keys);
	for (i = 0; i < c->n_metrics_keys; i++)
		free(c->metrics_keys[i]);
	free(c->metrics_keys);
	free(c->socket_group);
	for (i = 0; i < c->n_origins; i++)
		free(c->origins[i]);
	free(c->origins);
	free(c->user_token_key);
	free(c->tls_cert);
	free(c->tls_key);
	json_decref(c->default_prefs);
	json_decref(c->schedules);
	json_decref(c->schedule_files);
	free(c->dir);
	free(c->socket);
	free(c->database);
	free(c->listen);
	free(c->db_check);
	free(c->default_timezone);
	free(c);
}

/* The workflow called key, or NULL. */
const struct eng_workflow *
eng_workflow_find(const struct eng_config *c, const char *key)
{
	size_t i;

	for (i = 0; c != NULL && i < c->n_workflows; i++)
		if (strcmp(c->workflows[i].key, key) == 0)
			return &c->workflows[i];
	return NULL;
}

/* The source called key, or NULL. */
const struct eng_srcdef *
eng_srcdef_find(const struct eng_config *c, const char *key)
{
	size_t i;

	for (i = 0; c != NULL && i < c->n_sources; i++)
		if (strcmp(c->sources[i].key, key) == 0)
			return &c->sources[i];
	return NULL;
}

/* How many sources are loaded. */
size_t
eng_config_source_count(const struct eng_config *c)
{
	return c->n_sources;
}

/* belfry.conf's socket. */
const char *
eng_config_socket(const struct eng_config *c)
{
	return c->socket;
}

/* belfry.conf's database. */
const char *
eng_config_database(const struct eng_config *c)
{
	return c->database;
}

/* belfry.conf's database_integrity_check: quick (default), full or off. */
const char *
eng_config_database_check(const struct eng_config *c)
{
	return c->db_check != NULL ? c->db_check : "quick";
}

/* belfry.conf's listen address. */
const char *
eng_config_listen(const struct eng_config *c)
{
	return c->listen;
}

/* belfry.conf's header_timeout: seconds for a whole request head. */
int
eng_config_header_timeout(const struct eng_config *c)
{
	return c->header_timeout;
}

/* belfry.conf's body_timeout: seconds for a request body (and a reply). */
int
eng_config_body_timeout(const struct eng_config *c)
{
	return c->body_timeout;
}

/* belfry.conf's idle_timeout: seconds a kept-alive connection may idle. */
int
eng_config_idle_timeout(const struct eng_config *c)
{
	return c->idle_timeout;
}

/* belfry.conf's max_connections: open connections per listener. */
int
eng_config_max_connections(const struct eng_config *c)
{
	return c->max_connections;
}

/* belfry.conf's default time zone. */
const char *
eng_config_default_timezone(const struct eng_config *c)
{
	return c->default_timezone;
}

/* How many API keys belfry.conf lists. */
size_t
eng_config_api_key_count(const struct eng_config *c)
{
	return c->n_api_keys;
}

/* API key i. */
const char *
eng_config_api_key(const struct eng_config *c, size_t i)
{
	return i < c->n_api_keys ? c->api_keys[i] : NULL;
}

/* How many public API keys belfry.conf lists. */
size_t
eng_config_public_key_count(const struct eng_config *c)
{
	return c->n_public_keys;
}

/* Public API key i. */
const char *
eng_config_public_key(const struct eng_config *c, size_t i)
{
	return i < c->n_public_keys ? c->public_keys[i] : NULL;
}

/* How many metrics API keys there are (belfry.conf, credentials). */
size_t
eng_config_metrics_key_count(const struct eng_config *c)
{
	return c->n_metrics_keys;
}

/* Metrics API key i. */
const char *
eng_config_metrics_key(const struct eng_config *c, size_t i)
{
	return i < c->n_metrics_keys ? c->metrics_keys[i] : NULL;
}

/* belfry.conf's socket_group, or NULL. */
const char *
eng_config_socket_group(const struct eng_config *c)
{
	return c->socket_group;
}

/* Whether belfry.conf's log_format is "json". */
int
eng_config_log_json(const struct eng_config *c)
{
	return c->log_json;
}

/* belfry.conf's user_token_public_key (a PEM file's path), or NULL. */
const char *
eng_config_user_token_key(const struct eng_config *c)
{
	return c->user_token_key;
}

/* How many allowed origins belfry.conf lists. */
size_t
eng_config_origin_count(const struct eng_config *c)
{
	return c->n_origins;
}

/* Allowed origin i. */
const char *
eng_config_origin(const struct eng_config *c, size_t i)
{
	return i < c->n_origins ? c->origins[i] : NULL;
}

/* The tls section's certificate file, or NULL. */
const char *
eng_config_tls_certificate(const struct eng_config *c)
{
	return c->tls_cert;
}

/* The tls section's key file, or NULL. */
const char *
eng_config_tls_key(const struct eng_config *c)
{
	return c->tls_key;
}

/* How many workflows are loaded. */
size_t
eng_config_workflow_count(const struct eng_config *c)
{
	return c->n_workflows;
}

/* How many channels belfry.conf defines. */
size_t
eng_config_channel_count(const struct eng_config *c)
{
	return c->n_channels;
}

/* Channel i of belfry.conf. */
const struct eng_channel *
eng_config_channel(const struct eng_config *c, size_t i)
{
	return i < c->n_channels ? &c->channels[i] : NULL;
}

/* Whether configuration c has workflow key. */
int
eng_config_has_workflow(const struct eng_config *c, const char *key)
{
	return eng_workflow_find(c, key) != NULL;
}
