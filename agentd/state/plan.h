/*
 * plan.h - the planner: a pure function from (current state, target state,
 * lock and download status) to the next steps. No I/O: the executor
 * (apply.c) gathers the inputs, runs the steps, and asks again, until the
 * planner answers with no steps (the target is reached).
 *
 * Each call plans one round. Steps in a round are independent of each other
 * and may run in parallel; anything that must follow them waits for a later
 * round. That is how ordering is expressed: a lock before a kill, a kill
 * before a start under kill-then-download, a dependency's start before its
 * dependant's.
 */
#ifndef AGENTD_PLAN_H
#define AGENTD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_NAME_MAX 256
#define PLAN_MAX_DEPS 16

enum cur_status {
	CUR_CREATED, /* created, never started */
	CUR_RUNNING, /* running, restarting or paused */
	CUR_EXITED,  /* stopped or exited on its own */
	CUR_DEAD,    /* the engine could not remove it: remove again */
};

/* A supervised container the engine has now. */
struct cur_container {
	char id[72];
	char name[PLAN_NAME_MAX]; /* without the leading '/' */
	char service[128];
	char app_uuid[64];
	int app_id, service_id, image_id, release_id;
	char commit[80];
	char hash[17];         /* label io.balena.agentd.config-hash, "" if none */
	char image_id_ref[80]; /* the engine's image id it runs */
	enum cur_status status;
	int64_t created;   /* for choosing among duplicates: newest wins */
	int handover_old;  /* renamed old_… during a hand-over */
	const char **uses; /* networks and volumes it is attached to (borrowed) */
	int this_boot;     /* created since the device last booted */
	int nuses;
};

/* One target service, already composed (compose.c) where its image is here. */
struct tgt_service {
	char name[128];
	int service_id, image_id;
	char image[512]; /* normalised reference */
	char container_name[PLAN_NAME_MAX];
	char hash[17]; /* "" until the image is available and composed */
	int running;
	enum {
		STRAT_DOWNLOAD_THEN_KILL,
		STRAT_KILL_THEN_DOWNLOAD,
		STRAT_DELETE_THEN_DOWNLOAD,
		STRAT_HAND_OVER
	} strategy;
	char depends[PLAN_MAX_DEPS][128];
	int ndepends;
	const char **needs; /* networks and volumes it uses (full names) */
	int nneeds;
	int requires_reboot; /* io.balena.update.requires-reboot: a new container
				starts only after the device has rebooted */
	int image_available; /* present in the engine */
	int image_failed;    /* the last fetch failed (backoff in the executor) */
};

struct tgt_app {
	char uuid[64];
	int app_id;
	char commit[80];
	int release_id;
	struct tgt_service *svc;
	int nsvc;
	char **volumes; /* full names "<appId>_<name>" */
	int nvolumes;
	char **networks; /* full names "<appUuid>_<name>", "default" included */
	int nnetworks;
	/* Config hashes, parallel to volumes and networks ("" or NULL: unknown,
	 * never compared). One that differs from the engine's is recreated. */
	char (*volume_hash)[17];
	char (*network_hash)[17];
	int locked;                 /* agentd holds this app's update locks */
	int rejected;               /* its release broke a contract: leave the app as it is */
	int current_commit_matches; /* the stored current commit equals commit */
};

struct cur_named { /* a supervised volume or network the engine has */
	char name[PLAN_NAME_MAX];
	char app_uuid[64];
	int app_id;
	char hash[17]; /* label io.balena.agentd.config-hash, "" if none */
};

struct plan_input {
	struct cur_container *cur;
	int ncur;
	struct cur_named *vols, *nets;
	int nvols, nnets;
	struct tgt_app *apps;
	int napps;
	int reboot_due;       /* the reboot breadcrumb is newer than boot_time */
	int reboot_asked;     /* agentd has run the reboot command since boot */
	int want_supervisor0; /* a target service joins supervisor0 */
	int supervisor0;      /* the engine has it */
	/* Apps that have containers but are gone from the target: their locks. */
	char (*locked_gone)[64]; /* app uuids agentd holds locks for */
	int nlocked_gone;
};

enum step_kind {
	STEP_FETCH,     /* pull tgt->image */
	STEP_TAKE_LOCK, /* take app's update locks */
	STEP_RELEASE_LOCK,
	STEP_KILL,     /* stop and remove cur (and its image, for delete-then-download) */
	STEP_STOP,     /* stop cur, keep it */
	STEP_START,    /* create (if needed) and start tgt; cur set if created already */
	STEP_REMOVE,   /* remove a dead cur */
	STEP_RENAME,   /* rename cur to tgt->container_name (new commit/release) */
	STEP_HANDOVER, /* start tgt next to cur, wait for handover-complete, kill cur */
	STEP_CREATE_VOLUME,
	STEP_REMOVE_VOLUME,
	STEP_CREATE_NETWORK,
	STEP_REMOVE_NETWORK,
	STEP_UPDATE_COMMIT, /* store the app's commit as current */
	STEP_REBOOT,        /* all else done, a service waits for a reboot: reboot */
	STEP_NOOP,          /* nothing to do now, but not done: wait and plan again */
};

struct step {
	enum step_kind kind;
	int app;                         /* index into input.apps, or -1 */
	const struct cur_container *cur; /* may be NULL */
	const struct tgt_service *tgt;   /* may be NULL */
	char name[PLAN_NAME_MAX];        /* volume/network name, app uuid for locks */
	char why[96];                    /* a word on why, for the logs and tests */
};

const char *plan_step_name(enum step_kind k);

/// Plan one round into out[0..max). Returns the number of steps; 0 means
/// the target is reached.
int plan_steps(const struct plan_input *in, struct step *out, int max);

#endif
