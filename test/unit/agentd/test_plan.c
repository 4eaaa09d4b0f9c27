/*
 * test_plan.c - the planner as a table of scenarios (facts §4.3, §9.2): one
 * test per behaviour, each building a current and a target state by hand
 * and checking the steps of one round.
 */
#include "testutil.h"

#include "plan.h"

#define UUID "aaaa1111"

static struct cur_container cur[8];
static struct cur_named vols[8], nets[8];
static struct tgt_service svc[8];
static struct tgt_app app;
static char *app_vols[4], *app_nets[4];
static struct plan_input in;
static struct step steps[64];
static int n;

static int setup(void **state)
{
	(void)state;
	memset(cur, 0, sizeof(cur));
	memset(vols, 0, sizeof(vols));
	memset(nets, 0, sizeof(nets));
	memset(svc, 0, sizeof(svc));
	memset(&app, 0, sizeof(app));
	memset(&in, 0, sizeof(in));
	snprintf(app.uuid, sizeof(app.uuid), UUID);
	app.app_id = 123;
	snprintf(app.commit, sizeof(app.commit), "deadbeef");
	app.release_id = 1;
	app.svc = svc;
	app_nets[0] = UUID "_default";
	app.networks = app_nets;
	app.nnetworks = 1;
	app.volumes = app_vols;
	app.current_commit_matches = 1;
	in.apps = &app;
	in.napps = 1;
	in.cur = cur;
	in.vols = vols;
	in.nets = nets;
	/* the default network exists unless a test removes it */
	snprintf(nets[0].name, sizeof(nets[0].name), UUID "_default");
	snprintf(nets[0].app_uuid, sizeof(nets[0].app_uuid), UUID);
	in.nnets = 1;
	return 0;
}

/* A target service with its image here; hash "h-<name>". */
static struct tgt_service *add_svc(const char *name, int image_id)
{
	struct tgt_service *t = &svc[app.nsvc++];

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->service_id = app.nsvc;
	t->image_id = image_id;
	snprintf(t->image, sizeof(t->image), "registry/%s:latest", name);
	snprintf(t->container_name, sizeof(t->container_name), "%s_%d_%d_%s", name, image_id,
		 app.release_id, app.commit);
	snprintf(t->hash, sizeof(t->hash), "h-%s", name);
	t->running = 1;
	t->image_available = 1;
	return t;
}

/* A current container matching t as it is now. */
static struct cur_container *add_cur(const struct tgt_service *t, enum cur_status st)
{
	struct cur_container *c = &cur[in.ncur++];

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "id-%.32s-%d", t->name, in.ncur);
	snprintf(c->name, sizeof(c->name), "%s", t->container_name);
	snprintf(c->service, sizeof(c->service), "%s", t->name);
	snprintf(c->app_uuid, sizeof(c->app_uuid), UUID);
	c->app_id = app.app_id;
	c->service_id = t->service_id;
	c->image_id = t->image_id;
	c->release_id = app.release_id;
	snprintf(c->commit, sizeof(c->commit), "%s", app.commit);
	snprintf(c->hash, sizeof(c->hash), "%s", t->hash);
	c->status = st;
	c->created = 1000 + in.ncur;
	return c;
}

static void plan(void)
{
	n = plan_steps(&in, steps, 64);
}

static int count(enum step_kind k)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		c += steps[i].kind == k;
	return c;
}

static const struct step *find(enum step_kind k, const char *svcname)
{
	int i;

	for (i = 0; i < n; i++) {
		const char *s = steps[i].tgt   ? steps[i].tgt->name
				: steps[i].cur ? steps[i].cur->service
					       : steps[i].name;

		if (steps[i].kind == k && (svcname == NULL || strcmp(s, svcname) == 0))
			return &steps[i];
	}
	return NULL;
}

static void only(enum step_kind k)
{
	int i;

	for (i = 0; i < n; i++)
		if (steps[i].kind != k)
			fail_msg("unexpected step %s (%s)", plan_step_name(steps[i].kind),
				 steps[i].why);
}

/* facts §9.2 #7: a new app's services are created and started */
static void new_app_starts_its_services(void **state)
{
	(void)state;
	add_svc("one", 11);
	add_svc("two", 12);
	plan();
	assert_int_equal(n, 2);
	only(STEP_START);
	assert_non_null(find(STEP_START, "one"));
	assert_non_null(find(STEP_START, "two"));
	assert_null(find(STEP_START, "one")->cur);
}

/* facts §9.2 #11: the app's networks (and volumes) come before containers */
static void networks_and_volumes_are_created_first(void **state)
{
	static const char *needs[] = {UUID "_default", "123_data"};
	struct tgt_service *t;

	(void)state;
	t = add_svc("one", 11);
	t->needs = needs;
	t->nneeds = 2;
	in.nnets = 0;
	app_vols[0] = "123_data";
	app.nvolumes = 1;
	plan();
	assert_int_equal(n, 3);
	assert_string_equal(find(STEP_CREATE_NETWORK, NULL)->name, UUID "_default");
	assert_string_equal(find(STEP_CREATE_VOLUME, NULL)->name, "123_data");
	assert_non_null(find(STEP_NOOP, "one"));
	assert_null(find(STEP_START, "one"));
}

/* A service that does not use the missing network need not wait for it. */
static void service_without_the_missing_network_starts_at_once(void **state)
{
	(void)state;
	add_svc("one", 11); /* e.g. network_mode: none */
	in.nnets = 0;
	plan();
	assert_non_null(find(STEP_CREATE_NETWORK, NULL));
	assert_non_null(find(STEP_START, "one"));
}

static void missing_image_is_fetched_before_anything_starts(void **state)
{
	(void)state;
	add_svc("one", 11)->image_available = 0;
	add_svc("two", 12);
	plan();
	assert_non_null(find(STEP_FETCH, "one"));
	/* download-then-kill: nothing of the app starts before all its images are here */
	assert_null(find(STEP_START, "two"));
	assert_non_null(find(STEP_NOOP, "two"));
}

/* facts §9.2 #12 */
static void identical_target_makes_no_steps(void **state)
{
	(void)state;
	add_cur(add_svc("one", 11), CUR_RUNNING);
	add_cur(add_svc("two", 12), CUR_RUNNING);
	plan();
	assert_int_equal(n, 0);
}

/* facts §9.2 #13: only commit/release changed: take the lock, then rename */
static void commit_only_change_takes_lock_then_renames(void **state)
{
	struct cur_container *c;

	(void)state;
	c = add_cur(add_svc("one", 11), CUR_RUNNING);
	snprintf(c->name, sizeof(c->name), "one_11_1_oldcommit");
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_TAKE_LOCK, NULL));
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_ptr_equal(find(STEP_RENAME, "one")->cur, c);
	assert_int_equal(count(STEP_KILL), 0);
}

/* An env change: default strategy fetches first, then kills under the lock. */
static void config_change_download_then_kill(void **state)
{
	struct tgt_service *t;
	struct cur_container *c;

	(void)state;
	t = add_svc("one", 11);
	c = add_cur(t, CUR_RUNNING);
	snprintf(c->hash, sizeof(c->hash), "old");
	t->image_available = 0;
	t->hash[0] = '\0';
	plan();
	only(STEP_FETCH);
	assert_int_equal(n, 1);
	/* image arrived: lock, then kill */
	t->image_available = 1;
	snprintf(t->hash, sizeof(t->hash), "new");
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_TAKE_LOCK, NULL));
	app.locked = 1;
	plan();
	assert_ptr_equal(find(STEP_KILL, "one")->cur, c);
	/* killed: the new one starts */
	in.ncur = 0;
	plan();
	assert_non_null(find(STEP_START, "one"));
}

static void download_then_kill_waits_for_every_image_of_the_app(void **state)
{
	struct tgt_service *one;
	struct cur_container *c;

	(void)state;
	one = add_svc("one", 11);
	c = add_cur(one, CUR_RUNNING);
	snprintf(c->hash, sizeof(c->hash), "old");
	add_svc("two", 12)->image_available = 0;
	app.locked = 1;
	plan();
	assert_null(find(STEP_KILL, "one"));
	assert_non_null(find(STEP_FETCH, "two"));
}

/* facts §9.2 #15 */
static void kill_then_download_kills_before_fetching(void **state)
{
	struct tgt_service *t;

	(void)state;
	t = add_svc("one", 11);
	add_cur(t, CUR_RUNNING);
	t->image_available = 0;
	t->strategy = STRAT_KILL_THEN_DOWNLOAD;
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_KILL, "one"));
	assert_null(find(STEP_FETCH, "one"));
	in.ncur = 0;
	plan();
	assert_non_null(find(STEP_FETCH, "one"));
}

static void delete_then_download_kills_and_deletes_before_fetching(void **state)
{
	struct tgt_service *t;

	(void)state;
	t = add_svc("one", 11);
	add_cur(t, CUR_RUNNING);
	t->image_available = 0;
	t->strategy = STRAT_DELETE_THEN_DOWNLOAD;
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_string_equal(find(STEP_KILL, "one")->why, "delete-then-download");
}

/* facts §9.2 #16 */
static void hand_over_starts_the_new_before_killing_the_old(void **state)
{
	struct tgt_service *t;
	struct cur_container *c;

	(void)state;
	t = add_svc("one", 11);
	c = add_cur(t, CUR_RUNNING);
	snprintf(c->hash, sizeof(c->hash), "old");
	t->strategy = STRAT_HAND_OVER;
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_ptr_equal(find(STEP_HANDOVER, "one")->cur, c);
	assert_null(find(STEP_KILL, "one"));
}

static void hand_over_leftover_old_container_is_killed(void **state)
{
	struct tgt_service *t;
	struct cur_container *old, *now;

	(void)state;
	t = add_svc("one", 11);
	old = add_cur(t, CUR_RUNNING);
	snprintf(old->name, sizeof(old->name), "old_one_11_0_prev");
	old->handover_old = 1;
	snprintf(old->hash, sizeof(old->hash), "old");
	now = add_cur(t, CUR_RUNNING);
	now->created = 1; /* even if older than the leftover */
	t->strategy = STRAT_HAND_OVER;
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_ptr_equal(find(STEP_KILL, "one")->cur, old);
}

/* facts §9.2 #17 */
static void depends_on_waits_for_the_dependency(void **state)
{
	struct tgt_service *web;

	(void)state;
	add_svc("db", 1);
	web = add_svc("web", 2);
	snprintf(web->depends[0], sizeof(web->depends[0]), "db");
	web->ndepends = 1;
	plan();
	assert_non_null(find(STEP_START, "db"));
	assert_null(find(STEP_START, "web"));
	assert_non_null(find(STEP_NOOP, "web"));
}

static void depends_on_starts_once_the_dependency_runs(void **state)
{
	struct tgt_service *db, *web;

	(void)state;
	db = add_svc("db", 1);
	web = add_svc("web", 2);
	snprintf(web->depends[0], sizeof(web->depends[0]), "db");
	web->ndepends = 1;
	add_cur(db, CUR_RUNNING);
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_START, "web"));
}

/* facts §9.2 #18 */
static void running_false_stops_a_running_container_under_the_lock(void **state)
{
	struct tgt_service *t;

	(void)state;
	t = add_svc("one", 11);
	add_cur(t, CUR_RUNNING);
	t->running = 0;
	plan();
	assert_non_null(find(STEP_TAKE_LOCK, NULL));
	app.locked = 1;
	plan();
	assert_non_null(find(STEP_STOP, "one"));
}

static void running_false_new_service_is_created_not_started(void **state)
{
	struct tgt_service *t;

	(void)state;
	t = add_svc("one", 11);
	t->running = 0;
	plan();
	assert_int_equal(find(STEP_START, "one")->tgt->running, 0);
	add_cur(t, CUR_CREATED);
	plan();
	assert_int_equal(n, 0);
}

static void container_that_exited_on_its_own_is_left_alone(void **state)
{
	(void)state;
	add_cur(add_svc("one", 11), CUR_EXITED);
	plan();
	assert_int_equal(n, 0);
}

static void created_but_never_started_container_is_started(void **state)
{
	struct cur_container *c;

	(void)state;
	c = add_cur(add_svc("one", 11), CUR_CREATED);
	plan();
	assert_int_equal(n, 1);
	assert_ptr_equal(find(STEP_START, "one")->cur, c);
}

static void dead_container_is_removed(void **state)
{
	struct cur_container *c;

	(void)state;
	c = add_cur(add_svc("one", 11), CUR_DEAD);
	plan();
	assert_ptr_equal(find(STEP_REMOVE, "one")->cur, c);
}

static void duplicates_keep_the_newest(void **state)
{
	struct tgt_service *t;
	struct cur_container *a, *b;

	(void)state;
	t = add_svc("one", 11);
	a = add_cur(t, CUR_RUNNING);
	b = add_cur(t, CUR_RUNNING);
	a->created = 5;
	b->created = 9;
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_ptr_equal(find(STEP_KILL, "one")->cur, a);
}

static void service_dropped_from_the_target_is_killed(void **state)
{
	struct tgt_service *gone;

	(void)state;
	add_cur(add_svc("keep", 1), CUR_RUNNING);
	gone = add_svc("gone", 2);
	add_cur(gone, CUR_RUNNING);
	app.nsvc = 1; /* "gone" is no longer in the target */
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_string_equal(find(STEP_KILL, "gone")->why, "not in the target");
}

static void user_lock_means_take_lock_first_never_kill(void **state)
{
	struct cur_container *c;

	(void)state;
	c = add_cur(add_svc("one", 11), CUR_RUNNING);
	snprintf(c->hash, sizeof(c->hash), "old");
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_TAKE_LOCK, NULL));
	assert_null(find(STEP_KILL, NULL));
}

static void removed_app_is_killed_under_its_lock_then_cleaned(void **state)
{
	char locked[1][64] = {UUID};

	(void)state;
	add_cur(add_svc("one", 11), CUR_RUNNING);
	snprintf(vols[0].name, sizeof(vols[0].name), "123_data");
	snprintf(vols[0].app_uuid, sizeof(vols[0].app_uuid), UUID);
	in.nvols = 1;
	in.napps = 0; /* the app left the target */
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_TAKE_LOCK, NULL));
	in.locked_gone = locked;
	in.nlocked_gone = 1;
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_KILL, "one"));
	in.ncur = 0;
	plan();
	assert_non_null(find(STEP_REMOVE_VOLUME, "123_data"));
	assert_non_null(find(STEP_REMOVE_NETWORK, UUID "_default"));
	assert_non_null(find(STEP_RELEASE_LOCK, UUID));
}

static void volumes_outlive_a_release_that_drops_them(void **state)
{
	(void)state;
	add_cur(add_svc("one", 11), CUR_RUNNING);
	snprintf(vols[0].name, sizeof(vols[0].name), "123_olddata");
	snprintf(vols[0].app_uuid, sizeof(vols[0].app_uuid), UUID);
	in.nvols = 1;
	plan();
	assert_int_equal(n, 0);
}

static void network_dropped_by_the_release_is_removed_once_settled(void **state)
{
	(void)state;
	add_cur(add_svc("one", 11), CUR_RUNNING);
	snprintf(nets[1].name, sizeof(nets[1].name), UUID "_backend");
	snprintf(nets[1].app_uuid, sizeof(nets[1].app_uuid), UUID);
	in.nnets = 2;
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_REMOVE_NETWORK, UUID "_backend"));
}

static void commit_is_recorded_and_locks_released_when_settled(void **state)
{
	(void)state;
	add_cur(add_svc("one", 11), CUR_RUNNING);
	app.current_commit_matches = 0;
	app.locked = 1;
	plan();
	assert_int_equal(n, 2);
	assert_non_null(find(STEP_UPDATE_COMMIT, NULL));
	assert_non_null(find(STEP_RELEASE_LOCK, NULL));
}

static void container_without_a_known_config_is_recreated(void **state)
{
	struct cur_container *c;

	(void)state;
	/* e.g. made by another supervisor: no config-hash label */
	c = add_cur(add_svc("one", 11), CUR_RUNNING);
	c->hash[0] = '\0';
	app.locked = 1;
	plan();
	assert_ptr_equal(find(STEP_KILL, "one")->cur, c);
}

static void new_image_for_unchanged_service_is_fetched_without_downtime(void **state)
{
	struct tgt_service *t;

	(void)state;
	t = add_svc("one", 11);
	add_cur(t, CUR_RUNNING);
	t->image_available = 0;
	t->hash[0] = '\0';
	app.locked = 1;
	plan();
	only(STEP_FETCH);
}

/* facts §9.2 #29: an app whose release breaks a contract is neither changed nor removed */
static void rejected_app_is_left_as_it_is(void **state)
{
	struct cur_container *c;

	(void)state;
	c = add_cur(add_svc("one", 11), CUR_RUNNING);
	snprintf(c->hash, sizeof(c->hash), "old");
	app.rejected = 1;
	app.locked = 1;
	plan();
	assert_int_equal(n, 0);
}

/* facts §4.3: a volume whose config changed is removed and created again,
 * once the containers on it are gone; the others are left alone. */
static void changed_volume_goes_after_its_containers_then_comes_back(void **state)
{
	static const char *needs[] = {"123_data"};
	static const char *uses[] = {"123_data", UUID "_default"};
	static char hashes[1][17] = {"new"};
	struct tgt_service *one, *two;
	struct cur_container *c;

	(void)state;
	one = add_svc("one", 11);
	one->needs = needs;
	one->nneeds = 1;
	two = add_svc("two", 12);
	c = add_cur(one, CUR_RUNNING);
	c->uses = uses;
	c->nuses = 2;
	add_cur(two, CUR_RUNNING);
	app_vols[0] = "123_data";
	app.nvolumes = 1;
	app.volume_hash = hashes;
	snprintf(vols[0].name, sizeof(vols[0].name), "123_data");
	snprintf(vols[0].app_uuid, sizeof(vols[0].app_uuid), UUID);
	snprintf(vols[0].hash, sizeof(vols[0].hash), "old");
	in.nvols = 1;
	/* round 1: the locks first */
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_TAKE_LOCK, NULL));
	/* round 2: only the container on the volume goes */
	app.locked = 1;
	plan();
	assert_int_equal(n, 1);
	assert_string_equal(find(STEP_KILL, "one")->why, "volume changed");
	/* round 3: the volume goes; "one" waits for it */
	in.ncur = 0;
	add_cur(two, CUR_RUNNING);
	plan();
	assert_non_null(find(STEP_REMOVE_VOLUME, "123_data"));
	assert_non_null(find(STEP_NOOP, "one"));
	assert_null(find(STEP_START, "one"));
	/* round 4: created anew, then (round 5) the service starts on it */
	in.nvols = 0;
	plan();
	assert_non_null(find(STEP_CREATE_VOLUME, "123_data"));
	assert_null(find(STEP_START, "one"));
	in.nvols = 1;
	snprintf(vols[0].hash, sizeof(vols[0].hash), "new");
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_START, "one"));
}

static void changed_network_takes_every_container_on_it(void **state)
{
	static const char *uses[] = {UUID "_default"};
	static char hashes[1][17] = {"new"};
	struct cur_container *a, *b;
	struct tgt_service *one, *two;

	(void)state;
	one = add_svc("one", 11);
	two = add_svc("two", 12);
	one->needs = two->needs = uses;
	one->nneeds = two->nneeds = 1;
	a = add_cur(one, CUR_RUNNING);
	b = add_cur(two, CUR_EXITED);
	a->uses = b->uses = uses;
	a->nuses = b->nuses = 1;
	app.network_hash = hashes;
	snprintf(nets[0].hash, sizeof(nets[0].hash), "old");
	app.locked = 1;
	plan();
	assert_int_equal(n, 2);
	only(STEP_KILL);
	assert_non_null(find(STEP_KILL, "one"));
	assert_non_null(find(STEP_KILL, "two"));
	/* none on it any more: removed, nothing else this round */
	in.ncur = 0;
	plan();
	assert_non_null(find(STEP_REMOVE_NETWORK, UUID "_default"));
	assert_null(find(STEP_START, NULL));
}

static void network_or_volume_without_a_known_config_is_left_alone(void **state)
{
	static const char *uses[] = {UUID "_default", "123_data"};
	static char nh[1][17] = {"new"}, vh[1][17] = {"new"};
	struct cur_container *c;

	(void)state;
	c = add_cur(add_svc("one", 11), CUR_RUNNING);
	c->uses = uses;
	c->nuses = 2;
	app.network_hash = nh;
	app.volume_hash = vh;
	app_vols[0] = "123_data";
	app.nvolumes = 1;
	snprintf(vols[0].name, sizeof(vols[0].name), "123_data");
	snprintf(vols[0].app_uuid, sizeof(vols[0].app_uuid), UUID);
	in.nvols = 1; /* neither has a hash label: made before agentd, or by hand */
	plan();
	if (n != 0)
		fail_msg("%s (%s)", plan_step_name(steps[0].kind), steps[0].why);
	/* the same hash is no change either */
	snprintf(nets[0].hash, sizeof(nets[0].hash), "new");
	snprintf(vols[0].hash, sizeof(vols[0].hash), "new");
	plan();
	assert_int_equal(n, 0);
}

/* facts §4.3: supervisor0 is made before a service that joins it starts */
static void supervisor0_is_made_before_its_services_start(void **state)
{
	static const char *needs[] = {UUID "_default", "supervisor0"};
	struct tgt_service *t;

	(void)state;
	t = add_svc("api-user", 11);
	t->needs = needs;
	t->nneeds = 2;
	add_svc("other", 12);
	in.want_supervisor0 = 1;
	plan();
	assert_int_equal(n, 3);
	assert_int_equal(find(STEP_CREATE_NETWORK, "supervisor0")->app, -1);
	assert_non_null(find(STEP_NOOP, "api-user"));
	assert_non_null(find(STEP_START, "other"));
	in.supervisor0 = 1;
	plan();
	assert_int_equal(n, 2);
	only(STEP_START);
}

/* facts §4.3: io.balena.update.requires-reboot: created, started after a reboot */
static void requires_reboot_service_waits_for_a_reboot_then_starts(void **state)
{
	struct tgt_service *t;
	struct cur_container *c;

	(void)state;
	t = add_svc("fw", 11);
	t->requires_reboot = 1;
	plan(); /* new: the executor creates it and leaves it for the reboot */
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_START, "fw"));
	c = add_cur(t, CUR_CREATED);
	c->this_boot = 1;
	app.current_commit_matches = 0;
	plan(); /* waiting, and the reboot in the same round; the release is not done */
	assert_int_equal(n, 2);
	assert_string_equal(find(STEP_NOOP, "fw")->why, "waiting for a reboot");
	assert_int_equal(find(STEP_REBOOT, NULL)->app, -1);
	assert_null(find(STEP_UPDATE_COMMIT, NULL));
	app.current_commit_matches = 1;
	in.reboot_asked = 1; /* asked once: not again while the device goes down */
	plan();
	assert_int_equal(n, 0);
	c->this_boot = 0; /* after the reboot */
	in.reboot_asked = 0;
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_START, "fw"));
}

static void reboot_waits_until_only_waiting_is_left(void **state)
{
	(void)state;
	in.reboot_due = 1; /* the breadcrumb, e.g. from before a restart of agentd */
	add_svc("one", 11);
	plan();
	assert_null(find(STEP_REBOOT, NULL));
	assert_non_null(find(STEP_START, "one"));
	in.ncur = 0;
	add_cur(&svc[0], CUR_RUNNING);
	plan();
	assert_int_equal(n, 1);
	assert_non_null(find(STEP_REBOOT, NULL));
}

#define T(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(new_app_starts_its_services),
		T(networks_and_volumes_are_created_first),
		T(service_without_the_missing_network_starts_at_once),
		T(missing_image_is_fetched_before_anything_starts),
		T(identical_target_makes_no_steps),
		T(commit_only_change_takes_lock_then_renames),
		T(config_change_download_then_kill),
		T(download_then_kill_waits_for_every_image_of_the_app),
		T(kill_then_download_kills_before_fetching),
		T(delete_then_download_kills_and_deletes_before_fetching),
		T(hand_over_starts_the_new_before_killing_the_old),
		T(hand_over_leftover_old_container_is_killed),
		T(depends_on_waits_for_the_dependency),
		T(depends_on_starts_once_the_dependency_runs),
		T(running_false_stops_a_running_container_under_the_lock),
		T(running_false_new_service_is_created_not_started),
		T(container_that_exited_on_its_own_is_left_alone),
		T(created_but_never_started_container_is_started),
		T(dead_container_is_removed),
		T(duplicates_keep_the_newest),
		T(service_dropped_from_the_target_is_killed),
		T(user_lock_means_take_lock_first_never_kill),
		T(removed_app_is_killed_under_its_lock_then_cleaned),
		T(volumes_outlive_a_release_that_drops_them),
		T(network_dropped_by_the_release_is_removed_once_settled),
		T(commit_is_recorded_and_locks_released_when_settled),
		T(container_without_a_known_config_is_recreated),
		T(new_image_for_unchanged_service_is_fetched_without_downtime),
		T(rejected_app_is_left_as_it_is),
		T(changed_volume_goes_after_its_containers_then_comes_back),
		T(changed_network_takes_every_container_on_it),
		T(network_or_volume_without_a_known_config_is_left_alone),
		T(supervisor0_is_made_before_its_services_start),
		T(requires_reboot_service_waits_for_a_reboot_then_starts),
		T(reboot_waits_until_only_waiting_is_left),
	};

	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
