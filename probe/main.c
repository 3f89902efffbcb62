/*
 * weir: command line, lifecycle and the end-of-run summary.
 *
 * Everything is opened and checked before any thread starts, so a bad option, an unreadable
 * file, an unknown interface or an unreachable output path stops weir with a message before
 * it has read a packet. SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken by the
 * main thread with sigtimedwait(): the first SIGINT or SIGTERM asks the workers to stop (they
 * flush every flow and the exporter sends it; the pending alerts are published), a second
 * exits at once; SIGHUP reloads the reloadable settings. With --user, weir switches user once
 * every input, output and socket is open, before any packet thread starts.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "options.h"
#include "probe.h"
#include "report.h"
#include "weir_config.h"
#include "wr_log.h"

static struct probe the_probe; /* large: kept off the stack */

/* The command line as given, for a reload to read again (getopt permutes argv). */
static int saved_argc;
static char **saved_argv;

/* Logs one option a reload found changed: taken up now, or left for the next start. arg
 * counts them: [0] taken, [1] left. */
static void reload_one(void *arg, const char *key, const char *was, const char *now, int reloadable)
{
	unsigned *counts = arg;

	if (!reloadable) {
		wr_log(WR_LOG_PROBE, WR_LOG_WARNING,
		       "reload: %s changed (%s -> %s): takes effect at the next start", key, was,
		       now);
		counts[1]++;
		return;
	}
	wr_log(WR_LOG_PROBE, WR_LOG_INFO, "reload: %s: %s -> %s", key, was, now);
	counts[0]++;
}

/* SIGHUP: reads the settings again (the command line over the file as it reads now) into a
 * new config; if every check passes, the reloadable keys that changed are taken up and the
 * others are named; if not, the errors are printed and weir keeps its settings. */
static void reload(struct probe *pr)
{
	struct probe_config next;
	unsigned counts[2] = {0, 0};
	int timeouts, detect, log;
	char **argv = malloc(((size_t)saved_argc + 1) * sizeof(*argv));
	char err[256];
	int rc;

	memset(&next, 0, sizeof(next));
	if (argv == NULL) {
		wr_log(WR_LOG_PROBE, WR_LOG_ERROR, "reload: out of memory; settings unchanged");
		return;
	}
	memcpy(argv, saved_argv, ((size_t)saved_argc + 1) * sizeof(*argv));
	wr_log(WR_LOG_PROBE, WR_LOG_INFO, "SIGHUP: reading %s again",
	       pr->cfg.config_file ? pr->cfg.config_file : "the settings");
	rc = probe_options_parse(saved_argc, argv, &next); /* next may point into argv */
	if (rc >= 0) {
		wr_log(WR_LOG_PROBE, WR_LOG_ERROR,
		       "reload: %s has errors (above); still running on the previous settings",
		       pr->cfg.config_file ? pr->cfg.config_file : "the command line");
		detect_watch_free(next.watch_built);
		probe_options_free(&next);
		free(argv);
		return;
	}
	detect_watch_free(next.watch_built); /* the watch list is not reloadable */
	next.watch_built = NULL;
	probe_options_diff(&pr->cfg, &next, reload_one, counts);
	timeouts = next.idle_timeout_s != pr->cfg.idle_timeout_s ||
	           next.active_timeout_s != pr->cfg.active_timeout_s;
	detect = memcmp(&next.detect, &pr->cfg.detect, sizeof(next.detect)) != 0;
	log = strcmp(next.log_level, pr->cfg.log_level) != 0;
	pthread_mutex_lock(&pr->cfg_mu);
	pr->cfg.idle_timeout_s = next.idle_timeout_s;
	pr->cfg.active_timeout_s = next.active_timeout_s;
	pr->cfg.detect = next.detect;
	pr->cfg.status_interval_s = next.status_interval_s;
	pr->cfg.log_level = next.log_level;
	probe_options_adopt(&pr->cfg, &next); /* the new strings live as long as the config */
	pthread_mutex_unlock(&pr->cfg_mu);
	free(argv);
	if (timeouts)
		probe_pipeline_set_timeouts(pr, pr->cfg.idle_timeout_s, pr->cfg.active_timeout_s);
	if (detect)
		probe_alerts_set_params(pr, &pr->cfg.detect);
	if (log && wr_log_set(pr->cfg.log_level, err, sizeof(err)) < 0)
		wr_log(WR_LOG_PROBE, WR_LOG_ERROR, "reload: log-level: %s", err);
	wr_log(WR_LOG_PROBE, WR_LOG_INFO,
	       "reload: done: %u setting%s taken up, %u left for the next start", counts[0],
	       counts[0] == 1 ? "" : "s", counts[1]);
}

/* The status line, rewritten in place on a terminal. */
static void status_line(struct probe *pr, struct probe_rate_mark *mark)
{
	struct probe_totals t;
	char line[400];

	probe_totals(pr, &t);
	probe_report_status(line, sizeof(line), pr, &t, mark);
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
}

/* Waits for the pipeline to finish, taking SIGINT/SIGTERM/SIGHUP on the way (they are blocked
 * in every thread, so they queue here), and writing the status line on a terminal. */
static void wait_for_pipeline(struct probe *pr, const sigset_t *sigs)
{
	const struct timespec tick = {0, 100 * 1000 * 1000};
	uint64_t end = pr->cfg.duration_s ? wr_mono_ns() + pr->cfg.duration_s * WR_NS_PER_S : 0;
	int tty = !pr->cfg.quiet && isatty(STDERR_FILENO), shown = 0, seen = 0, sig;
	/* the first line after a second, for rates over something */
	struct probe_rate_mark mark = {.mono_ns = wr_mono_ns()};
	uint64_t next_status = mark.mono_ns + WR_NS_PER_S;
	while (!probe_pipeline_finished(pr)) {
		sig = sigtimedwait(sigs, NULL, &tick);
		if (end && !seen && wr_mono_ns() >= end) {
			seen = 1; /* as if signalled: a signal now exits at once */
			probe_pipeline_request_stop(pr);
		}
		if (tty && pr->cfg.status_interval_s && wr_mono_ns() >= next_status) {
			status_line(pr, &mark);
			shown = 1;
			next_status = wr_mono_ns() + pr->cfg.status_interval_s * WR_NS_PER_S;
		}
		if (sig == SIGHUP) {
			if (shown)
				fputs("\n", stderr);
			reload(pr);
			continue;
		}
		if (sig <= 0 || sig == PROBE_SIG_DONE)
			continue; /* the loop's test sees whether the pipeline is done */
		if (shown)
			fputs("\n", stderr);
		shown = 0;
		if (seen++) {
			wr_log(WR_LOG_PROBE, WR_LOG_WARNING, "second %s: exiting without flushing",
			       sig == SIGINT ? "SIGINT" : "SIGTERM");
			_exit(128 + sig);
		}
		wr_log(WR_LOG_PROBE, WR_LOG_INFO,
		       "%s: stopping capture, exporting every flow, publishing pending alerts",
		       sig == SIGINT ? "SIGINT" : "SIGTERM");
		probe_pipeline_request_stop(pr);
	}
	if (shown)
		fputs("\n", stderr);
}

/* --user: switches to the user and its groups for good (root could not be taken back). The
 * control socket, made by root, is handed to the user and its group first: weirctl then works
 * for them as for root (mode 0660). */
static int drop_privileges(const char *user, const char *sock, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		snprintf(err, errlen, "--user %s: no such user", user);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		snprintf(err, errlen, "--user %s: only root can switch users", user);
		return -1;
	}
	if (sock != NULL && chown(sock, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(err, errlen, "--control-socket '%s': cannot hand it to %s: %s", sock, user,
		         strerror(errno));
		return -1;
	}
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "--user %s: %s", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "--user %s: root could be taken back", user);
		return -1;
	}
	wr_log(WR_LOG_PROBE, WR_LOG_INFO, "running as %s (uid %u, gid %u)", user,
	       (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

static int write_summary_json(const struct probe *pr, const struct probe_totals *t, FILE *f)
{
	probe_report_json(f, pr, t);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Ends a run that could not start. */
static int give_up(struct probe *pr, const char *err, FILE *json)
{
	if (err)
		fprintf(stderr, "weir: %s\n", err);
	probe_control_close(pr);
	probe_pipeline_close(pr);
	probe_options_free(&pr->cfg);
	if (json)
		fclose(json);
	return 1;
}

int main(int argc, char **argv)
{
	struct probe *pr = &the_probe;
	char err[512];
	struct probe_totals t;
	sigset_t sigs;
	FILE *json = NULL;
	int rc, status = 0;
	unsigned i;

	/* blocked before anything can start a thread (DPDK's EAL starts some at open): every
	 * thread inherits the mask, and only the main thread takes them, in sigtimedwait() */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, PROBE_SIG_DONE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	saved_argc = argc;
	saved_argv = malloc(((size_t)argc + 1) * sizeof(*saved_argv));
	if (saved_argv == NULL)
		return 1;
	memcpy(saved_argv, argv, ((size_t)argc + 1) * sizeof(*argv));
	rc = probe_options_parse(argc, argv, &pr->cfg);
	if (rc >= 0) {
		detect_watch_free(pr->cfg.watch_built);
		probe_options_free(&pr->cfg);
		free(saved_argv);
		return rc;
	}
	wr_log_set(pr->cfg.log_level, err, sizeof(err)); /* checked by the parse */
	if (geteuid() == 0 && pr->cfg.user == NULL && !pr->cfg.allow_root) {
		fprintf(stderr, "weir: refusing to run as root: give --user NAME (weir switches to "
		                "it once capture is open) or --allow-root\n");
		detect_watch_free(pr->cfg.watch_built);
		probe_options_free(&pr->cfg);
		free(saved_argv);
		return 2;
	}
	pthread_mutex_init(&pr->cfg_mu, NULL);
	/* opened now: after --user, weir may not be allowed to create it */
	if (pr->cfg.summary_json && (json = fopen(pr->cfg.summary_json, "w")) == NULL) {
		snprintf(err, sizeof(err), "--summary-json '%s': %s", pr->cfg.summary_json,
		         strerror(errno));
		return give_up(pr, err, NULL);
	}
	rc = probe_pipeline_open(pr, err, sizeof(err));
	if (rc < 0)
		return give_up(pr, err, json);
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* again: DPDK's EAL init clears the mask */
	if (probe_control_open(pr, err, sizeof(err)) < 0 ||
	    probe_pipeline_start_inputs(pr, err, sizeof(err)) < 0)
		return give_up(pr, err, json);
	/* everything that needs root is open: capture, sockets, files */
	if (pr->cfg.user &&
	    drop_privileges(pr->cfg.user, pr->cfg.control_socket, err, sizeof(err)) < 0)
		return give_up(pr, err, json);
	pr->start_ns = wr_mono_ns();
	pr->main_thread = pthread_self();
	if (probe_pipeline_start(pr, err, sizeof(err)) < 0)
		return give_up(pr, err, json);
	if (probe_control_start(pr, err, sizeof(err)) < 0) /* the capture goes on without it */
		wr_log(WR_LOG_CONTROL, WR_LOG_ERROR, "%s", err);
	wait_for_pipeline(pr, &sigs);
	probe_pipeline_join(pr);
	pr->elapsed_ns = wr_mono_ns() - pr->start_ns;
	probe_control_close(pr);

	probe_totals(pr, &t);
	for (i = 0; i < pr->n_inputs; i++) {
		for (unsigned q = 0; q < pr->inputs[i].n_queues; q++) {
			const struct probe_reader *r = &pr->inputs[i].readers[q];

			if (!r->error)
				continue;
			fprintf(stderr,
			        "weir: input '%s': %s (flows read before it were exported)\n",
			        pr->inputs[i].name, r->errmsg[0] ? r->errmsg : strerror(-r->error));
			status = 1;
		}
	}
	if (!pr->cfg.quiet)
		probe_report_summary(stderr, pr, &t);
	if (json && (rc = write_summary_json(pr, &t, json)) < 0) {
		fprintf(stderr, "weir: --summary-json '%s': %s\n", pr->cfg.summary_json,
		        strerror(-rc));
		status = 1;
	}
	probe_pipeline_close(pr);
	probe_options_free(&pr->cfg);
	pthread_mutex_destroy(&pr->cfg_mu);
	free(saved_argv);
	return status;
}
