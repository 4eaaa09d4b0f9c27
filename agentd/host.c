/*
 * host.c - the host's own services that follow the target's device config,
 * driven the way the balena supervisor drives them:
 *
 *   HOST_FIREWALL_MODE (+ local mode, the services on the host network)
 *                         -> the BALENA-FIREWALL chain (device/firewall.c)
 *   SUPERVISOR_VPN_CONTROL -> start/stop openvpn.service        (host D-Bus)
 *   HOST_DISCOVERABILITY   -> start/stop avahi-daemon.service and .socket
 *   a host-config proxy change -> restart balena-proxy-config and redsocks
 *                                 unless they are PartOf redsocks-conf.target
 *   a service labelled io.balena.features.extra-firmware
 *                         -> config.json os.kernel.extraFirmwareVol
 *
 * The D-Bus parts need the host's system bus (paths.c finds it in the
 * supervisor container); without one they are skipped, said once in the log,
 * and reboots and shutdowns run agentd.json's commands instead. The firewall
 * is managed where agentd is the balenaOS supervisor (it found the host at
 * /mnt/root), or when agentd.json says so ("host_firewall"); never on a
 * plain host, or for a host root set by hand, by default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agentd.h"
#include "clock.h"
#include "config.h"
#include "firewall.h"
#include "hostctl.h"
#include "log.h"
#include "sysmsg.h"

#define VPN_UNIT        "openvpn.service"
#define VPN_RETRY_MS    (60 * 60 * 1000) /* one failed attempt an hour, as balena */
#define PROXY_TARGET    "redsocks-conf.target"
#define HOST_CONFIG_KEY "SUPERVISOR_VPN_CONTROL"

static const char *target_var(struct agentd *ad, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(apply_target(ad->apply), "config"), key));
}

/* checkTruthy with a default for an unset var */
static int truthy_or(const char *v, int dflt)
{
	if (v == NULL || v[0] == '\0')
		return dflt;
	return !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "on");
}

void host_init(struct agentd *ad)
{
	char err[512];

	/* only as the balenaOS supervisor, unless agentd.json says otherwise: a
	 * host root set by hand (a test's, an operator's) is no reason to take
	 * over the firewall of the machine agentd runs on */
	ad->host.firewall_managed =
		ad->set.host_firewall_set ? ad->set.host_firewall : ad->paths.balenaos;
	if (ad->paths.dbus[0] == '\0') {
		log_info("no host D-Bus: reboot and shutdown run '%s' and '%s'; VPN and "
			 "discoverability are left to the host",
			 ad->set.reboot_command[0], ad->set.shutdown_command[0]);
		return;
	}
	if ((ad->host.bus = hostctl_open(ad->base, ad->paths.dbus, err, sizeof(err))) == NULL) {
		log_warnx("host D-Bus %s: %s; reboot and shutdown run '%s' and '%s' instead",
			  ad->paths.dbus, err, ad->set.reboot_command[0],
			  ad->set.shutdown_command[0]);
		return;
	}
	ad->power.bus = ad->host.bus;
	log_info("host control through the host's D-Bus at %s (logind, systemd)", ad->paths.dbus);
}

void host_free(struct agentd *ad)
{
	ad->power.bus = NULL;
	hostctl_close(ad->host.bus);
	ad->host.bus = NULL;
}

/* --- The firewall ------------------------------------------------------------- */

/* Target services on the host's network (network_mode: host). */
static int host_network_services(struct agentd *ad)
{
	json_t *app, *svc;
	const char *k, *n;
	int count = 0;

	json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), k, app)
		json_object_foreach(json_object_get(app, "services"), n, svc) {
			const char *mode = json_string_value(json_object_get(
				json_object_get(svc, "composition"), "network_mode"));

			count += mode != NULL && strcmp(mode, "host") == 0;
		}
	return count;
}

static void host_firewall(struct agentd *ad)
{
	struct firewall_params p;
	char err[512];

	if (!ad->host.firewall_managed)
		return;
	p.mode = target_var(ad, "HOST_FIREWALL_MODE");
	p.local_mode = apply_local_mode(ad->apply);
	p.host_network_services = host_network_services(ad);
	p.api_port = ad->cfg.listen_port;
	firewall_apply(&ad->host.fw, &p, err, sizeof(err)); /* it logs what it does */
}

/* --- Units over D-Bus ------------------------------------------------------- */

struct unit_job {
	struct agentd *ad;
	char unit[64];
	char what[96]; /* for the log */
	int *state;    /* set to `to` on success, or NULL */
	int to;
};

static void unit_done(const char *err, const char *value, void *arg)
{
	struct unit_job *j = arg;

	(void)value;
	if (err != NULL) {
		log_warnx("host: %s: %s", j->what, err);
		if (j->state == &j->ad->host.vpn)
			j->ad->host.vpn_failed_ms = now_ms();
	} else {
		log_info("host: %s", j->what);
		if (j->state != NULL)
			*j->state = j->to;
	}
	free(j);
}

static void unit_call(struct agentd *ad, const char *method, const char *unit, int *state, int to)
{
	struct unit_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return;
	j->ad = ad;
	j->state = state;
	j->to = to;
	snprintf(j->unit, sizeof(j->unit), "%s", unit);
	snprintf(j->what, sizeof(j->what), "%s %s", method, unit);
	if (hostctl_unit(ad->host.bus, method, j->unit, unit_done, j) == -1)
		free(j);
}

/* SUPERVISOR_VPN_CONTROL (default on): the VPN unit started or stopped. */
static void host_vpn(struct agentd *ad)
{
	int want = truthy_or(target_var(ad, HOST_CONFIG_KEY), 1);

	if (ad->host.bus == NULL || ad->host.vpn == want + 1)
		return;
	if (ad->host.vpn_failed_ms != 0 && ad->host.vpn_want == want &&
	    now_ms() - ad->host.vpn_failed_ms < VPN_RETRY_MS)
		return; /* it failed less than an hour ago */
	ad->host.vpn_want = want;
	ad->host.vpn_failed_ms = 0;
	sysmsg("Applying configuration change {\"SUPERVISOR_VPN_CONTROL\":\"%s\"}",
	       want ? "true" : "false");
	unit_call(ad, want ? "StartUnit" : "StopUnit", VPN_UNIT, &ad->host.vpn, want + 1);
}

/* HOST_DISCOVERABILITY (default on): avahi's service, then its socket. */
static void host_discoverability(struct agentd *ad)
{
	int want = truthy_or(target_var(ad, "HOST_DISCOVERABILITY"), 1);

	if (ad->host.bus == NULL || ad->host.discoverable == want + 1)
		return;
	ad->host.discoverable = want + 1;
	log_info("host: setting the host %s", want ? "discoverable" : "undiscoverable");
	unit_call(ad, want ? "StartUnit" : "StopUnit", "avahi-daemon.service", NULL, 0);
	unit_call(ad, want ? "StartUnit" : "StopUnit", "avahi-daemon.socket", NULL, 0);
}

/* --- The extra firmware volume ----------------------------------------------- */

#define FIRMWARE_VOLUME "extra-firmware"

/* Whether a service of the target has io.balena.features.extra-firmware. */
static int wants_extra_firmware(struct agentd *ad)
{
	json_t *app, *svc;
	const char *k, *n;

	json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), k, app)
		json_object_foreach(json_object_get(app, "services"), n, svc) {
			json_t *v = json_object_get(json_object_get(svc, "labels"),
						    "io.balena.features." FIRMWARE_VOLUME);

			if (json_is_true(v) || truthy_or(json_string_value(v), 0))
				return 1;
		}
	return 0;
}

/* Such a service gets the volume extra-firmware at /extra-firmware (compose.c;
 * the engine makes the volume with the container); the OS loads firmware from
 * it once config.json's os.kernel.extraFirmwareVol names it, which is set
 * here, as the balena supervisor sets it (agentd only once a target needs
 * it). A write that fails is tried again with the next target. */
static void host_extra_firmware(struct agentd *ad)
{
	json_t *os = json_object_get(ad->cfg.root, "os"), *kernel, *copy, *cos, *ck;
	const char *was;
	char err[512];

	if (!wants_extra_firmware(ad))
		return;
	kernel = json_object_get(os, "kernel");
	if ((os != NULL && !json_is_object(os)) || (kernel != NULL && !json_is_object(kernel))) {
		log_warnx("Malformed config.json: os or os.kernel is not an object: the extra "
			  "firmware volume is not configured");
		return;
	}
	was = json_string_value(json_object_get(kernel, "extraFirmwareVol"));
	if (was != NULL && strcmp(was, FIRMWARE_VOLUME) == 0)
		return;
	log_info("Configuring extra firmware volume");
	if (was != NULL)
		log_info("Extra firmware volume name changed from %s to " FIRMWARE_VOLUME, was);
	/* written first, then kept: a failed write changes nothing */
	if ((copy = json_deep_copy(ad->cfg.root)) == NULL)
		return;
	if ((cos = json_object_get(copy, "os")) == NULL)
		json_object_set_new(copy, "os", cos = json_object());
	if ((ck = json_object_get(cos, "kernel")) == NULL)
		json_object_set_new(cos, "kernel", ck = json_object());
	json_object_set_new(ck, "extraFirmwareVol", json_string(FIRMWARE_VOLUME));
	if (config_write_atomic(ad->config_path, copy, err, sizeof(err)) == 0) {
		if (os == NULL)
			json_object_set_new(ad->cfg.root, "os", os = json_object());
		if (kernel == NULL)
			json_object_set_new(os, "kernel", kernel = json_object());
		json_object_set_new(kernel, "extraFirmwareVol", json_string(FIRMWARE_VOLUME));
	}
	json_decref(copy);
}

void host_update(struct agentd *ad)
{
	host_firewall(ad);
	host_vpn(ad);
	host_discoverability(ad);
	host_extra_firmware(ad);
}

int host_vpn_enabled(struct agentd *ad)
{
	if (ad->host.bus == NULL)
		return 0;
	return ad->host.vpn != 0 ? ad->host.vpn == 2
				 : truthy_or(target_var(ad, HOST_CONFIG_KEY), 1);
}

/* --- The proxy's units, after a host-config change --------------------------- */

struct proxy_job {
	struct agentd *ad;
	int step; /* 0: balena-proxy-config's PartOf, 1: resin-proxy-config's, 2: redsocks' */
	const char *config_unit;
};

static void proxy_next(const char *err, const char *value, void *arg);

static void proxy_ask(struct proxy_job *j, const char *unit)
{
	if (hostctl_unit_property(j->ad->host.bus, unit, "PartOf", proxy_next, j) == -1)
		free(j);
}

static void proxy_next(const char *err, const char *value, void *arg)
{
	struct proxy_job *j = arg;
	int ours = err == NULL && (value == NULL || strstr(value, PROXY_TARGET) == NULL);

	switch (j->step++) {
	case 0: /* balena-proxy-config, else its old name */
		if (err != NULL) {
			proxy_ask(j, "resin-proxy-config.service");
			return;
		}
		j->config_unit = "balena-proxy-config.service";
		j->step = 2;
		break;
	case 1:
		j->config_unit = err == NULL ? "resin-proxy-config.service" : NULL;
		break;
	default: /* redsocks */
		if (ours)
			unit_call(j->ad, "RestartUnit", "redsocks.service", NULL, 0);
		free(j);
		return;
	}
	if (ours && j->config_unit != NULL)
		unit_call(j->ad, "RestartUnit", j->config_unit, NULL, 0);
	proxy_ask(j, "redsocks.service");
}

void host_proxy_changed(struct agentd *ad)
{
	struct proxy_job *j;

	if (ad->host.bus == NULL) {
		log_info("host: no host D-Bus: the proxy units are left to the host");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->ad = ad;
	proxy_ask(j, "balena-proxy-config.service");
}
