/*
 * bench_plan.c - how long the planner takes for 100 apps x 10 services, in
 * the common case (everything settled: nothing to do) and with every
 * service needing a change. Prints figures; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"

#define APPS 100
#define SVCS 10

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static struct tgt_app apps[APPS];
	static struct tgt_service svcs[APPS][SVCS];
	static struct cur_container cur[APPS * SVCS];
	static struct cur_named nets[APPS];
	static char *netnames[APPS][1];
	static struct step steps[APPS * SVCS * 2];
	struct plan_input in;
	int a, s, i, n = 0, runs = 200, pass;
	double t0, t;

	memset(&in, 0, sizeof(in));
	for (a = 0; a < APPS; a++) {
		snprintf(apps[a].uuid, sizeof(apps[a].uuid), "app%04d", a);
		apps[a].app_id = a + 1;
		snprintf(apps[a].commit, sizeof(apps[a].commit), "c1");
		apps[a].release_id = 1;
		apps[a].svc = svcs[a];
		apps[a].nsvc = SVCS;
		apps[a].locked = 0;
		apps[a].current_commit_matches = 1;
		netnames[a][0] = malloc(64);
		snprintf(netnames[a][0], 64, "app%04d_default", a);
		apps[a].networks = netnames[a];
		apps[a].nnetworks = 1;
		snprintf(nets[a].name, sizeof(nets[a].name), "%s", netnames[a][0]);
		memcpy(nets[a].app_uuid, apps[a].uuid, sizeof(nets[a].app_uuid));
		for (s = 0; s < SVCS; s++) {
			struct tgt_service *t1 = &svcs[a][s];
			struct cur_container *c = &cur[a * SVCS + s];

			snprintf(t1->name, sizeof(t1->name), "svc%d", s);
			t1->image_id = s + 1;
			snprintf(t1->image, sizeof(t1->image), "reg/app%d/svc%d:latest", a, s);
			snprintf(t1->container_name, sizeof(t1->container_name), "svc%d_%d_1_c1", s,
				 s + 1);
			snprintf(t1->hash, sizeof(t1->hash), "%016x", a * 100 + s);
			t1->running = 1;
			t1->image_available = 1;
			snprintf(c->id, sizeof(c->id), "%064d", a * SVCS + s);
			snprintf(c->name, sizeof(c->name), "%s", t1->container_name);
			memcpy(c->service, t1->name, sizeof(c->service));
			memcpy(c->app_uuid, apps[a].uuid, sizeof(c->app_uuid));
			c->app_id = a + 1;
			snprintf(c->hash, sizeof(c->hash), "%s", t1->hash);
			c->status = CUR_RUNNING;
		}
	}
	in.apps = apps;
	in.napps = APPS;
	in.cur = cur;
	in.ncur = APPS * SVCS;
	in.nets = nets;
	in.nnets = APPS;
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			for (i = 0; i < APPS * SVCS; i++)
				cur[i].hash[0] = 'x'; /* every service changed */
		if (pass == 1)
			for (a = 0; a < APPS; a++)
				apps[a].locked = 1;
		t0 = now();
		for (i = 0; i < runs; i++)
			n = plan_steps(&in, steps, (int)(sizeof(steps) / sizeof(steps[0])));
		t = (now() - t0) / runs;
		printf("plan: %d apps x %d services, %s: %.3f ms per plan (%d steps)   (goal < 5 "
		       "ms)\n",
		       APPS, SVCS, pass ? "every service changed" : "nothing to do", t * 1000, n);
	}
	for (a = 0; a < APPS; a++)
		free(netnames[a][0]);
	return 0;
}
