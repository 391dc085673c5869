/*
 * belfryd: the daemon.  Start-up order: zone rules, configuration (any
 * error names file:line:column and is fatal), the database, the event
 * loop and its listeners, then READY=1 to systemd.  Signals: SIGHUP
 * reloads the configuration (a bad one is reported and the old one stays),
 * SIGTERM and SIGINT stop accepting, finish the queued batch and exit 0.
 */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <openssl/evp.h>

#include "scheduler/notify.h"
#include "scheduler/scheduler.h"

#define BELFRYD_SOCKET "/run/belfry/admin.sock"
#define BELFRYD_DATABASE "/var/lib/belfry/belfry.db"

/* Print the usage (with every option on stdout for --help) and exit. */
static void __attribute__((noreturn))
belfryd_usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f, "usage: belfryd -c CONFIG_DIR [--socket PATH] "
	    "[--database PATH]\n"
	    "               [--listen HOST:PORT] "
	    "[--virtual-clock YYYY-MM-DDTHH:MM:SSZ] [-v]\n"
	    "       belfryd --version | --help\n");
	if (status != 0)
		exit(status);
	fprintf(f, "\n"
	    "  -c, --config DIR      the configuration directory (belfry.conf,"
	    "\n"
	    "                        workflows/, schedules/, sources/)\n"
	    "  -s, --socket PATH     the admin socket (default: belfry.conf's "
	    "socket,\n"
	    "                        else " BELFRYD_SOCKET ")\n"
	    "  -d, --database PATH   the SQLite database, or a postgresql:// URI"
	    "\n"
	    "                        (default: belfry.conf's database, else\n"
	    "                        " BELFRYD_DATABASE ")\n"
	    "  -l, --listen HOST:PORT  the TCP listener (default: belfry.conf's "
	    "listen;\n"
	    "                        \"\" for none)\n"
	    "      --virtual-clock INSTANT  run on a virtual clock starting "
	    "there, moved\n"
	    "                        only by POST /admin/clock (tests)\n"
	    "  -v, --verbose         log debug lines: one per request (method, "
	    "path,\n"
	    "                        status, latency)\n"
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            print this help and exit\n"
	    "\nSignals: SIGHUP reloads the configuration, SIGTERM stops.  "
	    "See belfryd(8).\n");
	exit(0);
}

/* Set the socket, database and listen values: flags beat belfry.conf. */
static void
belfryd_paths(struct sch *s, const struct eng_config *c)
{
	const char *v;

	free(s->socket_path);
	free(s->database);
	free(s->listen);
	v = s->opt_socket ? s->opt_socket : eng_config_socket(c);
	s->socket_path = xstrdup(v != NULL ? v : BELFRYD_SOCKET);
	v = s->opt_database ? s->opt_database : eng_config_database(c);
	s->database = xstrdup(v != NULL ? v : BELFRYD_DATABASE);
	v = s->opt_listen ? s->opt_listen : eng_config_listen(c);
	s->listen = v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

/* Whether two optional strings differ. */
static int
belfryd_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* A one-line status for systemd. */
static void
belfryd_status(struct sch *s, const char *what)
{
	sch_notify("READY=1\nSTATUS=%s: %zu workflows, socket %s%s%s", what,
	    eng_config_workflow_count(eng_config(s->eng)), s->socket_path,
	    s->http_tcp != NULL ? ", listen " : "",
	    s->http_tcp != NULL ? s->listen : "");
}

/* Warn of stored schedules whose workflow the configuration lacks. */
static void
belfryd_orphans(struct sch *s)
{
	json_t *w = eng_schedules_workflows(s->eng), *n;
	const char *key;

	json_object_foreach(w, key, n) {
		if (!eng_config_has_workflow(eng_config(s->eng), key))
			log_warnx("schedules: workflow \"%s\" is not configured:"
			    " its %lld stored schedules fail when they fire",
			    key, (long long)json_integer_value(n));
	}
	json_decref(w);
}

/*
 * Bring the configuration's schedules into the store (each in its own
 * savepoint, so one that fails leaves the others synced), and give up
 * the deliveries of channels it no longer has; once more when the store
 * says the failed transaction may commit if run again (eng_txn_retry).
 */
static void
belfryd_sync(struct sch *s)
{
	char *cause = NULL;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (eng_begin(s->eng, &cause) != 0) {
			log_warnx("schedules: %s", cause);
			free(cause);
			return;
		}
		if (eng_schedules_sync(s->eng, sch_now(s), &cause) != 0) {
			log_warnx("schedules: %s", cause);
			free(cause);
			cause = NULL;
		}
		eng_request_begin(s->eng);
		eng_deliveries_sync(s->eng, sch_now(s));
		eng_request_end(s->eng, 1);
		if (eng_commit(s->eng, &cause) == 0)
			break;
		if (tries == 0 && eng_txn_retry(s->eng)) {
			free(cause);
			cause = NULL;
			continue;
		}
		log_warnx("schedules: commit: %s", cause);
		free(cause);
		break;
	}
	belfryd_orphans(s);
}

/*
 * Load what configuration c names outside itself -- the user token key
 * and the TLS certificate -- and put them in force; -1 with *cause (the
 * ones in force stay).  TLS is turned on or off only by a restart: the
 * listener was opened with or without it.
 */
static int
belfryd_files(struct sch *s, const struct eng_config *c, int reload,
    char **cause)
{
	EVP_PKEY *key;
	struct ssl_ctx_st *tls;

	if (auth_load(c, &key, cause) != 0)
		return -1;
	if (tls_load(c, &tls, cause) != 0) {
		EVP_PKEY_free(key);
		return -1;
	}
	EVP_PKEY_free(s->token_key);
	s->token_key = key;
	if (reload && (tls == NULL) != (s->tls == NULL)) {
		log_warnx("reload: tls %s: restart to use it", tls != NULL ?
		    "added" : "removed");
		tls_free(tls);
		return 0;
	}
	tls_free(s->tls);
	s->tls = tls;
	return 0;
}

/*
 * The admin socket's group: socket_group's gid, or (gid_t)-1 for the
 * daemon's own; fatal at start when the group has gone since the load.
 */
static gid_t
belfryd_socket_gid(const struct eng_config *c)
{
	const char *name = eng_config_socket_group(c);
	struct group *g;

	if (name == NULL)
		return (gid_t)-1;
	if ((g = getgrnam(name)) == NULL)
		fatalx("socket_group \"%s\": no such group", name);
	return g->gr_gid;
}

/* Note a failed reload (status, metrics, systemd) and say why. */
static int
belfryd_reload_failed(struct sch *s, const char *cause)
{
	log_warnx("reload failed, keeping the configuration in force: %s",
	    cause);
	sch_notify("READY=1\nSTATUS=reload failed: %s", cause);
	s->reload_at = sch_now(s);
	free(s->reload_error);
	s->reload_error = xstrdup(cause);
	s->reloads_failed++;
	return -1;
}

/* Re-read the configuration; the old one stays on error. */
int
sch_reload(struct sch *s, char **cause)
{
	struct eng_config *c;
	const char *v;

	sch_notify_reloading();
	log_info("reloading %s", s->config_dir);
	if ((c = eng_config_load(s->config_dir, cause)) == NULL)
		return belfryd_reload_failed(s, *cause);
	if (belfryd_files(s, c, 1, cause) != 0) {
		eng_config_free(c);
		return belfryd_reload_failed(s, *cause);
	}
	v = eng_config_socket(c);
	if (s->opt_socket == NULL && v != NULL &&
	    strcmp(v, s->socket_path) != 0)
		log_warnx("reload: socket changed to %s: restart to use it",
		    v);
	v = eng_config_database(c);
	if (s->opt_database == NULL && v != NULL &&
	    strcmp(v, s->database) != 0)
		log_warnx("reload: database changed to %s: restart to use it",
		    v);
	if (s->opt_listen == NULL &&
	    belfryd_differ(eng_config_listen(c), s->listen))
		log_warnx("reload: listen changed: restart to use it");
	if (belfryd_differ(eng_config_socket_group(c),
	    eng_config_socket_group(eng_config(s->eng))))
		log_warnx("reload: socket_group changed: restart to use it");
	log_json(eng_config_log_json(c));
	eng_set_config(s->eng, c);
	s->reload_at = sch_now(s);
	free(s->reload_error);
	s->reload_error = NULL;
	s->reloads_ok++;
	http_limits(s);
	belfryd_sync(s);
	log_info("reloaded: %zu workflows", eng_config_workflow_count(c));
	belfryd_status(s, "reloaded");
	clock_rearm(s);
	return 0;
}

/* SIGHUP: reload. */
static void
belfryd_sighup(evutil_socket_t sig, short events, void *arg)
{
	char *cause = NULL;

	(void)sig;
	(void)events;
	sch_reload(arg, &cause);
	free(cause);
}

/* SIGTERM, SIGINT: stop accepting, finish the batch, leave the loop. */
static void
belfryd_sigterm(evutil_socket_t sig, short events, void *arg)
{
	struct sch *s = arg;
	struct timeval grace = { 0, 200000 };
	struct sch_req *r;

	(void)events;
	if (s->stopping)
		return;
	log_info("stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	sch_notify("STOPPING=1\nSTATUS=stopping");
	server_close_listeners(s);
	s->stopping = 1;
	evtimer_del(s->due_ev);
	evtimer_del(s->housekeep_ev);
	if (s->watchdog_ev != NULL)
		event_del(s->watchdog_ev);
	/* The batch queued so far still commits and is answered. */
	server_flush_now(s);
	backup_stop(s);
	while ((r = TAILQ_FIRST(&s->advances)) != NULL) {
		TAILQ_REMOVE(&s->advances, r, entry);
		r->code = "unavailable";
		server_finish(r, ENG_INTERNAL, NULL,
		    xstrdup("belfryd is shutting down"));
	}
	/* A moment for the replies to leave before the loop ends. */
	event_base_loopexit(s->base, &grace);
}

/* The watchdog's keep-alive. */
static void
belfryd_watchdog(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	sch_notify("WATCHDOG=1");
}

/* Add a signal event or die. */
static struct event *
belfryd_signal(struct sch *s, int sig, event_callback_fn fn)
{
	struct event *ev = evsignal_new(s->base, sig, fn, s);

	if (ev == NULL || event_add(ev, NULL) != 0)
		fatalx("cannot watch signal %d", sig);
	return ev;
}

/*
 * Raise the open-file soft limit to the hard one (every connection is a
 * descriptor) and note the limit in force in s->nofile.
 */
static void
belfryd_nofile(struct sch *s)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal("getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise the open-file limit from %llu "
			    "to %llu", (unsigned long long)was,
			    (unsigned long long)rl.rlim_max);
			rl.rlim_cur = was;
		}
	}
	s->nofile = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
}

/* Replace *dst with a copy of v (the last of repeated options wins). */
static void
belfryd_set(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* Parse the command line into s. */
static void
belfryd_args(struct sch *s, int argc, char **argv, int *debug)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "database", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "virtual-clock", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:s:d:l:vVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': belfryd_set(&s->config_dir, optarg); break;
		case 's': belfryd_set(&s->opt_socket, optarg); break;
		case 'd': belfryd_set(&s->opt_database, optarg); break;
		case 'l': belfryd_set(&s->opt_listen, optarg); break;
		case 'v': *debug = 1; break;
		case 'h': belfryd_usage(0);
		case 'V':
			printf("belfryd %s\n", BELFRY_VERSION);
			exit(0);
		case 'C':
			if (tz_instant_parse(optarg, &s->vnow) != 0)
				fatalx("--virtual-clock \"%s\": expected "
				    "YYYY-MM-DDTHH:MM:SSZ", optarg);
			s->virtual_clock = 1;
			break;
		default:
			belfryd_usage(2);
		}
	}
	if (optind != argc || s->config_dir == NULL)
		belfryd_usage(2);
}

/* Start, serve until SIGTERM, exit 0. */
int
main(int argc, char **argv)
{
	struct sch sch, *s = &sch;
	struct event_config *ecfg;
	struct eng_config *c;
	struct timeval tv;
	char *cause = NULL, now[32];
	uint64_t wd;
	int debug = 0;

	eng_json_pool();
	memset(s, 0, sizeof *s);
	belfryd_args(s, argc, argv, &debug);
	log_init(debug);
	signal(SIGPIPE, SIG_IGN);
	belfryd_nofile(s);

	if (tz_init(NULL, &cause) != 0)
		fatalx("zone rules: %s", cause);
	if (strcmp(tz_rules_version(), tz_system_version()) != 0)
		log_warnx("zone rules %s (%s) differ from the system tzdata %s: "
		    "rebuild them (make) so that offsets are current",
		    tz_rules_version(), tz_data_dir(), tz_system_version());
	if ((c = eng_config_load(s->config_dir, &cause)) == NULL)
		fatalx("%s", cause);
	log_json(eng_config_log_json(c));
	s->socket_gid = belfryd_socket_gid(c);
	belfryd_paths(s, c);
	if (belfryd_files(s, c, 0, &cause) != 0)
		fatalx("%s", cause);
	if ((s->eng = eng_open_checked(s->database,
	    eng_config_database_check(c), &cause)) == NULL)
		fatalx("database %s: %s", s->database, cause);
	/* txn_run runs a transaction again when the store says so. */
	eng_optimistic(s->eng);
	eng_set_config(s->eng, c);
	belfryd_sync(s);

	/*
	 * poll(2), not epoll, unless browsers are served: http.c stops
	 * reading a connection while its request runs and starts again after
	 * the reply, a batch later, which costs epoll two epoll_ctl calls per
	 * request; poll takes the set of descriptors anew each pass instead.
	 * That suits a few application servers on a local socket.  With
	 * public_api_keys there are browsers' websockets, mostly idle and
	 * many, and poll's pass over all of them costs more than epoll's
	 * calls (docs/performance.md); the choice is made at start.
	 */
	if ((ecfg = event_config_new()) == NULL ||
	    (eng_config_public_key_count(c) == 0 &&
	    event_config_avoid_method(ecfg, "epoll") != 0) ||
	    (s->base = event_base_new_with_config(ecfg)) == NULL ||
	    event_base_priority_init(s->base, 3) != 0)
		fatalx("cannot create the event loop");
	event_config_free(ecfg);
	if (outbound_init(s, &cause) != 0)
		fatalx("%s", cause);
	s->started = sch_now(s);
	s->started_mono = sch_notify_monotonic_usec();
	if (clock_init(s) != 0)
		fatalx("cannot create the timer");
	if (server_start(s, &cause) != 0)
		fatalx("%s", cause);
	s->sig_hup = belfryd_signal(s, SIGHUP, belfryd_sighup);
	s->sig_term = belfryd_signal(s, SIGTERM, belfryd_sigterm);
	s->sig_int = belfryd_signal(s, SIGINT, belfryd_sigterm);
	if (sch_notify_watchdog_usec(&wd)) {
		tv.tv_sec = (time_t)(wd / 2 / 1000000);
		tv.tv_usec = (suseconds_t)(wd / 2 % 1000000);
		s->watchdog_ev = event_new(s->base, -1, EV_PERSIST,
		    belfryd_watchdog, s);
		if (s->watchdog_ev == NULL ||
		    event_add(s->watchdog_ev, &tv) != 0)
			fatalx("cannot arm the watchdog");
		log_info("watchdog: every %" PRIu64 " ms", wd / 2000);
	}

	tz_instant_format(sch_now(s), now, sizeof now);
	log_info("belfryd %s started: config %s, database %s, rules %s, "
	    "%s clock at %s", BELFRY_VERSION, s->config_dir, s->database,
	    tz_rules_version(), s->virtual_clock ? "virtual" : "wall", now);
	belfryd_status(s, "running");
	clock_catch_up(s);
	clock_rearm(s);

	event_base_dispatch(s->base);

	server_stop(s);
	outbound_free(s);
	eng_close(s->eng);
	EVP_PKEY_free(s->token_key);
	tls_free(s->tls);
	event_free(s->due_ev);
	if (s->listen_ev != NULL)
		event_free(s->listen_ev);
	event_free(s->advance_ev);
	event_free(s->housekeep_ev);
	event_free(s->sig_hup);
	event_free(s->sig_term);
	event_free(s->sig_int);
	if (s->watchdog_ev != NULL)
		event_free(s->watchdog_ev);
	event_base_free(s->base);
	tz_shutdown();
	log_info("stopped");
	free(s->config_dir);
	free(s->opt_socket);
	free(s->opt_database);
	free(s->opt_listen);
	free(s->socket_path);
	free(s->database);
	free(s->listen);
	free(s->reload_error);
	return 0;
}
