/*
 * wire.c - agentd's rooms connected: the children (supervisor/), the device
 * (device/) and the state engine (state/), with the glue between them, and
 * the hooks each room calls back through. main.c wires a configured struct
 * agentd once its start-up checks are done; test/fuzz/fuzz_dispatch.c wires
 * one the same way to drive it with fake children.
 */
#include <stdio.h>
#include <string.h>

#include "agentd.h"
#include "log.h"
#include "sysmsg.h"

/* What each child is told beyond the supervisor's own fields. */
static void on_child_config(enum daemon_id id, json_t *c, void *arg)
{
	struct agentd *ad = arg;

	switch (id) {
	case D_ENGINECTL:
		json_object_set_new(c, "engine_socket", json_string(ad->engine_sock));
		break;
	case D_APID:
		json_object_set_new(c, "api_address", json_string(ad->api_address));
		json_object_set_new(c, "api_port", json_integer(ad->cfg.listen_port));
		json_object_set_new(c, "api_max_connections",
				    json_integer(ad->set.api_max_connections));
		/* config.json apiTimeout (ms): idle and slow clients are dropped after it */
		if (json_is_integer(json_object_get(ad->cfg.root, "apiTimeout")))
			json_object_set(c, "api_timeout_ms",
					json_object_get(ad->cfg.root, "apiTimeout"));
		break;
	case D_CLOUDSYNCD:
		cloudlink_config(ad, c);
		break;
	default:
		break;
	}
}

static void on_child_ready(enum daemon_id id, void *arg)
{
	struct agentd *ad = arg;

	if (id == D_APID)
		api_send_auth(ad);
	if (id == D_CLOUDSYNCD)
		cloudlink_send_tags(ad);
}

/* A process that is not a child: a journalctl of the API, or the power command. */
static void on_reaped(pid_t pid, int status, void *arg)
{
	struct agentd *ad = arg;

	api_journal_reaped(ad, pid);
	power_reaped(&ad->power, pid, status, ad->sv.stopping);
}

static void on_stopping(void *arg)
{
	api_journals_kill(arg);
}

static void on_keys_changed(void *arg)
{
	api_send_auth(arg);
}

/* applied, or a download started: the cloud hears of the new state */
static void on_applied(void *arg)
{
	cloudlink_report_state(arg);
}

static void on_target_set(void *arg)
{
	host_update(arg);
	cloudlink_connectivity_check(arg);
}

int agentd_wire(struct agentd *ad, const char *self)
{
	struct supervisor_conf conf;
	struct apply_env env;

	memset(&conf, 0, sizeof(conf));
	memcpy(conf.policy, ad->set.policy, sizeof(conf.policy));
	conf.handshake_timeout_ms = ad->set.handshake_timeout_ms;
	snprintf(conf.user, sizeof(conf.user), "%s", ad->set.user);
	conf.verbose = ad->verbose;
	conf.sandbox = ad->sandbox;
	conf.own_filter[0] = &agentd_policy;
	conf.own_filter[1] = &agentd_arch_policy;
	conf.own_filter_loaded = agentd_sandbox_written();
	if (supervise_init(&ad->sv, ad->base, self, &conf) == -1)
		return -1;
	ad->sv.hooks = (struct supervisor_hooks){.arg = ad,
						 .config_for = on_child_config,
						 .ready = on_child_ready,
						 .reaped = on_reaped,
						 .stopping = on_stopping};
	ad->keys = (struct keys){.db = ad->db, .changed = on_keys_changed, .arg = ad};
	ad->followed = json_object();
	ad->journals = json_object();
	ad->cloud_connected = ad->connectivity_check = -1;
	led_init(&ad->led, ad->base, ad->paths.led_file);
	reboot_init(ad);
	host_init(ad);
	enginelink_init(ad);
	devlog_init(ad);
	cloudlink_init(ad);
	api_init(ad);

	memset(&env, 0, sizeof(env));
	env.base = ad->base;
	env.db = ad->db;
	env.cfg = &ad->cfg;
	env.id = &ad->id;
	env.keys = &ad->keys;
	env.engine = ad->engine;
	env.run_dir = ad->run_dir;
	env.host_run_dir = ad->paths.host_run_dir;
	env.preload = ad->paths.preload;
	env.data_dir = ad->data_dir;
	env.engine_sock = ad->engine_sock;
	env.boot_dir = ad->paths.boot_dir;
	env.boot = (struct boot_env){.cfg = &ad->cfg,
				     .config_path = ad->config_path,
				     .configfs_dir = ad->paths.configfs_dir,
				     .acpi_tables_dir = ad->paths.acpi_tables_dir,
				     .odmdata_device = ad->paths.odmdata_device,
				     .odmdata_force_ro = ad->paths.odmdata_force_ro,
				     .configfs_modprobe = ad->set.configfs_modprobe,
				     .host_root = ad->paths.host_root};
	env.hooks = (struct apply_hooks){.arg = ad,
					 .applied = on_applied,
					 .downloading = on_applied,
					 .reboot = reboot_for_apply,
					 .target_set = on_target_set,
					 .delta_request = cloudlink_delta};
	if ((ad->apply = apply_new(&env)) == NULL) {
		log_error("cannot set up the state engine");
		return -1;
	}
	host_update(ad); /* the stored target's device config, from the start */
	return 0;
}

void agentd_unwire(struct agentd *ad)
{
	supervise_free(&ad->sv);
	power_free(&ad->power);
	api_blink_free(ad);
	host_free(ad);
	led_free(&ad->led);
	cloudlink_free(ad);
	apply_free(ad->apply);
	ad->apply = NULL;
	sysmsg_set_sink(NULL, NULL);
	json_decref(ad->followed);
	json_decref(ad->journals);
	json_decref(ad->power_locks);
	ad->followed = ad->journals = ad->power_locks = NULL;
	containers_free(ad);
}
