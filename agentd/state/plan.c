/*
 * plan.c - the planner (see plan.h). It follows the balena supervisor's
 * rules (facts §4.3): services are matched by name; a changed config goes
 * through the service's update strategy; a change of commit or release
 * alone renames; user locks are taken before anything is killed, stopped
 * or renamed; dependencies start first; volumes outlive releases; a
 * network or volume whose config changed is recreated once the containers
 * on it are gone.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "compose.h" /* SUPERVISOR_NETWORK */
#include "plan.h"

#define PLAN_APP_MAX_CUR 1024 /* containers of one app considered per round */
#define PLAN_MAX_CHANGED 64   /* changed networks and volumes of one app per round */

struct planner {
	const struct plan_input *in;
	struct step *out;
	int max, n;
	/* The current app's containers (indexes into in->cur), found once per
	 * app so that per-service lookups do not scan every container. */
	int mine[PLAN_APP_MAX_CUR];
	int nmine;
	/* The current app's networks and volumes to recreate, and the
	 * containers already given a step because they are on one. */
	const char *changed[PLAN_MAX_CHANGED];
	int nchanged;
	const struct cur_container *taken[PLAN_APP_MAX_CUR];
	int ntaken;
	int waits_for_reboot; /* a created container starts only after a reboot */
};

static const char *const step_names[] = {
	[STEP_FETCH] = "fetch",
	[STEP_TAKE_LOCK] = "takeLock",
	[STEP_RELEASE_LOCK] = "releaseLock",
	[STEP_KILL] = "kill",
	[STEP_STOP] = "stop",
	[STEP_START] = "start",
	[STEP_REMOVE] = "remove",
	[STEP_RENAME] = "updateMetadata",
	[STEP_HANDOVER] = "handover",
	[STEP_CREATE_VOLUME] = "createVolume",
	[STEP_REMOVE_VOLUME] = "removeVolume",
	[STEP_CREATE_NETWORK] = "createNetwork",
	[STEP_REMOVE_NETWORK] = "removeNetwork",
	[STEP_UPDATE_COMMIT] = "updateCommit",
	[STEP_REBOOT] = "reboot",
	[STEP_NOOP] = "noop",
};

const char *plan_step_name(enum step_kind k)
{
	return step_names[k];
}

static struct step *emit(struct planner *p, enum step_kind kind, int app,
			 const struct cur_container *cur, const struct tgt_service *tgt,
			 const char *name, const char *why)
{
	struct step *s;

	if (p->n >= p->max)
		return NULL;
	s = &p->out[p->n++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->app = app;
	s->cur = cur;
	s->tgt = tgt;
	if (name != NULL)
		snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->why, sizeof(s->why), "%s", why);
	return s;
}

static int cur_in_app(const struct cur_container *c, const struct tgt_app *a)
{
	return strcmp(c->app_uuid, a->uuid) == 0 ||
	       (c->app_uuid[0] == '\0' && c->app_id == a->app_id);
}

/* The container to keep for a service: the newest, not a hand-over leftover. */
static const struct cur_container *cur_for(const struct planner *p, const char *service)
{
	const struct cur_container *best = NULL;
	int i;

	for (i = 0; i < p->nmine; i++) {
		const struct cur_container *c = &p->in->cur[p->mine[i]];

		if (strcmp(c->service, service) != 0 || c->status == CUR_DEAD)
			continue;
		if (best == NULL || (best->handover_old && !c->handover_old) ||
		    (best->handover_old == c->handover_old && c->created > best->created))
			best = c;
	}
	return best;
}

static const struct tgt_service *tgt_find(const struct tgt_app *a, const char *name)
{
	int i;

	for (i = 0; i < a->nsvc; i++)
		if (strcmp(a->svc[i].name, name) == 0)
			return &a->svc[i];
	return NULL;
}

static int all_images_here(const struct tgt_app *a)
{
	int i;

	for (i = 0; i < a->nsvc; i++)
		if (!a->svc[i].image_available)
			return 0;
	return 1;
}

/* A service's container is where its target wants it. */
static int settled(const struct planner *p, const struct tgt_service *t)
{
	const struct cur_container *c = cur_for(p, t->name);

	if (c == NULL || t->hash[0] == '\0' || strcmp(c->hash, t->hash) != 0)
		return 0;
	if (strcmp(c->name, t->container_name) != 0)
		return 0;
	return t->running ? c->status == CUR_RUNNING || c->status == CUR_EXITED
			  : c->status != CUR_DEAD;
}

/* Every service t depends on has been started in its target form. */
static int deps_met(const struct planner *p, const struct tgt_app *a, const struct tgt_service *t)
{
	int i;

	for (i = 0; i < t->ndepends; i++) {
		const struct tgt_service *d = tgt_find(a, t->depends[i]);

		if (d != NULL && !settled(p, d))
			return 0;
	}
	return 1;
}

static int named_exists(const struct cur_named *list, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return 1;
	return 0;
}

static int in_list(char **list, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

static int is_changed(const struct planner *p, const char *name)
{
	int i;

	for (i = 0; i < p->nchanged; i++)
		if (strcmp(p->changed[i], name) == 0)
			return 1;
	return 0;
}

static int is_taken(const struct planner *p, const struct cur_container *c)
{
	int i;

	for (i = 0; i < p->ntaken; i++)
		if (p->taken[i] == c)
			return 1;
	return 0;
}

/* The networks and volumes a service uses exist in their target form. */
static int needs_met(const struct planner *p, const struct tgt_service *t)
{
	int i;

	for (i = 0; i < t->nneeds; i++) {
		if (strcmp(t->needs[i], SUPERVISOR_NETWORK) == 0) {
			if (!p->in->supervisor0)
				return 0;
			continue;
		}
		if ((!named_exists(p->in->nets, p->in->nnets, t->needs[i]) &&
		     !named_exists(p->in->vols, p->in->nvols, t->needs[i])) ||
		    is_changed(p, t->needs[i]))
			return 0;
	}
	return 1;
}

static const struct cur_named *named_find(const struct cur_named *list, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	return NULL;
}

static int cur_uses(const struct cur_container *c, const char *name)
{
	int i;

	for (i = 0; i < c->nuses; i++)
		if (strcmp(c->uses[i], name) == 0)
			return 1;
	return 0;
}

/* Steps that need the app's update locks: emitted only once they are held. */
struct locked_steps {
	int needed;
};

static void guarded(struct planner *p, struct locked_steps *ls, const struct tgt_app *a, int ai,
		    enum step_kind kind, const struct cur_container *c, const struct tgt_service *t,
		    const char *why)
{
	if (a->locked)
		emit(p, kind, ai, c, t, NULL, why);
	else
		ls->needed = 1;
}

static void plan_service(struct planner *p, struct locked_steps *ls, int ai,
			 const struct tgt_service *t)
{
	const struct tgt_app *a = &p->in->apps[ai];
	const struct cur_container *c = cur_for(p, t->name);
	int same_config, same_name;

	if (c != NULL && is_taken(p, c))
		return; /* it goes first: a network or volume it is on changes */
	if (c == NULL) {
		if (!t->image_available)
			emit(p, STEP_FETCH, ai, NULL, t, NULL, "image missing");
		else if (!needs_met(p, t))
			emit(p, STEP_NOOP, ai, NULL, t, NULL, "waiting for networks and volumes");
		else if (!all_images_here(a))
			emit(p, STEP_NOOP, ai, NULL, t, NULL, "waiting for the app's images");
		else if (!deps_met(p, a, t))
			emit(p, STEP_NOOP, ai, NULL, t, NULL, "waiting for dependencies");
		else
			emit(p, STEP_START, ai, NULL, t, NULL, "new service");
		return;
	}
	if (!t->image_available) {
		switch (t->strategy) {
		case STRAT_KILL_THEN_DOWNLOAD:
			guarded(p, ls, a, ai, STEP_KILL, c, t, "kill-then-download");
			break;
		case STRAT_DELETE_THEN_DOWNLOAD:
			guarded(p, ls, a, ai, STEP_KILL, c, t, "delete-then-download");
			break;
		default:
			emit(p, STEP_FETCH, ai, c, t, NULL, "new image");
			break;
		}
		return;
	}
	same_config = t->hash[0] != '\0' && strcmp(c->hash, t->hash) == 0;
	same_name = strcmp(c->name, t->container_name) == 0;
	if (same_config) {
		if (!same_name) {
			if (!all_images_here(a))
				emit(p, STEP_NOOP, ai, c, t, NULL, "waiting for the app's images");
			else
				guarded(p, ls, a, ai, STEP_RENAME, c, t,
					"new release, same config");
		} else if (!t->running && c->status == CUR_RUNNING) {
			guarded(p, ls, a, ai, STEP_STOP, c, t, "running: false");
		} else if (t->running && c->status == CUR_CREATED) {
			if (t->requires_reboot && c->this_boot) {
				/* it starts after the reboot; until that is asked for,
				 * the release is not done */
				p->waits_for_reboot = 1;
				if (!p->in->reboot_asked)
					emit(p, STEP_NOOP, ai, c, t, NULL, "waiting for a reboot");
			} else if (deps_met(p, a, t))
				emit(p, STEP_START, ai, c, t, NULL, "created, not started");
			else
				emit(p, STEP_NOOP, ai, c, t, NULL, "waiting for dependencies");
		}
		return;
	}
	/* The config changed and the new image is here. */
	switch (t->strategy) {
	case STRAT_HAND_OVER:
		if (c->handover_old)
			guarded(p, ls, a, ai, STEP_KILL, c, t, "hand-over leftover");
		else if (deps_met(p, a, t) && all_images_here(a))
			guarded(p, ls, a, ai, STEP_HANDOVER, c, t, "hand-over");
		else
			emit(p, STEP_NOOP, ai, c, t, NULL, "waiting to hand over");
		break;
	case STRAT_KILL_THEN_DOWNLOAD:
	case STRAT_DELETE_THEN_DOWNLOAD:
		guarded(p, ls, a, ai, STEP_KILL, c, t, "config changed");
		break;
	default:
		if (all_images_here(a))
			guarded(p, ls, a, ai, STEP_KILL, c, t, "config changed");
		else
			emit(p, STEP_NOOP, ai, c, t, NULL, "waiting for the app's images");
		break;
	}
}

static void plan_app(struct planner *p, int ai)
{
	const struct plan_input *in = p->in;
	const struct tgt_app *a = &in->apps[ai];
	struct locked_steps ls = {0};
	int start = p->n, i;

	p->nmine = p->nchanged = p->ntaken = 0;
	for (i = 0; i < in->ncur && p->nmine < PLAN_APP_MAX_CUR; i++)
		if (cur_in_app(&in->cur[i], a))
			p->mine[p->nmine++] = i;
	for (i = 0; i < a->nnetworks + a->nvolumes; i++) {
		int net = i < a->nnetworks, j = net ? i : i - a->nnetworks, users = 0, k;
		const char *name = net ? a->networks[j] : a->volumes[j];
		const char *hash = net ? (a->network_hash ? a->network_hash[j] : "")
				       : (a->volume_hash ? a->volume_hash[j] : "");
		const struct cur_named *cn =
			named_find(net ? in->nets : in->vols, net ? in->nnets : in->nvols, name);

		if (cn == NULL) {
			emit(p, net ? STEP_CREATE_NETWORK : STEP_CREATE_VOLUME, ai, NULL, NULL,
			     name, "missing");
			continue;
		}
		if (hash[0] == '\0' || cn->hash[0] == '\0' || strcmp(hash, cn->hash) == 0 ||
		    p->nchanged == PLAN_MAX_CHANGED)
			continue;
		/* Its config changed: the containers on it go, then it does; a
		 * later round creates it anew and starts them again. */
		p->changed[p->nchanged++] = name;
		for (k = 0; k < p->nmine; k++) {
			const struct cur_container *c = &in->cur[p->mine[k]];

			if (!cur_uses(c, name))
				continue;
			users++;
			if (!is_taken(p, c)) {
				p->taken[p->ntaken++] = c;
				guarded(p, &ls, a, ai, STEP_KILL, c, tgt_find(a, c->service),
					net ? "network changed" : "volume changed");
			}
		}
		if (users == 0)
			emit(p, net ? STEP_REMOVE_NETWORK : STEP_REMOVE_VOLUME, ai, NULL, NULL,
			     name, "config changed");
	}
	/* Services wait for the networks and volumes they use (needs_met); the
	 * others go ahead in the same round. */
	for (i = 0; i < p->nmine; i++) {
		const struct cur_container *c = &in->cur[p->mine[i]];
		const struct tgt_service *t;

		if (is_taken(p, c))
			continue;
		if (c->status == CUR_DEAD) {
			emit(p, STEP_REMOVE, ai, c, NULL, NULL, "dead");
			continue;
		}
		t = tgt_find(a, c->service);
		if (t == NULL)
			guarded(p, &ls, a, ai, STEP_KILL, c, NULL, "not in the target");
		else if (cur_for(p, c->service) != c)
			guarded(p, &ls, a, ai, STEP_KILL, c, NULL, "duplicate");
	}
	for (i = 0; i < a->nsvc; i++)
		plan_service(p, &ls, ai, &a->svc[i]);
	if (ls.needed) {
		emit(p, STEP_TAKE_LOCK, ai, NULL, NULL, a->uuid, "before changing containers");
		return;
	}
	if (p->n > start)
		return;
	/* Nothing left to change: record the release, let the locks go, tidy up. */
	if (!a->current_commit_matches)
		emit(p, STEP_UPDATE_COMMIT, ai, NULL, NULL, a->uuid, "release applied");
	if (a->locked)
		emit(p, STEP_RELEASE_LOCK, ai, NULL, NULL, a->uuid, "release applied");
	for (i = 0; i < in->nnets; i++)
		if (strcmp(in->nets[i].app_uuid, a->uuid) == 0 &&
		    !in_list(a->networks, a->nnetworks, in->nets[i].name))
			emit(p, STEP_REMOVE_NETWORK, ai, NULL, NULL, in->nets[i].name,
			     "not in the target");
}

static int app_in_target(const struct plan_input *in, const char *uuid, int app_id)
{
	int i;

	for (i = 0; i < in->napps; i++)
		if (strcmp(in->apps[i].uuid, uuid) == 0 ||
		    (uuid[0] == '\0' && in->apps[i].app_id == app_id))
			return 1;
	return 0;
}

static int gone_locked(const struct plan_input *in, const char *uuid)
{
	int i;

	for (i = 0; i < in->nlocked_gone; i++)
		if (strcmp(in->locked_gone[i], uuid) == 0)
			return 1;
	return 0;
}

static int already(struct planner *p, enum step_kind kind, const char *name)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (p->out[i].kind == kind && strcmp(p->out[i].name, name) == 0)
			return 1;
	return 0;
}

/* An app with containers (or networks, volumes) but no target: remove it all,
 * under its locks; its volumes go with it. */
static void plan_removed_apps(struct planner *p)
{
	const struct plan_input *in = p->in;
	int i, j, busy;

	for (i = 0; i < in->ncur; i++) {
		const struct cur_container *c = &in->cur[i];

		if (app_in_target(in, c->app_uuid, c->app_id))
			continue;
		if (c->status == CUR_DEAD)
			emit(p, STEP_REMOVE, -1, c, NULL, c->app_uuid, "dead");
		else if (gone_locked(in, c->app_uuid))
			emit(p, STEP_KILL, -1, c, NULL, c->app_uuid, "app removed");
		else if (!already(p, STEP_TAKE_LOCK, c->app_uuid))
			emit(p, STEP_TAKE_LOCK, -1, c, NULL, c->app_uuid, "app removed");
	}
	for (i = 0; i < in->nnets + in->nvols; i++) {
		const struct cur_named *n = i < in->nnets ? &in->nets[i] : &in->vols[i - in->nnets];

		if (app_in_target(in, n->app_uuid, n->app_id))
			continue;
		for (busy = 0, j = 0; j < in->ncur; j++)
			busy |= strcmp(in->cur[j].app_uuid, n->app_uuid) == 0;
		if (!busy)
			emit(p, i < in->nnets ? STEP_REMOVE_NETWORK : STEP_REMOVE_VOLUME, -1, NULL,
			     NULL, n->name, "app removed");
	}
	for (i = 0; i < in->nlocked_gone; i++) {
		for (busy = 0, j = 0; j < in->ncur; j++)
			busy |= strcmp(in->cur[j].app_uuid, in->locked_gone[i]) == 0;
		if (!busy)
			emit(p, STEP_RELEASE_LOCK, -1, NULL, NULL, in->locked_gone[i],
			     "app removed");
	}
}

int plan_steps(const struct plan_input *in, struct step *out, int max)
{
	struct planner p;

	memset(&p, 0, offsetof(struct planner, mine));
	p.waits_for_reboot = 0;
	p.in = in;
	p.out = out;
	p.max = max;
	int i;

	/* The API's bridge, shared by every app, is made before its services start. */
	if (in->want_supervisor0 && !in->supervisor0)
		emit(&p, STEP_CREATE_NETWORK, -1, NULL, NULL, SUPERVISOR_NETWORK, "missing");
	plan_removed_apps(&p);
	for (i = 0; i < in->napps; i++)
		if (!in->apps[i].rejected)
			plan_app(&p, i);
	/* Only waiting left, and a service needs a reboot to start: reboot. */
	if ((in->reboot_due || p.waits_for_reboot) && !in->reboot_asked) {
		for (i = 0; i < p.n && p.out[i].kind == STEP_NOOP; i++)
			;
		if (i == p.n)
			emit(&p, STEP_REBOOT, -1, NULL, NULL, NULL, "a service needs a reboot");
	}
	return p.n;
}
