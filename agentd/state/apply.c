/*
 * apply.c - the state engine's executor (see apply.h). One apply loop at a
 * time:
 *
 *   gather (containers, images, networks, volumes, image configs from the
 *   engine) -> compose every target service -> plan (plan.c) -> run the
 *   round's steps in parallel -> again, until the planner has nothing left.
 *
 * A failed round is retried with exponential backoff; a new target cancels
 * the loop (the steps in flight finish, then the next round plans against
 * the new target). Image pulls run in the background, outside rounds: the
 * planner sees the image missing and waits until the pull ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adopt.h"
#include "apply.h"
#include "boot.h"
#include "clock.h"
#include "compose.h"
#include "contract.h"
#include "instanced.h"
#include "locks.h"
#include "log.h"
#include "named.h"
#include "plan.h"
#include "storage.h"
#include "store.h"
#include "sysmsg.h"
#include "takeover.h"
#include "target.h"

#define MAX_STEPS        512
#define BACKOFF_BASE_MS  500
#define BACKOFF_MAX_MS   (15 * 60 * 1000)
#define NOOP_DELAY_MS    1000
#define HANDOVER_POLL_MS 100

struct svc_state {
	json_t *svc;          /* borrowed from the target */
	struct composed comp; /* owned when `composed` */
	int composed;
	char image_id[80]; /* the engine's id for the image, "" if absent */
	char image[512];   /* normalised reference */
};

/* A list the gather step asks the engine for, and where its answer goes. */
struct gather_slot {
	struct apply *a;
	json_t **slot;
};

struct apply {
	struct apply_env env;
	json_t *target;   /* owned, internal form */
	struct boot boot; /* this boot, the breadcrumb, the boot config files */
	int reboot_asked; /* the reboot command ran (it does not return on a device) */
	unsigned reboot_failures;
	uint64_t reboot_not_before; /* after a failed reboot: when to ask again (ms) */
	int busy, again, cancelled;
	char hold[512];           /* why nothing is applied until a new target comes, or "" */
	int took_over;            /* the Node supervisor's state was imported at start */
	unsigned adopted, remade; /* its containers kept as they are / made again */
	unsigned failures;
	unsigned fetch_failures;   /* downloads failed in a row */
	uint64_t fetch_not_before; /* no new download before this (ms), after one failed */
	struct event *ev_timer;

	/* One round's view of the engine (owned). */
	json_t *containers, *images, *networks, *volumes;
	struct gather_slot gather[4];
	json_t *image_config; /* engine image id -> its Config, kept across rounds */
	json_t *last_images;  /* the engine's image list of the last round (owned) */
	json_t *inspected;    /* container id -> its inspect, for the containers agentd has no
				 record of (made by the Node supervisor): compared the balena
				 supervisor's way (adopt.c) */
	json_t *adopt_logged; /* container/network/volume -> the verdict last logged */
	json_t *aliases;      /* image reference -> engine id, of images got by a delta */
	json_t *deltas;       /* target image -> {tries, fallback?}: its delta so far */
	int pending;
	int failed, lock_failed;
	char reason[512];

	/* The planner's input (its arrays owned here) and output for this round. */
	struct plan_input in;
	struct svc_state **svcs; /* [app][service], beside in.apps */
	json_t *named_specs;     /* network/volume name -> its create body, this round */
	struct step steps[MAX_STEPS];
	int nsteps;
	int only_noops; /* this round only waits */

	json_t *locked;          /* app uuid -> {"app_id", "services": [...]}: locks agentd holds */
	json_t *rejected;        /* app uuid -> why, for apps whose release broke a contract */
	json_t *contract_logged; /* contract messages already logged for this target */
	json_t *fetching;        /* image -> percent, while its pull runs */
	int applied;             /* the last round found nothing to do */
	unsigned long rounds, rounds_failed, applies; /* for /metrics */
	uint64_t apply_started_ms, apply_ms_total;
};

static void apply_round(struct apply *a);

/* A callback's argument: the apply loop and a string (an image, an id). */
struct apply_str {
	struct apply *a;
	char s[];
};

static struct apply_str *apply_str_new(struct apply *a, const char *s)
{
	size_t n = strlen(s) + 1;
	struct apply_str *r = malloc(sizeof(*r) + n);

	if (r != NULL) {
		r->a = a;
		memcpy(r->s, s, n);
	}
	return r;
}

static uint64_t backoff_ms(unsigned failures)
{
	uint64_t d = BACKOFF_BASE_MS;

	while (failures-- > 0 && d < BACKOFF_MAX_MS)
		d *= 2;
	return d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
}

static void pretty_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms < 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
}

static void apply_schedule(struct apply *a, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	evtimer_del(a->ev_timer);
	evtimer_add(a->ev_timer, &tv);
}

static void apply_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct apply *a = arg;

	(void)fd;
	(void)what;
	if (!a->busy)
		apply_round(a);
}

void apply_trigger(struct apply *a, const char *why)
{
	if (a == NULL)
		return;
	log_debug("apply: triggered (%s)", why);
	a->fetch_not_before = 0; /* something changed: downloads may be tried at once */
	if (a->busy) {
		a->again = 1;
		return;
	}
	a->failures = 0;
	apply_schedule(a, 0);
}

/* --- Round bookkeeping -------------------------------------------------- */

static void round_free(struct apply *a)
{
	int i, j;

	json_decref(a->containers);
	json_decref(a->images);
	json_decref(a->networks);
	json_decref(a->volumes);
	a->containers = a->images = a->networks = a->volumes = NULL;
	for (i = 0; i < a->in.napps; i++) {
		for (j = 0; j < a->in.apps[i].nsvc; j++) {
			if (a->svcs[i][j].composed)
				compose_free(&a->svcs[i][j].comp);
			free(a->in.apps[i].svc[j].needs);
		}
		free(a->svcs[i]);
		free(a->in.apps[i].svc);
		for (j = 0; j < a->in.apps[i].nvolumes; j++)
			free(a->in.apps[i].volumes[j]);
		for (j = 0; j < a->in.apps[i].nnetworks; j++)
			free(a->in.apps[i].networks[j]);
		free(a->in.apps[i].volumes);
		free(a->in.apps[i].networks);
		free(a->in.apps[i].volume_hash);
		free(a->in.apps[i].network_hash);
	}
	for (i = 0; i < a->in.ncur; i++)
		free(a->in.cur[i].uses);
	json_decref(a->named_specs);
	a->named_specs = NULL;
	free(a->svcs);
	free(a->in.apps);
	free(a->in.cur);
	free(a->in.vols);
	free(a->in.nets);
	free(a->in.locked_gone);
	a->svcs = NULL;
	a->in.apps = NULL;
	a->in.cur = NULL;
	a->in.vols = a->in.nets = NULL;
	a->in.locked_gone = NULL;
	a->in.napps = a->in.ncur = a->in.nvols = a->in.nnets = a->in.nlocked_gone = a->nsteps = 0;
}

static void round_fail(struct apply *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void round_fail(struct apply *a, const char *fmt, ...)
{
	va_list ap;

	if (a->failed)
		return; /* the first reason is the one worth reporting */
	a->failed = 1;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

static void round_end(struct apply *a, int all_noops)
{
	char when[32];
	uint64_t d;

	round_free(a);
	a->busy = 0;
	if (a->cancelled || a->again) {
		a->cancelled = a->again = 0;
		a->failures = 0;
		apply_schedule(a, 0);
		return;
	}
	a->rounds++;
	if (a->failed) {
		a->rounds_failed++;
		a->failures++;
		d = backoff_ms(a->failures);
		pretty_ms(d, when, sizeof(when));
		if (a->lock_failed)
			sysmsg("Updates are locked, retrying in %s. Reason: %s", when, a->reason);
		else
			log_error("apply: %s; retrying in %s", a->reason, when);
		apply_schedule(a, d);
		return;
	}
	a->failures = 0;
	apply_schedule(a, all_noops ? NOOP_DELAY_MS : 0);
}

/* One step (or gather request) finished. */
static void round_step_done(struct apply *a);

/* --- Target ------------------------------------------------------------- */

json_t *apply_target(struct apply *a)
{
	return a->target;
}

const char *apply_run_dir(struct apply *a)
{
	return a->env.run_dir;
}

/* checkTruthy of a device config var: 1, true, on (any case). */
static int config_truthy(json_t *target, const char *key)
{
	json_t *v = json_object_get(json_object_get(target, "config"), key);
	const char *s = json_string_value(v);

	if (json_is_true(v) || (json_is_integer(v) && json_integer_value(v) == 1))
		return 1;
	return s != NULL && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on"));
}

json_t *apply_boot_current(struct apply *a)
{
	return boot_config_current(&a->boot);
}

int apply_local_mode(struct apply *a)
{
	return !config_managed(a->env.cfg) || config_truthy(a->target, "SUPERVISOR_LOCAL_MODE");
}

/* <rundir>/target-state-config: the target's config vars, for the host OS
 * (its safe_reboot reboots at once when SUPERVISOR_OVERRIDE_LOCK is set). */
static void target_config_dump(struct apply *a)
{
	char path[PATH_MAX], why[512], *text;

	snprintf(path, sizeof(path), "%s/target-state-config", a->env.run_dir);
	text = json_dumps(json_object_get(a->target, "config"), JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL ||
	    file_write_atomic(path, text, strlen(text), 0600, why, sizeof(why)) == -1)
		storage_failed(STORAGE_TARGET_CONFIG, text ? why : "out of memory");
	else
		storage_ok(STORAGE_TARGET_CONFIG);
	free(text);
}

/* No delta is shown as waiting for the server any more: one the new target
 * still wants is asked for at once (and may wait again). */
static void deltas_not_waiting(struct apply *a)
{
	const char *k;
	json_t *d;

	json_object_foreach(a->deltas, k, d)
		json_object_del(d, "waiting");
}

int apply_set_target(struct apply *a, json_t *target, char *err, size_t errlen)
{
	json_t *warnings, *w;
	size_t i;

	if (store_target_save(a->env.db, target, err, errlen) == -1) {
		json_decref(target);
		return -1;
	}
	/* once stored: a target tried again and again on a full disk is warned
	 * about once */
	warnings = json_array();
	target_config_check(json_object_get(target, "config"), warnings);
	json_array_foreach(warnings, i, w)
		sysmsg("%s", json_string_value(w));
	json_decref(warnings);
	/* Until a round has looked at it, a new target is not applied. */
	if (!json_equal(a->target, target))
		a->applied = 0;
	json_decref(a->target);
	a->target = target;
	json_object_clear(a->rejected);
	json_object_clear(a->contract_logged);
	deltas_not_waiting(a);
	target_config_dump(a);
	if (a->hold[0] != '\0')
		log_info("apply: a new target: no longer holding");
	a->hold[0] = '\0';
	if (a->env.hooks.target_set != NULL)
		a->env.hooks.target_set(a->env.hooks.arg);
	if (a->busy)
		a->cancelled = 1;
	apply_trigger(a, "new target");
	return 0;
}

/* --- Reading the engine's state ----------------------------------------- */

/* The engine's id of an image reference, from the image list, or from
 * what a delta made (`aliases`: reference -> id) while the engine has it. */
static const char *image_lookup(json_t *images, json_t *aliases, const char *ref)
{
	const char *alias = json_string_value(json_object_get(aliases, ref));
	json_t *img, *tag;
	size_t i, k;

	if (alias != NULL && strcmp(alias, ref) != 0 && image_lookup(images, NULL, alias) != NULL)
		return image_lookup(images, NULL, alias);
	json_array_foreach(images, i, img) {
		const char *id = json_string_value(json_object_get(img, "Id"));

		if (id != NULL && strcmp(id, ref) == 0)
			return id;
		json_array_foreach(json_object_get(img, "RepoTags"), k, tag)
			if (json_is_string(tag) && strcmp(json_string_value(tag), ref) == 0)
				return id;
		json_array_foreach(json_object_get(img, "RepoDigests"), k, tag)
			if (json_is_string(tag) && strcmp(json_string_value(tag), ref) == 0)
				return id;
	}
	return NULL;
}

static enum cur_status cur_status_of(const char *state)
{
	if (state == NULL)
		return CUR_EXITED;
	if (!strcmp(state, "running") || !strcmp(state, "restarting") || !strcmp(state, "paused"))
		return CUR_RUNNING;
	if (!strcmp(state, "created"))
		return CUR_CREATED;
	if (!strcmp(state, "dead") || !strcmp(state, "removing"))
		return CUR_DEAD;
	return CUR_EXITED;
}

/* The volumes and networks a container is on (names borrowed from c). */
static void cur_uses_read(struct cur_container *cc, json_t *c)
{
	json_t *mounts = json_object_get(c, "Mounts"), *m;
	json_t *nets = json_object_get(json_object_get(c, "NetworkSettings"), "Networks");
	const char *k, *name;
	json_t *v;
	size_t i;

	cc->uses = calloc(json_array_size(mounts) + json_object_size(nets) + 1, sizeof(char *));
	if (cc->uses == NULL)
		return;
	json_array_foreach(mounts, i, m) {
		if ((name = json_string_value(json_object_get(m, "Name"))) != NULL &&
		    strcmp(json_string_value(json_object_get(m, "Type")) ?: "", "volume") == 0)
			cc->uses[cc->nuses++] = name;
	}
	json_object_foreach(nets, k, v)
		cc->uses[cc->nuses++] = k;
}

static void read_current(struct apply *a)
{
	json_t *c, *labels, *names, *v;
	size_t i, n = json_array_size(a->containers);

	a->in.cur = calloc(n ? n : 1, sizeof(*a->in.cur));
	json_array_foreach(a->containers, i, c) {
		struct cur_container *cc = &a->in.cur[a->in.ncur];
		const char *name, *s;
		long long app_id, sid;
		char boot[40];

		labels = json_object_get(c, "Labels");
		names = json_object_get(c, "Names");
		app_id = target_id(json_object_get(labels, "io.balena.app-id"));
		sid = target_id(json_object_get(labels, "io.balena.service-id"));
		name = json_string_value(json_array_get(names, 0));
		if (app_id < 0 || sid < 0 || name == NULL)
			continue;
		if (name[0] == '/')
			name++;
		memset(cc, 0, sizeof(*cc));
		snprintf(cc->name, sizeof(cc->name), "%s", name);
		snprintf(cc->id, sizeof(cc->id), "%s", json_string_value(json_object_get(c, "Id")));
		cc->app_id = (int)app_id;
		cc->service_id = (int)sid;
		if ((s = json_string_value(json_object_get(labels, "io.balena.app-uuid"))) != NULL)
			snprintf(cc->app_uuid, sizeof(cc->app_uuid), "%s", s);
		/* what agentd made it from: its record, or the label older agentds put */
		store_made_get(a->env.db, cc->id, cc->hash, boot, sizeof(boot));
		if (cc->hash[0] == '\0' &&
		    (s = json_string_value(
			     json_object_get(labels, "io.balena.agentd.config-hash"))) != NULL)
			snprintf(cc->hash, sizeof(cc->hash), "%s", s);
		if ((s = json_string_value(json_object_get(c, "ImageID"))) != NULL)
			snprintf(cc->image_id_ref, sizeof(cc->image_id_ref), "%s", s);
		cc->handover_old = strncmp(name, "old_", 4) == 0;
		if (compose_parse_name(cc->handover_old ? name + 4 : name, cc->service,
				       sizeof(cc->service), &cc->image_id, &cc->release_id,
				       cc->commit, sizeof(cc->commit)) == -1) {
			char key[96], line[512];

			snprintf(key, sizeof(key), "u:%s", cc->id);
			if (json_object_get(a->adopt_logged, key) == NULL) {
				snprintf(line, sizeof(line),
					 "Container '%.200s' has the supervisor's labels but its "
					 "name is not <service>_<imageId>_<releaseId>_<commit>: it "
					 "is left alone",
					 name);
				json_object_set_new(a->adopt_logged, key, json_true());
				sysmsg("%s", line);
			}
			continue;
		}
		v = json_object_get(labels, "io.balena.service-name");
		if (json_is_string(v))
			snprintf(cc->service, sizeof(cc->service), "%s", json_string_value(v));
		cc->status = cur_status_of(json_string_value(json_object_get(c, "State")));
		cc->created = json_integer_value(json_object_get(c, "Created"));
		s = boot[0] ? boot
			    : json_string_value(
				      json_object_get(labels, "io.balena.agentd.boot-id"));
		cc->this_boot = s != NULL && a->boot.id[0] != '\0' ? strcmp(s, a->boot.id) == 0
								   : cc->created >= a->boot.time;
		cur_uses_read(cc, c);
		a->in.ncur++;
	}
}

static void read_named(json_t *list, struct cur_named **out, int *n)
{
	json_t *o, *labels;
	size_t i;

	*out = calloc(json_array_size(list) + 1, sizeof(**out));
	*n = 0;
	json_array_foreach(list, i, o) {
		struct cur_named *cn = &(*out)[*n];
		const char *name = json_string_value(json_object_get(o, "Name")), *s;

		labels = json_object_get(o, "Labels");
		if (name == NULL || json_object_get(labels, "io.balena.supervised") == NULL)
			continue; /* not ours (networks are listed whole: see round_gather) */
		snprintf(cn->name, sizeof(cn->name), "%s", name);
		if ((s = json_string_value(json_object_get(labels, "io.balena.app-uuid"))) != NULL)
			snprintf(cn->app_uuid, sizeof(cn->app_uuid), "%s", s);
		else if ((s = strchr(name, '_')) != NULL && s > name)
			/* a network: <appUuid>_<name>, as balena names (not labels) them */
			snprintf(cn->app_uuid, sizeof(cn->app_uuid), "%.*s", (int)(s - name), name);
		cn->app_id = (int)target_id(json_object_get(labels, "io.balena.app-id"));
		if (cn->app_id < 0)
			cn->app_id = atoi(name);
		(*n)++;
	}
}

/* --- Composing the target ---------------------------------------------- */

static void compose_ctx_for(struct apply *a, json_t *app, const char *uuid, const char *svcname,
			    json_t *svc, struct svc_state *ss, struct compose_ctx *ctx)
{
	const struct apply_env *env = &a->env;

	memset(ctx, 0, sizeof(*ctx));
	ctx->app_id = (int)json_integer_value(json_object_get(app, "id"));
	ctx->app_uuid = uuid;
	ctx->app_name = json_string_value(json_object_get(app, "name"));
	ctx->service_name = svcname;
	ctx->service_id = (int)json_integer_value(json_object_get(svc, "id"));
	ctx->image_id = (int)json_integer_value(json_object_get(svc, "image_id"));
	ctx->release_id = (int)json_integer_value(json_object_get(app, "release_id"));
	ctx->commit = json_string_value(json_object_get(app, "commit"));
	ctx->device_uuid = env->id->uuid;
	ctx->device_type = env->id->type;
	ctx->device_arch = env->id->arch;
	ctx->device_name = json_string_value(json_object_get(a->target, "name"));
	ctx->host_os_version = env->id->os_version;
	ctx->run_dir = env->host_run_dir ? env->host_run_dir : env->run_dir;
	ctx->engine_socket = env->engine_sock;
	ctx->api_port = env->cfg->listen_port;
	ctx->api_host = SUPERVISOR_NETWORK_GATEWAY; /* for services not on the host's network */
	ctx->image_config = ss->image_id[0] ? json_object_get(a->image_config, ss->image_id) : NULL;
	ctx->image_id_ref = ss->image_id[0] ? ss->image_id : NULL;
	ctx->host_has_lib_modules = access("/lib/modules", F_OK) == 0;
	ctx->host_has_lib_firmware = access("/lib/firmware", F_OK) == 0;
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	return s;
}

static void add_unique(char ***list, int *n, char *s)
{
	int i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*list)[i], s) == 0) {
			free(s);
			return;
		}
	}
	*list = realloc(*list, (size_t)(*n + 1) * sizeof(char *));
	(*list)[(*n)++] = s;
}

static int strategy_of(const char *s)
{
	if (s == NULL)
		return STRAT_DOWNLOAD_THEN_KILL;
	if (!strcmp(s, "kill-then-download"))
		return STRAT_KILL_THEN_DOWNLOAD;
	if (!strcmp(s, "delete-then-download"))
		return STRAT_DELETE_THEN_DOWNLOAD;
	if (!strcmp(s, "hand-over"))
		return STRAT_HAND_OVER;
	return STRAT_DOWNLOAD_THEN_KILL;
}

static int label_truthy(json_t *svc, const char *label)
{
	const char *v = json_string_value(json_object_get(json_object_get(svc, "labels"), label));

	return v != NULL && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "on"));
}

/* A service's contract. An unmet one drops the service when it is optional,
 * else rejects its app; each verdict is logged once per target. */
static int contract_ok(struct apply *a, const char *uuid, const char *name, json_t *svc,
		       struct tgt_app *ta)
{
	struct contract_env env = {CONTRACT_SUPERVISOR_VERSION, a->env.id->type, a->env.id->arch};
	char why[256], msg[600];

	if (contract_met(json_object_get(svc, "contract"), &env, why, sizeof(why)))
		return 1;
	if (label_truthy(svc, "io.balena.features.optional")) {
		snprintf(msg, sizeof(msg),
			 "Not running containers because of contract violations: %s", name);
	} else {
		ta->rejected = 1;
		json_object_set_new(a->rejected, uuid, json_string(why));
		snprintf(msg, sizeof(msg),
			 "Some releases were rejected due to having unmet requirements: %s: %s",
			 name, why);
	}
	if (json_object_get(a->contract_logged, msg) == NULL) {
		sysmsg("%s", msg);
		json_object_set_new(a->contract_logged, msg, json_true());
	}
	return 0;
}

/* The create body and config hash of each network and volume of the app. */
static int named_specs_for(struct apply *a, json_t *app, const char *uuid, struct tgt_app *ta)
{
	size_t plen = strlen(uuid);
	char err[512], prefix[32];
	json_t *spec;
	int i;

	if (a->named_specs == NULL)
		a->named_specs = json_object();
	ta->network_hash = calloc((size_t)ta->nnetworks + 1, sizeof(*ta->network_hash));
	ta->volume_hash = calloc((size_t)ta->nvolumes + 1, sizeof(*ta->volume_hash));
	if (ta->network_hash == NULL || ta->volume_hash == NULL)
		return -1;
	for (i = 0; i < ta->nnetworks; i++) {
		const char *full = ta->networks[i];
		json_t *cfg = NULL;

		if (strncmp(full, uuid, plen) == 0 && full[plen] == '_')
			cfg = json_object_get(json_object_get(app, "networks"), full + plen + 1);
		spec = named_network(full, cfg, uuid, ta->app_id, ta->network_hash[i], err,
				     sizeof(err));
		if (spec == NULL)
			goto bad;
		json_object_set_new(a->named_specs, full, spec);
	}
	snprintf(prefix, sizeof(prefix), "%d_", ta->app_id);
	for (i = 0; i < ta->nvolumes; i++) {
		const char *full = ta->volumes[i];
		json_t *cfg = NULL;

		if (strncmp(full, prefix, strlen(prefix)) == 0)
			cfg = json_object_get(json_object_get(app, "volumes"),
					      full + strlen(prefix));
		spec = named_volume(full, cfg, uuid, ta->volume_hash[i], err, sizeof(err));
		if (spec == NULL)
			goto bad;
		json_object_set_new(a->named_specs, full, spec);
	}
	return 0;
bad:
	sysmsg("Could not move to new release: %s", err);
	round_fail(a, "%s", err);
	return -1;
}

/* Build the planner's target from the stored target and this round's view. */
static int build_target(struct apply *a)
{
	json_t *apps = json_object_get(a->target, "apps"), *app, *svc, *v;
	const char *uuid, *name, *k;
	char err[512], cur_commit[128], *key = NULL;
	size_t napps = json_object_size(apps);
	int ai = 0, si, j, rc;

	a->in.apps = calloc(napps + 1, sizeof(*a->in.apps));
	a->svcs = calloc(napps + 1, sizeof(*a->svcs));
	a->in.want_supervisor0 = 0;
	if (a->named_specs == NULL)
		a->named_specs = json_object();
	json_object_set_new(a->named_specs, SUPERVISOR_NETWORK,
			    json_pack("{s:s, s:s, s:b, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}", "Name",
				      SUPERVISOR_NETWORK, "Driver", "bridge", "CheckDuplicate", 1,
				      "IPAM", "Driver", "default", "Config", "Subnet",
				      SUPERVISOR_NETWORK_SUBNET, "Gateway",
				      SUPERVISOR_NETWORK_GATEWAY, "Options",
				      "com.docker.network.bridge.name", SUPERVISOR_NETWORK));
	json_object_foreach(apps, uuid, app) {
		struct tgt_app *ta = &a->in.apps[ai];
		json_t *svcs = json_object_get(app, "services");

		if (json_is_true(json_object_get(app, "is_host")))
			continue; /* the host OS app is not ours to run */
		if (target_is_supervisor_app(uuid))
			continue; /* the supervisor's release: that is agentd itself */
		snprintf(ta->uuid, sizeof(ta->uuid), "%s", uuid);
		ta->app_id = (int)json_integer_value(json_object_get(app, "id"));
		snprintf(ta->commit, sizeof(ta->commit), "%s",
			 json_string_value(json_object_get(app, "commit")));
		ta->release_id = (int)json_integer_value(json_object_get(app, "release_id"));
		ta->locked = json_object_get(a->locked, uuid) != NULL;
		ta->current_commit_matches =
			strcmp(store_commit_get(a->env.db, uuid, cur_commit, sizeof(cur_commit)),
			       ta->commit) == 0;
		ta->svc = calloc(json_object_size(svcs) + 1, sizeof(*ta->svc));
		a->svcs[ai] = calloc(json_object_size(svcs) + 1, sizeof(**a->svcs));
		add_unique(&ta->networks, &ta->nnetworks, str_printf("%s_default", uuid));
		json_object_foreach(json_object_get(app, "networks"), k, v)
			add_unique(&ta->networks, &ta->nnetworks, str_printf("%s_%s", uuid, k));
		json_object_foreach(json_object_get(app, "volumes"), k, v)
			add_unique(&ta->volumes, &ta->nvolumes, str_printf("%d_%s", ta->app_id, k));
		si = 0;
		json_object_foreach(svcs, name, svc) {
			struct tgt_service *t = &ta->svc[si];
			struct svc_state *ss = &a->svcs[ai][si];
			struct compose_ctx ctx;
			const char *id;
			size_t di;

			if (!contract_ok(a, uuid, name, svc, ta))
				continue;
			ss->svc = svc;
			compose_image_normalise(json_string_value(json_object_get(svc, "image")),
						ss->image, sizeof(ss->image));
			if ((id = image_lookup(a->images, a->aliases, ss->image)) != NULL)
				snprintf(ss->image_id, sizeof(ss->image_id), "%s", id);
			compose_ctx_for(a, app, uuid, name, svc, ss, &ctx);
			/* A service labelled for the supervisor API gets its own key. */
			if (label_truthy(svc, "io.balena.features.supervisor-api") ||
			    label_truthy(svc, "io.resin.features.supervisor-api"))
				ctx.api_key = key = keys_for(a->env.keys, ctx.app_id, name);
			rc = compose_service(&ctx, svc, &ss->comp, err, sizeof(err));
			free(key);
			key = NULL;
			if (rc == -1) {
				sysmsg("Could not move to new release: service %s: %s", name, err);
				round_fail(a, "service %s: %s", name, err);
				continue;
			}
			ss->composed = 1;
			snprintf(t->name, sizeof(t->name), "%s", name);
			t->service_id = ctx.service_id;
			t->image_id = ctx.image_id;
			snprintf(t->image, sizeof(t->image), "%s", ss->image);
			compose_container_name(&ctx, t->container_name, sizeof(t->container_name));
			t->image_available = ss->image_id[0] != '\0';
			if (t->image_available)
				compose_hash(ss->comp.spec, t->hash);
			t->running = ss->comp.running;
			t->requires_reboot =
				label_truthy(svc, "io.balena.update.requires-reboot") ||
				label_truthy(svc, "io.resin.update.requires-reboot");
			t->strategy = strategy_of(ss->comp.strategy);
			json_array_foreach(ss->comp.depends_on, di, v)
				if (t->ndepends < PLAN_MAX_DEPS && json_is_string(v))
					snprintf(t->depends[t->ndepends++], sizeof(t->depends[0]),
						 "%s", json_string_value(v));
			t->needs = calloc(json_object_size(ss->comp.networks) +
						  json_array_size(ss->comp.volumes) + 1,
					  sizeof(char *));
			json_object_foreach(ss->comp.networks, k, v) {
				if (strcmp(k, SUPERVISOR_NETWORK) == 0) /* not the app's */
					a->in.want_supervisor0 = 1;
				else
					add_unique(&ta->networks, &ta->nnetworks, strdup(k));
				if (ss->comp.network_mode_service == NULL)
					t->needs[t->nneeds++] = k;
			}
			json_array_foreach(ss->comp.volumes, di, v)
				t->needs[t->nneeds++] = json_string_value(v);
			json_array_foreach(ss->comp.volumes, di, v)
				add_unique(&ta->volumes, &ta->nvolumes,
					   strdup(json_string_value(v)));
			si++;
		}
		ta->nsvc = si;
		named_specs_for(a, app, uuid, ta); /* failing marks the round failed */
		ai++;
	}
	a->in.napps = ai;
	/* Locks held for apps that left the target. */
	a->in.locked_gone = calloc(json_object_size(a->locked) + 1, sizeof(*a->in.locked_gone));
	json_object_foreach(a->locked, k, v) {
		for (j = 0; j < a->in.napps; j++)
			if (strcmp(a->in.apps[j].uuid, k) == 0)
				break;
		if (j == a->in.napps)
			snprintf(a->in.locked_gone[a->in.nlocked_gone++], 64, "%s", k);
	}
	return a->failed ? -1 : 0;
}

/* --- Steps -------------------------------------------------------------- */

struct stepctx {
	struct apply *a;
	const struct step *st;
	struct svc_state *ss; /* for steps about a target service */
	char id[80];          /* container id created or acted on */
	char image[512];
	int phase;
	int netidx; /* start: networks connected so far, after the first */
	int fresh;  /* start: create a new container even though one exists */
	uint64_t deadline;
	struct event *ev;
};

static struct svc_state *svc_state_of(struct apply *a, const struct step *st)
{
	if (st->app < 0 || st->tgt == NULL)
		return NULL;
	return &a->svcs[st->app][st->tgt - a->in.apps[st->app].svc];
}

static void step_end(struct stepctx *sc)
{
	struct apply *a = sc->a;

	if (sc->ev != NULL)
		event_free(sc->ev);
	free(sc);
	round_step_done(a);
}

static const char *svc_label(struct stepctx *sc, char *buf, size_t len)
{
	const struct step *st = sc->st;
	const char *svc = st->tgt ? st->tgt->name : st->cur ? st->cur->service : "?";
	const char *img = st->tgt ? st->tgt->image : st->cur ? st->cur->image_id_ref : "";

	snprintf(buf, len, "%s %s", svc, img);
	return buf;
}

/* Generic completion for single-call steps. */
static int call_ok(struct stepctx *sc, int status, const char *err, const char *what)
{
	if (err == NULL && status >= 200 && status < 400)
		return 1;
	round_fail(sc->a, "%s failed: %s", what, err ? err : "engine error");
	return 0;
}

/* --- fetch: runs in the background, the round does not wait for it ------
 * A managed device on balenaEngine with SUPERVISOR_DELTA on (version 3)
 * asks the cloud for a delta from the image the service runs now to the
 * new one, and pulls that; when there is no source, the delta server says
 * no (a 4xx) or the delta fails to apply DELTA_TRIES times, the image is
 * pulled whole (the balena supervisor's rules, docs/operations.md). */

#define DELTA_TRIES         3
#define DELTA_PROCESSING_MS 2000 /* the server still makes the delta: ask then */

static void fetch_failed(struct apply *a, const char *what, const char *image, const char *why)
{
	char when[32];
	uint64_t d = backoff_ms(a->fetch_failures++);

	/* not at once again: a registry or engine that fails fails again */
	a->fetch_not_before = now_ms() + d;
	pretty_ms(d, when, sizeof(when));
	sysmsg("Failed to download %s '%s' due to '%s'", what, image, why);
	log_info("apply: next download in %s", when);
	if (!a->busy)
		apply_schedule(a, d);
}

static void fetch_succeeded(struct apply *a, const char *image)
{
	sysmsg("Downloaded image '%s'", image);
	store_image_pulled(a->env.db, image);
	a->fetch_failures = 0;
	json_object_del(a->deltas, image);
	apply_trigger(a, "download ended");
}

static void fetch_done(int status, json_t *body, const char *err, void *arg)
{
	struct apply_str *r = arg;
	struct apply *a = r->a;

	(void)body;
	json_object_del(a->fetching, r->s);
	if (err == NULL && status == 200)
		fetch_succeeded(a, r->s);
	else
		fetch_failed(a, "image", r->s, err ? err : "engine error");
	free(r);
}

/* `image` is being downloaded: the API and the report show it at 0 %. */
static void fetch_started(struct apply *a, const char *image)
{
	json_object_del(json_object_get(a->deltas, image), "waiting");
	json_object_set_new(a->fetching, image, json_integer(0));
	if (a->env.hooks.downloading != NULL)
		a->env.hooks.downloading(a->env.hooks.arg);
}

static void pull_whole(struct apply *a, const char *image)
{
	json_t *args = json_pack("{s:s}", "image", image);
	const char *key = json_string_value(json_object_get(a->env.cfg->root, "deviceApiKey"));
	const char *slash = strchr(image, '/');

	/* A managed device pulls from the cloud's registry as d_<uuid>. */
	if (config_managed(a->env.cfg) && key != NULL && slash != NULL &&
	    (memchr(image, '.', (size_t)(slash - image)) != NULL ||
	     memchr(image, ':', (size_t)(slash - image)) != NULL))
		json_object_set_new(args, "auth",
				    json_pack("{s:s+, s:s, s:s%}", "username", "d_",
					      a->env.id->uuid, "password", key, "serveraddress",
					      image, (size_t)(slash - image)));
	sysmsg("Downloading image '%s'", image);
	fetch_started(a, image);
	engine_call(&a->env.engine, "image.pull", args, fetch_done, apply_str_new(a, image));
}

/* What is known of the delta to `image` (made on first use). */
static json_t *delta_entry(struct apply *a, const char *image)
{
	json_t *d = json_object_get(a->deltas, image);

	if (d == NULL) {
		d = json_object();
		json_object_set_new(a->deltas, image, d);
	}
	return d;
}

/* Say `line` about the delta to `image` once (it is said again only when
 * something else was said in between). */
static void delta_note(struct apply *a, const char *image, const char *line)
{
	json_t *d = delta_entry(a, image);

	if (strcmp(json_string_value(json_object_get(d, "noted")) ?: "", line) == 0)
		return;
	json_object_set_new(d, "noted", json_string(line));
	sysmsg("%s", line);
}

static void delta_fallback(struct apply *a, const char *image, const char *why)
{
	char line[1024];

	json_object_set_new(delta_entry(a, image), "fallback", json_string(why));
	snprintf(line, sizeof(line), "Falling back to a full download of image '%s': %s", image,
		 why);
	delta_note(a, image, line);
	json_object_del(a->fetching, image);
	pull_whole(a, image);
}

struct delta_ctx {
	struct apply *a;
	char image[512]; /* the target image */
	char name[1024]; /* the delta image */
};

static void delta_apply_failed(struct delta_ctx *x, const char *why)
{
	struct apply *a = x->a;
	json_t *d = delta_entry(a, x->image);
	json_int_t tries = json_integer_value(json_object_get(d, "tries")) + 1;
	char reason[700];

	json_object_set_new(d, "tries", json_integer(tries));
	json_object_del(a->fetching, x->image);
	if (tries >= DELTA_TRIES) {
		snprintf(reason, sizeof(reason), "its delta did not apply %d times (%.500s)",
			 DELTA_TRIES, why);
		delta_fallback(a, x->image, reason);
	} else {
		fetch_failed(a, "delta for image", x->image, why);
	}
}

/* The delta is pulled: the image it made is the target image. */
static void delta_inspected(int status, json_t *body, const char *err, void *arg)
{
	struct delta_ctx *x = arg;
	struct apply *a = x->a;
	const char *id = json_string_value(json_object_get(body, "Id"));

	if (err != NULL || status != 200 || id == NULL) {
		delta_apply_failed(x, err ? err : "the delta's image is not there after its pull");
		free(x);
		return;
	}
	json_object_del(a->fetching, x->image);
	json_object_set_new(a->aliases, x->image, json_string(id));
	store_alias_set(a->env.db, x->image, id);
	store_image_pulled(a->env.db, x->name); /* removed with the image, once unused */
	fetch_succeeded(a, x->image);
	free(x);
}

static void delta_pulled(int status, json_t *body, const char *err, void *arg)
{
	struct delta_ctx *x = arg;

	(void)body;
	if (err != NULL || status != 200) {
		delta_apply_failed(x, err ? err : "engine error");
		free(x);
		return;
	}
	engine_call(&x->a->env.engine, "image.inspect", json_pack("{s:s}", "image", x->name),
		    delta_inspected, x);
}

static void delta_answered(const char *outcome, const char *name, const char *token,
			   const char *reason, void *arg)
{
	struct delta_ctx *x = arg;
	struct apply *a = x->a;
	json_t *args;

	if (strcmp(outcome, "ready") == 0 && name != NULL) {
		snprintf(x->name, sizeof(x->name), "%s", name);
		args = json_pack("{s:s, s:s}", "image", name, "progress_image", x->image);
		if (token != NULL)
			json_object_set_new(args, "auth",
					    json_pack("{s:s}", "registrytoken", token));
		engine_call(&a->env.engine, "image.pull", args, delta_pulled, x);
		return;
	}
	json_object_del(a->fetching, x->image);
	if (strcmp(outcome, "processing") == 0) {
		/* not a failure: the delta server is making it, ask again soon;
		 * meanwhile the image shows as downloading, at 0 % */
		log_info("apply: the delta for image '%s' is still being made", x->image);
		json_object_set_new(delta_entry(a, x->image), "waiting", json_true());
		a->fetch_not_before = now_ms() + DELTA_PROCESSING_MS;
		if (!a->busy)
			apply_schedule(a, DELTA_PROCESSING_MS);
	} else if (strcmp(outcome, "fallback") == 0) {
		delta_fallback(a, x->image, reason ? reason : "the delta server refused");
	} else {
		fetch_failed(a, "delta for image", x->image, reason ? reason : "unknown error");
	}
	free(x);
}

/* One of `refs` (an array of references) agentd pulled, or NULL. */
static const char *pulled_one(json_t *refs, json_t *pulled)
{
	json_t *r, *p;
	size_t i, k;

	json_array_foreach(refs, i, r)
		json_array_foreach(pulled, k, p)
			if (json_equal(r, p))
				return json_string_value(r);
	return NULL;
}

/* The reference of the image the service runs now, as the cloud named it:
 * the one a delta made it for, or the one agentd pulled, else a digest or a
 * tag the engine has. "" when there is none (or it is itself a delta of the
 * old kind, which cannot be the base of a new one). */
static void delta_source(struct apply *a, const struct step *st, char *src, size_t len)
{
	const struct tgt_app *ta = &a->in.apps[st->app];
	json_t *img = NULL, *pulled, *v, *all;
	const char *k, *ref = NULL, *id = NULL;
	size_t i;
	int c;

	src[0] = '\0';
	for (c = 0; c < a->in.ncur && id == NULL; c++)
		if (!strcmp(a->in.cur[c].app_uuid, ta->uuid) &&
		    !strcmp(a->in.cur[c].service, st->tgt->name) && a->in.cur[c].image_id_ref[0])
			id = a->in.cur[c].image_id_ref;
	json_array_foreach(a->images, i, v)
		if (id != NULL && !strcmp(json_string_value(json_object_get(v, "Id")) ?: "", id))
			img = v;
	if (img == NULL)
		return;
	if (json_integer_value(json_object_get(img, "Size")) < 40 &&
	    json_integer_value(json_object_get(img, "VirtualSize")) < 40)
		return; /* a version 2 delta */
	json_object_foreach(a->aliases, k, v)
		if (strcmp(json_string_value(v) ?: "", id) == 0)
			ref = k;
	pulled = store_images_pulled(a->env.db);
	all = json_array();
	json_array_extend(all, json_object_get(img, "RepoTags"));
	json_array_extend(all, json_object_get(img, "RepoDigests"));
	if (ref == NULL)
		ref = pulled_one(all, pulled);
	if (ref == NULL && json_is_string(json_array_get(json_object_get(img, "RepoDigests"), 0)))
		ref = json_string_value(json_array_get(json_object_get(img, "RepoDigests"), 0));
	if (ref == NULL && json_is_string(json_array_get(json_object_get(img, "RepoTags"), 0)) &&
	    strcmp(json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0)),
		   "<none>:<none>") != 0)
		ref = json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0));
	if (ref != NULL)
		snprintf(src, len, "%s", ref);
	json_decref(all);
	json_decref(pulled);
}

/* No delta for `image`, and why (said once). */
static int delta_whole(struct apply *a, const char *image, const char *why)
{
	char line[1024];

	snprintf(line, sizeof(line), "%s: downloading image '%s' whole", why, image);
	delta_note(a, image, line);
	return 0;
}

/* Whether the image of `st` is got through a delta from `src`. */
static int delta_wanted(struct apply *a, const struct step *st, char *src, size_t len)
{
	json_t *cfg = json_object_get(a->target, "config");
	const char *image = st->tgt->image;
	const char *version = json_string_value(json_object_get(cfg, "SUPERVISOR_DELTA_VERSION"));
	char why[64];

	if (!config_truthy(a->target, "SUPERVISOR_DELTA") || a->env.hooks.delta_request == NULL ||
	    !config_managed(a->env.cfg) || st->app < 0 || a->env.engine.deltas == NULL)
		return 0;
	if (json_object_get(delta_entry(a, image), "fallback") != NULL)
		return 0;
	if (!a->env.engine.deltas(a->env.engine.ctx))
		return delta_whole(a, image,
				   "The engine does not apply deltas (it is not balenaEngine)");
	if (version == NULL)
		version = "2"; /* balena's default */
	if (strcmp(version, "3") != 0) {
		snprintf(why, sizeof(why), "Delta version %.20s is not supported (only 3 is)",
			 version);
		return delta_whole(a, image, why);
	}
	delta_source(a, st, src, len);
	if (src[0] == '\0')
		return delta_whole(a, image, "No image on the device to make a delta from");
	return 1;
}

static void step_fetch(struct stepctx *sc)
{
	struct apply *a = sc->a;
	const char *image = sc->st->tgt->image;
	const char *t = json_string_value(json_object_get(json_object_get(a->target, "config"),
							  "SUPERVISOR_DELTA_REQUEST_TIMEOUT"));
	struct delta_ctx *x;
	char src[1024], line[1200];

	if (json_object_get(a->fetching, image) != NULL || now_ms() < a->fetch_not_before) {
		step_end(sc);
		return;
	}
	if (!delta_wanted(a, sc->st, src, sizeof(src)) || (x = calloc(1, sizeof(*x))) == NULL) {
		pull_whole(a, image);
		step_end(sc);
		return;
	}
	x->a = a;
	snprintf(x->image, sizeof(x->image), "%s", image);
	snprintf(line, sizeof(line), "Downloading delta for image '%s'", image);
	delta_note(a, image, line);
	fetch_started(a, image);
	if (a->env.hooks.delta_request(a->env.hooks.arg, src, image,
				       t != NULL && atol(t) > 0 ? atol(t) : 59000, delta_answered,
				       x) == -1) {
		free(x);
		delta_fallback(a, image, "the cloud cannot be asked for a delta");
	}
	step_end(sc);
}

static void simple_done(int status, json_t *body, const char *err, void *arg)
{
	struct stepctx *sc = arg;

	(void)body;
	call_ok(sc, status, err, plan_step_name(sc->st->kind));
	step_end(sc);
}

/* start: create (unless created already), connect networks, start */
enum { PH_CREATE, PH_CONNECT, PH_START, PH_DONE };

static void start_next(struct stepctx *sc);

static void start_cb(int status, json_t *body, const char *err, void *arg)
{
	struct stepctx *sc = arg;
	char label[700];

	if (!call_ok(sc, status, err, "start")) {
		step_end(sc);
		return;
	}
	switch (sc->phase) {
	case PH_CREATE: {
		const char *id = json_string_value(json_object_get(body, "Id"));

		snprintf(sc->id, sizeof(sc->id), "%s", id ? id : "");
		/* what it was made from, and in which boot (a requires-reboot
		 * service starts only in a later one) */
		store_made_set(sc->a->env.db, sc->id, sc->st->tgt->hash, sc->a->boot.id);
		sysmsg("Installed service '%s'", svc_label(sc, label, sizeof(label)));
		sc->phase = PH_CONNECT;
		break;
	}
	case PH_CONNECT:
		sc->netidx++;
		break;
	case PH_START:
		sc->phase = PH_DONE;
		break;
	}
	start_next(sc);
}

/* The container's config, with what only agentd knows at create time. */
static json_t *start_spec(struct stepctx *sc)
{
	struct apply *a = sc->a;
	const struct step *st = sc->st;
	struct svc_state *ss = sc->ss;
	json_t *spec = json_deep_copy(ss->comp.spec);
	int c;

	if (ss->comp.network_mode_service == NULL)
		return spec;
	/* network_mode: service:x becomes the id of x's container. */
	for (c = 0; c < a->in.ncur; c++)
		if (strcmp(a->in.cur[c].service, ss->comp.network_mode_service) == 0 &&
		    strcmp(a->in.cur[c].app_uuid, a->in.apps[st->app].uuid) == 0 &&
		    !a->in.cur[c].handover_old)
			break;
	if (c == a->in.ncur) {
		round_fail(a, "service %s: network_mode service:%s has no container", st->tgt->name,
			   ss->comp.network_mode_service);
		json_decref(spec);
		return NULL;
	}
	json_object_set_new(json_object_get(spec, "HostConfig"), "NetworkMode",
			    json_sprintf("container:%s", a->in.cur[c].id));
	return spec;
}

static void start_next(struct stepctx *sc)
{
	struct apply *a = sc->a;
	const struct step *st = sc->st;
	struct svc_state *ss = sc->ss;
	char label[700];
	const char *k;
	json_t *spec, *v;
	int i = 0;

	switch (sc->phase) {
	case PH_CREATE:
		if (st->cur != NULL && !sc->fresh) {
			snprintf(sc->id, sizeof(sc->id), "%s", st->cur->id);
			sc->phase = PH_START;
			start_next(sc);
			return;
		}
		sysmsg("Installing service '%s'", svc_label(sc, label, sizeof(label)));
		if (lock_dir_make(a->env.run_dir, a->in.apps[st->app].app_id, st->tgt->name) == -1)
			log_warn("cannot create the lock dir of %s", st->tgt->name);
		if ((spec = start_spec(sc)) == NULL) {
			step_end(sc);
			return;
		}
		engine_call(&a->env.engine, "container.create",
			    json_pack("{s:s, s:o}", "name", st->tgt->container_name, "spec", spec),
			    start_cb, sc);
		return;
	case PH_CONNECT:
		/* Networks beyond the first, which the create attached already. */
		if (ss->comp.network_mode_service == NULL) {
			json_object_foreach(ss->comp.networks, k, v) {
				if (i++ <= sc->netidx)
					continue;
				engine_call(&a->env.engine, "network.connect",
					    json_pack("{s:s, s:s, s:O?}", "id", k, "container",
						      sc->id, "aliases",
						      json_object_get(v, "Aliases")),
					    start_cb, sc);
				return;
			}
		}
		sc->phase = PH_START;
		/* fall through */
	case PH_START:
		if (!st->tgt->running) {
			step_end(sc);
			return;
		}
		if (st->tgt->requires_reboot && (st->cur == NULL || sc->fresh)) { /* created now */
			char why[300];

			snprintf(why, sizeof(why), "{\"service\":\"%s\"}", st->tgt->name);
			boot_breadcrumb_touch(&a->boot, why);
			step_end(sc);
			return;
		}
		sysmsg("Starting service '%s'", svc_label(sc, label, sizeof(label)));
		engine_call(&a->env.engine, "container.start", json_pack("{s:s}", "id", sc->id),
			    start_cb, sc);
		return;
	default:
		sysmsg("Started service '%s'", svc_label(sc, label, sizeof(label)));
		step_end(sc);
		return;
	}
}

/* kill: stop, remove (with anonymous volumes), maybe remove its image */
static void kill_cb(int status, json_t *body, const char *err, void *arg)
{
	struct stepctx *sc = arg;
	const struct engine_port *eng = &sc->a->env.engine;
	char label[700];

	(void)body;
	if (sc->phase == 3) {
		/* image removal: failing it (still used) is harmless */
		if (err == NULL)
			sysmsg("Deleted image '%s'", sc->image);
		step_end(sc);
		return;
	}
	if (status == 404 && sc->phase == 1) {
		step_end(sc); /* gone already */
		return;
	}
	if (!call_ok(sc, status, err, "kill")) {
		step_end(sc);
		return;
	}
	if (sc->phase == 1) {
		sc->phase = 2;
		engine_call(eng, "container.remove",
			    json_pack("{s:s, s:b, s:b}", "id", sc->st->cur->id, "force", 1,
				      "volumes", 1),
			    kill_cb, sc);
		return;
	}
	sysmsg("Killed service '%s'", svc_label(sc, label, sizeof(label)));
	if (strcmp(sc->st->why, "delete-then-download") == 0 && sc->st->cur->image_id_ref[0]) {
		sc->phase = 3;
		snprintf(sc->image, sizeof(sc->image), "%s", sc->st->cur->image_id_ref);
		sysmsg("Deleting image '%s'", sc->image);
		engine_call(eng, "image.remove", json_pack("{s:s}", "image", sc->image), kill_cb,
			    sc);
		return;
	}
	step_end(sc);
}

static void step_kill(struct stepctx *sc)
{
	char label[700];

	sysmsg("Killing service '%s'", svc_label(sc, label, sizeof(label)));
	sc->phase = 1;
	engine_call(&sc->a->env.engine, "container.stop", json_pack("{s:s}", "id", sc->st->cur->id),
		    kill_cb, sc);
}

/* hand-over: old loses its restart policy and name, new starts, then wait */
static void handover_next(struct stepctx *sc);

static void handover_cb(int status, json_t *body, const char *err, void *arg)
{
	struct stepctx *sc = arg;

	(void)body;
	if (!call_ok(sc, status, err, "handover")) {
		step_end(sc);
		return;
	}
	handover_next(sc);
}

static int handover_complete(struct stepctx *sc)
{
	char dir[4096], path[4200];
	const struct step *st = sc->st;
	int i;
	static const char *const names[] = {"handover-complete", "resin-kill-me"};

	lock_dir_path(sc->a->env.run_dir, sc->a->in.apps[st->app].app_id, st->tgt->name, dir,
		      sizeof(dir));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (access(path, F_OK) == 0) {
			unlink(path);
			return 1;
		}
	}
	return 0;
}

static void handover_poll(evutil_socket_t fd, short what, void *arg)
{
	struct stepctx *sc = arg;
	struct timeval tv = {0, HANDOVER_POLL_MS * 1000};

	(void)fd;
	(void)what;
	if (handover_complete(sc) || now_ms() >= sc->deadline) {
		handover_next(sc);
		return;
	}
	evtimer_add(sc->ev, &tv);
}

static void handover_next(struct stepctx *sc)
{
	struct apply *a = sc->a;
	const struct step *st = sc->st;
	char oldname[PLAN_NAME_MAX + 8];
	struct timeval tv = {0, HANDOVER_POLL_MS * 1000};
	struct stepctx *start;

	switch (sc->phase++) {
	case 0:
		engine_call(&a->env.engine, "container.update",
			    json_pack("{s:s, s:s}", "id", st->cur->id, "restart", "no"),
			    handover_cb, sc);
		return;
	case 1:
		snprintf(oldname, sizeof(oldname), "old_%s", st->cur->name);
		engine_call(&a->env.engine, "container.rename",
			    json_pack("{s:s, s:s}", "id", st->cur->id, "name", oldname),
			    handover_cb, sc);
		return;
	case 2:
		/* Start the new one as a step of its own; it comes back here. */
		if ((start = calloc(1, sizeof(*start))) == NULL) {
			round_fail(a, "out of memory");
			step_end(sc);
			return;
		}
		*start = *sc;
		start->phase = PH_CREATE;
		start->fresh = 1;
		start->ev = NULL;
		sc->a->pending++;
		start_next(start);
		/* Wait for the application to say it has taken over. */
		sc->deadline = now_ms() + (uint64_t)sc->ss->comp.handover_timeout_ms;
		sc->ev = evtimer_new(a->env.base, handover_poll, sc);
		evtimer_add(sc->ev, &tv);
		return;
	case 3:
		sc->phase = 1;
		step_kill(sc);
		return;
	}
}

static void step_lock(struct stepctx *sc, int take)
{
	struct apply *a = sc->a;
	const struct step *st = sc->st;
	const char *svcs[256];
	char err[256];
	json_t *list = json_array(), *v;
	int n = 0, i, app_id = -1, force;
	size_t k;

	/* All services of the app, current and target. */
	for (i = 0; i < a->in.ncur && n < 256; i++) {
		if (strcmp(a->in.cur[i].app_uuid, st->name) == 0) {
			json_array_append_new(list, json_string(a->in.cur[i].service));
			app_id = a->in.cur[i].app_id;
		}
	}
	if (st->app >= 0) {
		app_id = a->in.apps[st->app].app_id;
		for (i = 0; i < a->in.apps[st->app].nsvc; i++)
			json_array_append_new(list, json_string(a->in.apps[st->app].svc[i].name));
	}
	if (!take) {
		json_t *held = json_object_get(a->locked, st->name);

		json_array_extend(list, json_object_get(held, "services"));
		if (app_id < 0)
			app_id = (int)json_integer_value(json_object_get(held, "app_id"));
	}
	json_array_foreach(list, k, v)
		if (n < 256)
			svcs[n++] = json_string_value(v);
	force = config_truthy(a->target, "SUPERVISOR_OVERRIDE_LOCK");
	if (take) {
		sysmsg("Taking update locks");
		i = lock_take(a->env.run_dir, app_id, svcs, n, force, err, sizeof(err));
		if (i == 0) {
			json_object_set_new(
				a->locked, st->name,
				json_pack("{s:i, s:O}", "app_id", app_id, "services", list));
		} else {
			if (i == -1)
				a->lock_failed = 1;
			round_fail(a, "%s", err);
		}
	} else {
		sysmsg("Releasing update locks");
		lock_release(a->env.run_dir, app_id, svcs, n);
		json_object_del(a->locked, st->name);
	}
	json_decref(list);
	step_end(sc);
}

static void step_run(struct apply *a, const struct step *st)
{
	struct stepctx *sc = calloc(1, sizeof(*sc));
	const struct tgt_app *ta = st->app >= 0 ? &a->in.apps[st->app] : NULL;
	json_t *cfg;

	if (sc == NULL) {
		round_fail(a, "out of memory");
		round_step_done(a);
		return;
	}
	sc->a = a;
	sc->st = st;
	sc->ss = svc_state_of(a, st);
	switch (st->kind) {
	case STEP_FETCH:
		step_fetch(sc);
		break;
	case STEP_START:
		start_next(sc);
		break;
	case STEP_KILL:
		step_kill(sc);
		break;
	case STEP_STOP:
		engine_call(&a->env.engine, "container.stop", json_pack("{s:s}", "id", st->cur->id),
			    simple_done, sc);
		break;
	case STEP_REMOVE:
		engine_call(
			&a->env.engine, "container.remove",
			json_pack("{s:s, s:b, s:b}", "id", st->cur->id, "force", 1, "volumes", 1),
			simple_done, sc);
		break;
	case STEP_RENAME:
		engine_call(
			&a->env.engine, "container.rename",
			json_pack("{s:s, s:s}", "id", st->cur->id, "name", st->tgt->container_name),
			simple_done, sc);
		break;
	case STEP_HANDOVER:
		handover_next(sc);
		break;
	case STEP_TAKE_LOCK:
	case STEP_RELEASE_LOCK:
		step_lock(sc, st->kind == STEP_TAKE_LOCK);
		break;
	case STEP_CREATE_VOLUME:
	case STEP_CREATE_NETWORK:
		cfg = json_object_get(a->named_specs, st->name);
		if (cfg == NULL) {
			round_fail(a, "no create body for %s", st->name);
			step_end(sc);
			break;
		}
		engine_call(&a->env.engine,
			    st->kind == STEP_CREATE_VOLUME ? "volume.create" : "network.create",
			    json_pack("{s:O}", "spec", cfg), simple_done, sc);
		break;
	case STEP_REMOVE_VOLUME:
		engine_call(&a->env.engine, "volume.remove", json_pack("{s:s}", "id", st->name),
			    simple_done, sc);
		break;
	case STEP_REMOVE_NETWORK:
		engine_call(&a->env.engine, "network.remove", json_pack("{s:s}", "id", st->name),
			    simple_done, sc);
		break;
	case STEP_UPDATE_COMMIT:
		if (store_commit_set(a->env.db, ta->uuid, ta->app_id, ta->commit) == -1)
			round_fail(a, "cannot store the current commit");
		step_end(sc);
		break;
	case STEP_REBOOT: {
		char err[512];

		if (a->env.hooks.reboot("a service needs a reboot to start", err, sizeof(err),
					a->env.hooks.arg) == -1) {
			a->lock_failed = 1;
			round_fail(a, "%s", err);
		} else {
			a->reboot_asked = 1;
		}
		step_end(sc);
		break;
	}
	case STEP_NOOP:
		step_end(sc);
		break;
	}
}

/* --- The round ---------------------------------------------------------- */

static void round_step_done(struct apply *a)
{
	if (--a->pending > 0)
		return;
	round_end(a, a->only_noops);
}

static void image_removed(int status, json_t *body, const char *err, void *arg)
{
	struct apply_str *r = arg;

	(void)body;
	if (err == NULL || status == 404) {
		if (err == NULL)
			sysmsg("Deleted image '%s'", r->s);
		store_image_forget(r->a->env.db, r->s);
	} else {
		log_warnx("cannot remove image %s: %s", r->s, err);
	}
	free(r);
}

/* Images agentd pulled that neither the target nor any container uses any
 * more are removed (not in local mode, where images are the developer's). */
static void images_cleanup(struct apply *a)
{
	json_t *used = json_object(), *app, *svc, *c, *pulled, *p;
	const char *k, *n;
	char ref[512];
	size_t i;

	if (json_is_true(json_object_get(a->target, "local")) ||
	    config_truthy(a->target, "SUPERVISOR_LOCAL_MODE") || !config_managed(a->env.cfg)) {
		json_decref(used);
		return;
	}
	json_object_foreach(json_object_get(a->target, "apps"), k, app)
		json_object_foreach(json_object_get(app, "services"), n, svc) {
			compose_image_normalise(json_string_value(json_object_get(svc, "image")),
						ref, sizeof(ref));
			json_object_set_new(used, ref, json_true());
		}
	json_array_foreach(a->containers, i, c)
		if (json_is_string(json_object_get(c, "ImageID")))
			json_object_set_new(used, json_string_value(json_object_get(c, "ImageID")),
					    json_true());
	pulled = store_images_pulled(a->env.db);
	json_array_foreach(pulled, i, p) {
		const char *r = json_string_value(p);
		const char *id = image_lookup(a->images, a->aliases, r);

		if (json_object_get(used, r) != NULL || (id && json_object_get(used, id) != NULL))
			continue;
		if (json_object_get(a->fetching, r) != NULL)
			continue;
		sysmsg("Deleting image '%s'", r);
		engine_call(&a->env.engine, "image.remove", json_pack("{s:s}", "image", r),
			    image_removed, apply_str_new(a, r));
	}
	json_decref(pulled);
	json_decref(used);
}

/* --- What agentd did not make ------------------------------------------------
 * Containers the Node supervisor made (agentd has no record of them) are
 * compared with their target the balena supervisor's way; one that is what
 * the target wants is adopted as it is (the planner then sees it unchanged:
 * nothing, or a rename for a commit-only release). Networks and volumes are
 * always compared that way. Each verdict is logged once. */

static void adopt_log(struct apply *a, const char *key, const char *verdict)
{
	const char *last = json_string_value(json_object_get(a->adopt_logged, key));

	if (last != NULL && strcmp(last, verdict) == 0)
		return;
	json_object_set_new(a->adopt_logged, key, json_string(verdict));
	sysmsg("%s", verdict);
}

/* The engine's entry of a network or volume, by name. */
static json_t *named_current(json_t *list, const char *name)
{
	json_t *o;
	size_t i;

	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "Name")) ?: "", name) == 0)
			return o;
	return NULL;
}

static void adopt_containers(struct apply *a)
{
	char why[700], verdict[1024], key[96];
	int ai, si, c, x;

	for (ai = 0; ai < a->in.napps; ai++) {
		struct tgt_app *ta = &a->in.apps[ai];

		for (si = 0; si < ta->nsvc; si++) {
			struct tgt_service *t = &ta->svc[si];
			struct svc_state *ss = &a->svcs[ai][si];
			const char *netsvc = NULL, *f;

			if (!ss->composed || t->hash[0] == '\0')
				continue; /* no image yet: nothing to compare with */
			/* network_mode service:x is x's container */
			for (x = 0; ss->comp.network_mode_service != NULL && x < a->in.ncur; x++)
				if (!strcmp(a->in.cur[x].service, ss->comp.network_mode_service) &&
				    !strcmp(a->in.cur[x].app_uuid, ta->uuid) &&
				    !a->in.cur[x].handover_old)
					netsvc = a->in.cur[x].id;
			for (c = 0; c < a->in.ncur; c++) {
				struct cur_container *cc = &a->in.cur[c];
				json_t *inspect = json_object_get(a->inspected, cc->id);

				if (cc->hash[0] != '\0' || cc->handover_old || inspect == NULL ||
				    strcmp(cc->app_uuid, ta->uuid) || strcmp(cc->service, t->name))
					continue;
				snprintf(key, sizeof(key), "c:%s", cc->id);
				f = adopt_container(
					inspect, ss->comp.spec,
					ss->image_id[0]
						? json_object_get(a->image_config, ss->image_id)
						: NULL,
					ss->comp.networks, netsvc, why, sizeof(why));
				if (f != NULL) {
					snprintf(verdict, sizeof(verdict),
						 "Service '%s' differs from its target in %s (%s): "
						 "it "
						 "is made again",
						 t->name, f, why);
					if (json_object_get(a->adopt_logged, key) == NULL)
						a->remade++;
					adopt_log(a, key, verdict);
					continue;
				}
				/* the same as what agentd would make: recorded as such */
				snprintf(cc->hash, sizeof(cc->hash), "%s", t->hash);
				store_made_set(a->env.db, cc->id, t->hash, "");
				snprintf(verdict, sizeof(verdict),
					 "Adopted service '%s' (no change%s)", t->name,
					 strcmp(cc->commit, ta->commit) ? "; a new release: renamed"
									: "");
				a->adopted++;
				adopt_log(a, key, verdict);
			}
		}
	}
}

static void adopt_named(struct apply *a, struct cur_named *list, int n, int network)
{
	json_t *engine = network ? a->networks : json_object_get(a->volumes, "Volumes");
	char why[700], verdict[1024], key[300];
	const char *f;
	int i;

	for (i = 0; i < n; i++) {
		json_t *spec = json_object_get(a->named_specs, list[i].name);
		json_t *cur = named_current(engine, list[i].name);

		if (spec == NULL || cur == NULL)
			continue;
		f = network ? adopt_network(cur, spec, why, sizeof(why))
			    : adopt_volume(cur, spec, why, sizeof(why));
		/* the planner: "" is the same config, anything else another one */
		snprintf(list[i].hash, sizeof(list[i].hash), "%s", f ? "changed" : "");
		snprintf(key, sizeof(key), "%c:%s", network ? 'n' : 'v', list[i].name);
		if (f != NULL)
			snprintf(verdict, sizeof(verdict),
				 "%s '%s' differs from its target in %s (%s): it is made again",
				 network ? "Network" : "Volume", list[i].name, f, why);
		else
			snprintf(verdict, sizeof(verdict), "%s '%s' is as its target wants",
				 network ? "Network" : "Volume", list[i].name);
		if (f != NULL)
			adopt_log(a, key, verdict);
		else
			json_object_set_new(a->adopt_logged, key, json_string(verdict));
	}
}

static void adopt_round(struct apply *a)
{
	adopt_containers(a);
	adopt_named(a, a->in.nets, a->in.nnets, 1);
	adopt_named(a, a->in.vols, a->in.nvols, 0);
}

static void round_plan(struct apply *a)
{
	size_t ni;
	json_t *v;
	int i;

	read_current(a);
	read_named(a->volumes ? json_object_get(a->volumes, "Volumes") : NULL, &a->in.vols,
		   &a->in.nvols);
	read_named(a->networks, &a->in.nets, &a->in.nnets);
	a->in.supervisor0 = 0;
	json_array_foreach(a->networks, ni, v)
		if (strcmp(json_string_value(json_object_get(v, "Name")) ?: "",
			   SUPERVISOR_NETWORK) == 0)
			a->in.supervisor0 = 1;
	if (build_target(a) == -1) {
		round_end(a, 0);
		return;
	}
	adopt_round(a);
	if (storage_failing(STORAGE_TARGET_CONFIG))
		target_config_dump(a); /* the run dir was full when the target came */
	boot_config_apply(&a->boot, json_object_get(a->target, "config"));
	a->in.reboot_due = boot_breadcrumb_due(&a->boot);
	a->in.reboot_asked = a->reboot_asked || now_ms() < a->reboot_not_before;
	a->nsteps = plan_steps(&a->in, a->steps, MAX_STEPS);
	if (a->nsteps == 0)
		images_cleanup(a);
	if (a->nsteps == 0) {
		if (!a->applied) {
			log_info("apply: target state applied");
			if (a->took_over)
				sysmsg("Took over the device from the Node supervisor: %u "
				       "service%s "
				       "adopted as %s, %u made again",
				       a->adopted, a->adopted == 1 ? "" : "s",
				       a->adopted == 1 ? "it was" : "they were", a->remade);
			a->took_over = 0;
			if (a->env.hooks.applied != NULL)
				a->env.hooks.applied(a->env.hooks.arg);
			a->applies++;
			if (a->apply_started_ms)
				a->apply_ms_total += now_ms() - a->apply_started_ms;
			a->apply_started_ms = 0;
		}
		a->applied = 1;
		round_free(a);
		a->busy = 0;
		a->failures = 0;
		if (a->again || a->cancelled) {
			a->again = a->cancelled = 0;
			apply_schedule(a, 0);
		}
		return;
	}
	if (a->applied || a->apply_started_ms == 0)
		a->apply_started_ms = now_ms();
	a->applied = 0;
	a->only_noops = 1;
	for (i = 0; i < a->nsteps; i++) {
		log_debug("apply: step %s %s (%s)", plan_step_name(a->steps[i].kind),
			  a->steps[i].tgt   ? a->steps[i].tgt->name
			  : a->steps[i].cur ? a->steps[i].cur->name
					    : a->steps[i].name,
			  a->steps[i].why);
		if (a->steps[i].kind != STEP_NOOP &&
		    !(a->steps[i].kind == STEP_FETCH &&
		      (json_object_get(a->fetching, a->steps[i].tgt->image) != NULL ||
		       now_ms() < a->fetch_not_before)))
			a->only_noops = 0;
	}
	a->pending = a->nsteps + 1; /* +1: ours, so no step can end the round early */
	for (i = 0; i < a->nsteps; i++)
		step_run(a, &a->steps[i]);
	round_step_done(a);
}

/* One of the gather's inspects ended: plan once the last one has. */
static void gather_one_done(struct apply *a)
{
	if (--a->pending == 0) {
		if (a->failed)
			round_end(a, 0);
		else
			round_plan(a);
	}
}

static void inspect_done(int status, json_t *body, const char *err, void *arg)
{
	struct apply_str *r = arg;
	struct apply *a = r->a;
	const char *id = r->s;

	if (err == NULL && status == 200 && json_is_object(json_object_get(body, "Config")))
		json_object_set(a->image_config, id, json_object_get(body, "Config"));
	else
		round_fail(a, "cannot inspect image %s: %s", id, err ? err : "engine error");
	free(r);
	gather_one_done(a);
}

static void container_inspected(int status, json_t *body, const char *err, void *arg)
{
	struct apply_str *r = arg;
	struct apply *a = r->a;

	if (err == NULL && status == 200 && json_is_object(body))
		json_object_set(a->inspected, r->s, body);
	else if (status != 404) /* gone meanwhile: nothing to compare */
		round_fail(a, "cannot inspect container %.12s: %s", r->s,
			   err ? err : "engine error");
	free(r);
	gather_one_done(a);
}

/* What the composer and the adoption of the Node supervisor's containers
 * need: the configs of target images that are here, and the inspect of
 * every container agentd has no record of (each once: a container's config
 * does not change). */
static void gather_images(struct apply *a)
{
	json_t *app, *svc, *c, *ids = json_array();
	const char *k, *n;
	char ref[512], hash[17], boot[40];
	const char *id;
	void *tmp;
	size_t i;

	a->pending = 1;
	json_array_foreach(a->containers, i, c) {
		id = json_string_value(json_object_get(c, "Id"));
		if (id == NULL)
			continue;
		json_array_append_new(ids, json_string(id));
		if (json_object_get(a->inspected, id) != NULL ||
		    json_object_get(json_object_get(c, "Labels"), "io.balena.agentd.config-hash") ||
		    store_made_get(a->env.db, id, hash, boot, sizeof(boot)) == 0)
			continue;
		a->pending++;
		engine_call(&a->env.engine, "container.inspect", json_pack("{s:s}", "id", id),
			    container_inspected, apply_str_new(a, id));
	}
	/* records and inspects of containers that are gone */
	store_made_prune(a->env.db, ids);
	json_object_foreach_safe(a->inspected, tmp, k, c) {
		int here = 0;

		json_array_foreach(ids, i, c)
			here |= strcmp(json_string_value(c), k) == 0;
		if (!here)
			json_object_del(a->inspected, k);
	}
	json_decref(ids);
	json_object_foreach(json_object_get(a->target, "apps"), k, app) {
		json_object_foreach(json_object_get(app, "services"), n, svc) {
			compose_image_normalise(json_string_value(json_object_get(svc, "image")),
						ref, sizeof(ref));
			id = image_lookup(a->images, a->aliases, ref);
			if (id == NULL || json_object_get(a->image_config, id) != NULL)
				continue;
			json_object_set_new(a->image_config, id, json_null()); /* in flight */
			a->pending++;
			engine_call(&a->env.engine, "image.inspect",
				    json_pack("{s:s}", "image", id), inspect_done,
				    apply_str_new(a, id));
		}
	}
	if (--a->pending == 0)
		round_plan(a);
}

static void list_done(int status, json_t *body, const char *err, void *arg)
{
	struct gather_slot *g = arg;
	struct apply *a = g->a;
	json_t **slot = g->slot;

	if (err != NULL || status != 200)
		round_fail(a, "cannot read the engine's state: %s", err ? err : "engine error");
	else
		*slot = json_incref(body);
	if (--a->pending > 0)
		return;
	if (a->failed) {
		round_end(a, 0);
		return;
	}
	/* Drop configs of images that are gone (and half-done entries). */
	{
		const char *id;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(a->image_config, tmp, id, v)
			if (json_is_null(v) || image_lookup(a->images, a->aliases, id) == NULL)
				json_object_del(a->image_config, id);
	}
	json_decref(a->last_images);
	a->last_images = json_incref(a->images);
	gather_images(a);
}

static void apply_round(struct apply *a)
{
	if (a->busy)
		return;
	if (a->hold[0] != '\0') {
		log_debug("apply: holding: %s", a->hold);
		return; /* only a new target ends it */
	}
	if (!engine_ready(&a->env.engine)) {
		log_debug("apply: waiting for the engine");
		return; /* the engine's arrival triggers us */
	}
	a->busy = 1;
	a->failed = a->lock_failed = 0;
	a->reason[0] = '\0';
	a->pending = 4;
	engine_call(&a->env.engine, "containers.list",
		    json_pack("{s:b, s:[s]}", "all", 1, "labels", "io.balena.supervised"),
		    list_done, &a->gather[0]);
	engine_call(&a->env.engine, "images.list", json_object(), list_done, &a->gather[1]);
	/* All of them: supervisor0 has no label of ours (read_named filters). */
	engine_call(&a->env.engine, "networks.list", json_object(), list_done, &a->gather[2]);
	engine_call(&a->env.engine, "volumes.list",
		    json_pack("{s:[s]}", "labels", "io.balena.supervised"), list_done,
		    &a->gather[3]);
}

int apply_progress(struct apply *a, const char *image, int percent)
{
	json_t *v = a != NULL ? json_object_get(a->fetching, image) : NULL;

	if (v == NULL || json_integer_value(v) == percent)
		return 0;
	json_object_set_new(a->fetching, image, json_integer(percent));
	return 1;
}

/* Whether the delta to `image` is being made by the server: asked again soon. */
static int delta_waiting(struct apply *a, const char *image)
{
	return json_is_true(json_object_get(json_object_get(a->deltas, image), "waiting"));
}

int apply_download_progress(struct apply *a, const char *image)
{
	json_t *v = a != NULL && image != NULL ? json_object_get(a->fetching, image) : NULL;

	if (v != NULL)
		return (int)json_integer_value(v);
	return a != NULL && image != NULL && delta_waiting(a, image) ? 0 : -1;
}

/* --- Set-up ------------------------------------------------------------- */

/* A device the Node supervisor ran: its database imported, read-only; if it
 * cannot be, nothing on the device is touched until a target comes. */
static void apply_takeover(struct apply *a)
{
	char node[PATH_MAX], why[600], err[512];
	json_t *t = NULL;

	snprintf(node, sizeof(node), "%s/database.sqlite", a->env.data_dir);
	switch (takeover_import(a->env.db, a->env.keys, node, a->env.id->uuid,
				a->env.cfg->api_endpoint, &t, why, sizeof(why))) {
	case TAKEOVER_NONE:
		return;
	case TAKEOVER_REFUSED:
		snprintf(a->hold, sizeof(a->hold),
			 "the Node supervisor's database could not be imported (%.380s): the "
			 "apps are left as they are until a target comes",
			 why);
		sysmsg("Not taking over the device: %s", a->hold);
		return;
	case TAKEOVER_IMPORTED:
		if (t != NULL && store_target_save(a->env.db, t, err, sizeof(err)) == -1)
			log_error("takeover: %s", err);
		a->target = t; /* NULL: Node had none, the preloaded apps may be */
		a->took_over = 1;
		return;
	}
}

struct apply *apply_new(const struct apply_env *env)
{
	struct apply *a = calloc(1, sizeof(*a));
	char err[512];
	json_t *pre;
	int n;

	if (a == NULL)
		return NULL;
	a->env = *env;
	{
		struct boot_env be = env->boot;

		be.run_dir = env->run_dir;
		be.data_dir = env->data_dir;
		be.boot_dir = env->boot_dir;
		be.device_type = env->id->type;
		be.os_meta_version = env->id->os_meta_version;
		boot_init(&a->boot, &be);
		boot_start(&a->boot); /* before agentd confines itself (main.c) */
	}
	/* A new agentd holds no lock: what a stopped one held is given back. */
	if ((n = lock_sweep(env->run_dir)) > 0)
		log_info("update locks: removed %d lock file%s a stopped agentd held", n,
			 n == 1 ? "" : "s");
	a->gather[0] = (struct gather_slot){a, &a->containers};
	a->gather[1] = (struct gather_slot){a, &a->images};
	a->gather[2] = (struct gather_slot){a, &a->networks};
	a->gather[3] = (struct gather_slot){a, &a->volumes};
	a->image_config = json_object();
	a->inspected = json_object();
	a->adopt_logged = json_object();
	a->aliases = store_aliases(env->db);
	a->deltas = json_object();
	a->locked = json_object();
	a->fetching = json_object();
	a->rejected = json_object();
	a->contract_logged = json_object();
	a->ev_timer = evtimer_new(env->base, apply_on_timer, a);
	if (a->image_config == NULL || a->inspected == NULL || a->adopt_logged == NULL ||
	    a->aliases == NULL || a->deltas == NULL || a->locked == NULL || a->fetching == NULL ||
	    a->rejected == NULL || a->contract_logged == NULL || a->ev_timer == NULL) {
		apply_free(a);
		return NULL;
	}
	a->target = store_target_load(env->db);
	if (a->target == NULL)
		apply_takeover(a);
	if (a->target == NULL && a->hold[0] == '\0' &&
	    (pre = store_preload(env->db, env->preload)) != NULL) {
		if (store_target_save(env->db, pre, err, sizeof(err)) == -1)
			log_error("preload: %s", err);
		a->target = pre;
	}
	if (a->target == NULL)
		a->target = json_pack("{s:s, s:{}, s:b, s:{}}", "name", "", "config", "local", 0,
				      "apps");
	target_config_dump(a);
	return a;
}

void apply_free(struct apply *a)
{
	if (a == NULL)
		return;
	round_free(a);
	if (a->ev_timer != NULL)
		event_free(a->ev_timer);
	json_decref(a->target);
	json_decref(a->image_config);
	json_decref(a->last_images);
	json_decref(a->inspected);
	json_decref(a->adopt_logged);
	json_decref(a->aliases);
	json_decref(a->deltas);
	json_decref(a->locked);
	json_decref(a->fetching);
	json_decref(a->rejected);
	json_decref(a->contract_logged);
	free(a);
}

/* --- Status for the API --------------------------------------------------- */

json_t *apply_status(struct apply *a)
{
	json_t *images = json_array(), *v;
	const char *k;
	int total = 0, n = 0;

	json_object_foreach(a->fetching, k, v) {
		json_array_append_new(images, json_pack("{s:s, s:s, s:O}", "name", k, "status",
							"Downloading", "downloadProgress", v));
		total += (int)json_integer_value(v);
		n++;
	}
	json_object_foreach(a->deltas, k, v) {
		if (delta_waiting(a, k) && json_object_get(a->fetching, k) == NULL) {
			json_array_append_new(images,
					      json_pack("{s:s, s:s, s:i}", "name", k, "status",
							"Downloading", "downloadProgress", 0));
			n++;
		}
	}
	return json_pack("{s:s, s:o, s:o}", "appState",
			 a->applied && !a->busy ? "applied" : "applying", "overallDownloadProgress",
			 n ? json_integer(total / n) : json_null(), "images", images);
}

void apply_metrics(struct apply *a, char *buf, size_t len)
{

	snprintf(buf, len,
		 "# HELP agentd_apply_total Targets fully applied.\n"
		 "# TYPE agentd_apply_total counter\nagentd_apply_total %lu\n"
		 "# HELP agentd_apply_seconds_total Time spent applying targets.\n"
		 "# TYPE agentd_apply_seconds_total counter\nagentd_apply_seconds_total %.3f\n"
		 "# HELP agentd_apply_rounds_total Planning rounds run (failed ones too).\n"
		 "# TYPE agentd_apply_rounds_total counter\nagentd_apply_rounds_total %lu\n"
		 "# HELP agentd_apply_rounds_failed_total Rounds that failed and were retried.\n"
		 "# TYPE agentd_apply_rounds_failed_total counter\n"
		 "agentd_apply_rounds_failed_total %lu\n",
		 a->applies, (double)a->apply_ms_total / 1000.0, a->rounds, a->rounds_failed);
}

void apply_reboot_failed(struct apply *a)
{
	uint64_t wait = 30000;
	unsigned i;

	if (a == NULL || !a->reboot_asked)
		return; /* not the apply loop's reboot */
	for (i = 0; i < a->reboot_failures && wait < 900000; i++)
		wait *= 2;
	a->reboot_failures++;
	a->reboot_asked = 0;
	a->reboot_not_before = now_ms() + wait;
	apply_schedule(a, wait);
}

int apply_app_locked(struct apply *a, const char *uuid)
{
	return json_object_get(a->locked, uuid) != NULL;
}

int apply_app_rejected(struct apply *a, const char *uuid)
{
	return json_object_get(a->rejected, uuid) != NULL;
}

/* --- The target as the balena supervisor shows it -------------------------- */

/* One app's services, composed as they would be created now. */
static json_t *instanced_services(struct apply *a, json_t *app, const char *uuid)
{
	json_t *out = json_array(), *svc;
	const char *name;

	json_object_foreach(json_object_get(app, "services"), name, svc) {
		struct svc_state ss;
		struct compose_ctx ctx;
		char err[512], *key = NULL;
		const char *id;
		json_t *o;

		memset(&ss, 0, sizeof(ss));
		compose_image_normalise(json_string_value(json_object_get(svc, "image")), ss.image,
					sizeof(ss.image));
		if ((id = image_lookup(a->last_images, a->aliases, ss.image)) != NULL)
			snprintf(ss.image_id, sizeof(ss.image_id), "%s", id);
		compose_ctx_for(a, app, uuid, name, svc, &ss, &ctx);
		if (label_truthy(svc, "io.balena.features.supervisor-api") ||
		    label_truthy(svc, "io.resin.features.supervisor-api"))
			ctx.api_key = key = keys_for(a->env.keys, ctx.app_id, name);
		o = json_pack("{s:i, s:s, s:i, s:s, s:O, s:i, s:i, s:O}", "appId", ctx.app_id,
			      "appUuid", uuid, "imageId", ctx.image_id, "serviceName", name,
			      "commit", json_object_get(app, "commit"), "releaseId", ctx.release_id,
			      "serviceId", ctx.service_id, "imageName",
			      json_object_get(svc, "image"));
		if (o != NULL && compose_service(&ctx, svc, &ss.comp, err, sizeof(err)) == 0) {
			json_object_set_new(o, "dependsOn",
					    json_array_size(ss.comp.depends_on)
						    ? json_incref(ss.comp.depends_on)
						    : json_null());
			if (ss.image_id[0])
				json_object_set_new(o, "dockerImageId", json_string(ss.image_id));
			json_object_set_new(o, "config",
					    instanced_service_config(&ss.comp, ss.image_id[0]
										       ? ss.image_id
										       : ss.image));
			compose_free(&ss.comp);
		} else if (o != NULL) {
			/* a service the target holds but cannot make: say why */
			json_object_set_new(o, "dependsOn", json_null());
			json_object_set_new(o, "config", json_pack("{s:s}", "error", err));
		}
		free(key);
		json_array_append_new(out, o);
	}
	return out;
}

/* The app's networks (default included) and volumes, as Network and Volume
 * objects. */
static void instanced_named(json_t *app, const char *uuid, json_t *nets_out, json_t *vols_out)
{
	int app_id = (int)json_integer_value(json_object_get(app, "id"));
	json_t *nets = json_deep_copy(json_object_get(app, "networks")), *cfg, *spec;
	char full[512], hash[17], err[256];
	const char *k;

	if (nets == NULL)
		nets = json_object();
	if (json_object_get(nets, "default") == NULL)
		json_object_set_new(nets, "default", json_null());
	json_object_foreach(nets, k, cfg) {
		snprintf(full, sizeof(full), "%s_%s", uuid, k);
		if ((spec = named_network(full, json_is_null(cfg) ? NULL : cfg, uuid, app_id, hash,
					  err, sizeof(err))) != NULL)
			json_array_append_new(nets_out, instanced_network(app_id, uuid, k, spec));
		json_decref(spec);
	}
	json_decref(nets);
	json_object_foreach(json_object_get(app, "volumes"), k, cfg) {
		snprintf(full, sizeof(full), "%d_%s", app_id, k);
		if ((spec = named_volume(full, cfg, uuid, hash, err, sizeof(err))) != NULL)
			json_array_append_new(vols_out, instanced_volume(app_id, uuid, k, spec));
		json_decref(spec);
	}
}

json_t *apply_target_instanced(struct apply *a, const char *source)
{
	json_t *apps = json_object(), *app, *nets, *vols;
	const char *uuid;
	char key[32];

	json_object_foreach(json_object_get(a->target, "apps"), uuid, app) {
		int id = (int)json_integer_value(json_object_get(app, "id"));

		nets = json_array();
		vols = json_array();
		instanced_named(app, uuid, nets, vols);
		snprintf(key, sizeof(key), "%d", id);
		json_object_set_new(
			apps, key,
			json_pack("{s:b, s:i, s:s, s:O, s:O, s:s, s:b, s:b, s:o, s:o, s:o}",
				  "isTargetState", 1, "appId", id, "appUuid", uuid, "appName",
				  json_object_get(app, "name"), "commit",
				  json_object_get(app, "commit"), "source", source, "isHost",
				  json_is_true(json_object_get(app, "is_host")), "isRejected",
				  apply_app_rejected(a, uuid), "services",
				  instanced_services(a, app, uuid), "networks", nets, "volumes",
				  vols));
	}
	return json_pack("{s:O, s:O, s:o}", "name", json_object_get(a->target, "name"), "config",
			 json_object_get(a->target, "config"), "apps", apps);
}
