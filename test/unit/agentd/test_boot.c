/*
 * test_boot.c - the boot configuration's files, in a temporary tree
 * standing in for the boot partition, configfs, the ODM data's block device
 * and its lock: a Jetson TX2 on an old balenaOS gets extlinux.conf,
 * extra_uEnv.txt and its ODM bytes in one round and a breadcrumb, and the
 * same target again writes and reboots nothing; the current values read
 * back; the splash image replaced, refused and restored; an Orin's power
 * mode (a reboot) and fan profile (none) in config.json; an UP board's
 * ACPI tables loaded and configfs.json written; unreadable and unwritable
 * files refused with nothing half-written.
 */
#include <sys/stat.h>

#include "testutil.h"

#include "base64.h"
#include "boot.h"
#include "bootfix.h"
#include "config.h"
#include "odmdata.h"
#include "splash.h"
#include "storage.h"
#include "sysmsg.h"

#define PNG_A                                                                                      \
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+"                            \
	"M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
#define PNG_B                                                                                      \
	"iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJ" \
	"RU5ErkJggg=="

static char *dir;
static char boot_dir[512], data_dir[512], run_dir[512], cfs_dir[512], acpi_dir[512];
static char odm_dev[512], odm_lock[512], config_path[512];
static json_t *messages; /* the system messages of the test */
static struct device_config cfg;
static char *modprobe_argv[4];

static void on_sysmsg(const char *msg, void *arg)
{
	(void)arg;
	json_array_append_new(messages, json_string(msg));
}

static void path_in(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", dir, rel);
}

static void mkdirs(const char *rel)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", dir, rel);
	assert_int_equal(system(cmd), 0);
}

static void write_rel(const char *rel, const char *text)
{
	char path[1024];

	path_in(path, sizeof(path), rel);
	test_write_file(path, text);
}

static char *read_rel(const char *rel)
{
	char path[1024];

	path_in(path, sizeof(path), rel);
	return file_read_text(path);
}

static void assert_file(const char *rel, const char *want)
{
	char *got = read_rel(rel);

	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s is \"%s\", not \"%s\"", rel, got ? got : "(missing)", want);
	free(got);
}

static void rmdir_rel(const char *rel)
{
	char path[1024];

	path_in(path, sizeof(path), rel);
	assert_int_equal(rmdir(path), 0);
}

static int exists_rel(const char *rel)
{
	char path[1024];

	path_in(path, sizeof(path), rel);
	return access(path, F_OK) == 0;
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	dir = test_tmpdir();
	path_in(boot_dir, sizeof(boot_dir), "boot");
	path_in(data_dir, sizeof(data_dir), "data");
	path_in(run_dir, sizeof(run_dir), "run");
	path_in(cfs_dir, sizeof(cfs_dir), "configfs");
	path_in(acpi_dir, sizeof(acpi_dir), "acpi-tables");
	path_in(odm_dev, sizeof(odm_dev), "dev/mmcblk0boot0");
	path_in(odm_lock, sizeof(odm_lock), "sys/force_ro");
	path_in(config_path, sizeof(config_path), "boot/config.json");
	mkdirs("boot/splash");
	mkdirs("boot/extlinux");
	mkdirs("data");
	mkdirs("run");
	mkdirs("dev");
	mkdirs("sys");
	mkdirs("acpi-tables");
	write_rel("boot/config.json", "{\"uuid\":\"abc\",\"os\":{\"kernel\":{}}}");
	assert_int_equal(config_load(config_path, &cfg, err, sizeof(err)), 0);
	messages = json_array();
	sysmsg_set_sink(on_sysmsg, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sysmsg_set_sink(NULL, NULL);
	json_decref(messages);
	config_free(&cfg);
	test_rmtree(dir);
	free(dir);
	dir = NULL;
	return 0;
}

static void boot_for(struct boot *b, const char *type, const char *meta)
{
	struct boot_env env = {.run_dir = run_dir,
			       .data_dir = data_dir,
			       .boot_dir = boot_dir,
			       .device_type = type,
			       .os_meta_version = meta,
			       .cfg = &cfg,
			       .config_path = config_path,
			       .configfs_dir = cfs_dir,
			       .acpi_tables_dir = acpi_dir,
			       .odmdata_device = odm_dev,
			       .odmdata_force_ro = odm_lock,
			       .configfs_modprobe = modprobe_argv,
			       .host_root = ""};

	boot_init(b, &env);
}

static void apply(struct boot *b, const char *config_json)
{
	json_t *c = test_json(config_json);

	boot_config_apply(b, c);
	json_decref(c);
}

/* How many system messages contain `what`. */
static int said(const char *what)
{
	json_t *m;
	size_t i;
	int n = 0;

	json_array_foreach(messages, i, m)
		n += strstr(json_string_value(m), what) != NULL;
	return n;
}

static void assert_current(struct boot *b, const char *want_text)
{
	json_t *got = boot_config_current(b), *want = test_json(want_text);

	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);

		fail_msg("current is %s, not %s", g, want_text);
	}
	json_decref(got);
	json_decref(want);
}

/* A block device stand-in: 20000 bytes, configuration `mode` at the offsets. */
static void make_odm_device(int mode)
{
	unsigned char *img = calloc(1, 20000);
	FILE *f = fopen(odm_dev, "w");
	int i;

	assert_non_null(img);
	assert_non_null(f);
	memset(img, 0xee, 20000);
	for (i = 0; i < ODMDATA_COPIES; i++)
		img[odmdata_offsets[i]] = odmdata_byte(mode);
	assert_int_equal(fwrite(img, 1, 20000, f), 20000);
	assert_int_equal(fclose(f), 0);
	free(img);
}

static void odm_bytes(unsigned char out[ODMDATA_COPIES])
{
	FILE *f = fopen(odm_dev, "r");
	int i;

	assert_non_null(f);
	for (i = 0; i < ODMDATA_COPIES; i++) {
		assert_int_equal(fseek(f, odmdata_offsets[i], SEEK_SET), 0);
		out[i] = (unsigned char)fgetc(f);
	}
	fclose(f);
}

static void a_tx2_gets_its_files_and_one_reboot(void **state)
{
	static const char target[] = "{\"HOST_EXTLINUX_isolcpus\":\"2\",\"HOST_EXTLINUX_fdt\":"
				     "\"/boot/my.dtb\",\"HOST_ODMDATA_configuration\":\"4\"}";
	unsigned char bytes[ODMDATA_COPIES];
	struct boot b;
	char crumb[600];
	int applying;

	(void)state;
	write_rel("boot/extlinux/extlinux.conf", extlinux_image);
	write_rel("boot/extra_uEnv.txt", "extra_os_firmware_class_path=/x\n");
	make_odm_device(1);
	write_rel("sys/force_ro", "1\n");
	boot_for(&b, "jetson-tx2", "2.45.1+rev3");
	assert_current(&b, "{\"HOST_ODMDATA_configuration\":\"1\"}");
	apply(&b, target);
	assert_file("boot/extlinux/extlinux.conf",
		    "DEFAULT primary\nTIMEOUT 30\nMENU TITLE Boot Options\nLABEL primary\n      "
		    "MENU LABEL primary Image\n      LINUX /Image\n      APPEND ${cbootargs} "
		    "${resin_kernel_root} ro rootwait isolcpus=2\n      FDT /boot/my.dtb\n");
	assert_file("boot/extra_uEnv.txt", "extra_os_firmware_class_path=/x\n"
					   "custom_fdt_file=/boot/my.dtb\n"
					   "extra_os_cmdline=isolcpus=2\n");
	odm_bytes(bytes);
	assert_int_equal(bytes[0], 0x7);
	assert_int_equal(bytes[1], 0x7);
	assert_int_equal(bytes[2], 0x7);
	assert_file("sys/force_ro", "1\n"); /* locked again */
	assert_true(boot_breadcrumb_due(&b));
	assert_int_equal(said("Applying boot config: {\"configuration\":\"4\"}"), 1);
	assert_int_equal(said("Reboot has been scheduled to apply changes"), 1);
	assert_current(&b, "{\"HOST_EXTLINUX_isolcpus\":\"2\",\"HOST_EXTLINUX_fdt\":"
			   "\"/boot/my.dtb\",\"HOST_ODMDATA_configuration\":\"4\"}");
	/* the same target again (after the reboot): nothing written, no reboot */
	snprintf(crumb, sizeof(crumb), "%s/reboot-after-apply", run_dir);
	assert_int_equal(unlink(crumb), 0);
	applying = said("Applying boot config");
	apply(&b, target);
	assert_int_equal(said("Applying boot config"), applying);
	assert_false(boot_breadcrumb_due(&b));
	/* the vars taken away: agentd's words go; the ODM configuration stays */
	apply(&b, "{}");
	assert_file("boot/extlinux/extlinux.conf", extlinux_image);
	assert_file("boot/extra_uEnv.txt", "extra_os_firmware_class_path=/x\n");
	assert_current(&b, "{\"HOST_ODMDATA_configuration\":\"4\"}");
	assert_true(boot_breadcrumb_due(&b));
}

static void a_newer_os_leaves_extlinux_alone(void **state)
{
	struct boot b;

	(void)state;
	write_rel("boot/extlinux/extlinux.conf", extlinux_image);
	boot_for(&b, "jetson-nano", "2.47.0");
	apply(&b, "{\"HOST_EXTLINUX_isolcpus\":\"2\"}");
	assert_file("boot/extlinux/extlinux.conf", extlinux_image);
	/* and without extra_uEnv.txt, that backend is not this device's either */
	assert_false(exists_rel("boot/extra_uEnv.txt"));
	assert_false(boot_breadcrumb_due(&b));
	assert_int_equal(said("Applying boot config"), 0);
}

static void odm_data_refusals_write_nothing(void **state)
{
	unsigned char bytes[ODMDATA_COPIES];
	struct boot b;

	(void)state;
	boot_for(&b, "jetson-tx2", "2.88.4");
	/* no device */
	apply(&b, "{\"HOST_ODMDATA_configuration\":\"2\"}");
	assert_int_equal(said("Boot config not applied: cannot read"), 1);
	/* said once while the reason stays */
	apply(&b, "{\"HOST_ODMDATA_configuration\":\"2\"}");
	assert_int_equal(said("Boot config not applied: cannot read"), 1);
	/* a device whose lock cannot be opened: nothing is written */
	make_odm_device(1);
	apply(&b, "{\"HOST_ODMDATA_configuration\":\"2\"}");
	assert_int_equal(said("cannot unlock"), 1);
	odm_bytes(bytes);
	assert_int_equal(bytes[0], odmdata_byte(1));
	/* copies that disagree are not overwritten */
	write_rel("sys/force_ro", "1");
	{
		FILE *f = fopen(odm_dev, "r+");

		assert_non_null(f);
		assert_int_equal(fseek(f, odmdata_offsets[1], SEEK_SET), 0);
		fputc(0x6, f);
		fclose(f);
	}
	apply(&b, "{\"HOST_ODMDATA_configuration\":\"2\"}");
	assert_int_equal(said("Data at offsets do not match"), 1);
	odm_bytes(bytes);
	assert_int_equal(bytes[0], 0x0);
	assert_int_equal(bytes[1], 0x6);
	/* a bad value */
	apply(&b, "{\"HOST_ODMDATA_configuration\":\"9\"}");
	assert_int_equal(said("is not a configuration (1 to 6)"), 1);
	assert_false(boot_breadcrumb_due(&b));
}

static void the_splash_image_is_replaced_refused_and_restored(void **state)
{
	unsigned char *a, *b64png;
	size_t alen, blen;
	struct boot b;
	char logo[1024], def[1024];

	(void)state;
	assert_non_null((a = (unsigned char *)base64_decode(PNG_A, &alen)));
	path_in(logo, sizeof(logo), "boot/splash/balena-logo.png");
	path_in(def, sizeof(def), "boot/splash/balena-logo-default.png");
	{
		char err[256];

		assert_int_equal(
			file_write_atomic(logo, (const char *)a, alen, 0644, err, sizeof(err)), 0);
	}
	boot_for(&b, "generic-amd64", "");
	assert_current(&b, "{}");
	apply(&b, "{\"HOST_SPLASH_image\":\"data:image/png;base64," PNG_B "\"}");
	assert_int_equal(said("Applied boot config: {\"image\":\"<a PNG of"), 1);
	/* the image the OS came with is the default now */
	{
		unsigned char *d = file_read_bytes(def, 1 << 20, &blen);

		assert_non_null(d);
		assert_int_equal(blen, alen);
		assert_memory_equal(d, a, alen);
		free(d);
	}
	assert_current(&b, "{\"HOST_SPLASH_image\":\"data:image/png;base64," PNG_B "\"}");
	assert_true(boot_breadcrumb_due(&b));
	/* bad data: refused once, the image kept */
	apply(&b, "{\"HOST_SPLASH_image\":\"bm90IGEgcG5n\"}");
	apply(&b, "{\"HOST_SPLASH_image\":\"bm90IGEgcG5n\"}");
	assert_int_equal(said("Expected splash image to be a base64 encoded PNG image"), 1);
	assert_current(&b, "{\"HOST_SPLASH_image\":\"data:image/png;base64," PNG_B "\"}");
	/* the var taken away: the default image again */
	apply(&b, "{}");
	b64png = file_read_bytes(logo, 1 << 20, &blen);
	assert_non_null(b64png);
	assert_int_equal(blen, alen);
	assert_memory_equal(b64png, a, alen);
	assert_current(&b, "{}");
	free(b64png);
	free(a);
}

static void resin_logo_is_the_name_where_the_os_has_it(void **state)
{
	struct boot b;

	(void)state;
	write_rel("boot/splash/resin-logo.png", "\x89PNG\r\n\x1a\nold");
	boot_for(&b, "raspberrypi3", "");
	apply(&b, "{\"HOST_SPLASH_image\":\"" PNG_B "\"}");
	assert_false(exists_rel("boot/splash/balena-logo.png"));
	assert_file("boot/splash/balena-logo-default.png", "\x89PNG\r\n\x1a\nold");
	assert_current(&b, "{\"HOST_SPLASH_image\":\"data:image/png;base64," PNG_B "\"}");
	/* no splash directory: a target image is refused, saying so */
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s/boot/splash'", dir);
		assert_int_equal(system(cmd), 0);
	}
	apply(&b, "{\"HOST_SPLASH_image\":\"" PNG_A "\"}");
	assert_int_equal(said("no splash directory"), 1);
}

static void an_orin_gets_power_mode_and_fan_profile_in_config_json(void **state)
{
	struct boot b;
	json_t *disk;
	char crumb[600];

	(void)state;
	snprintf(crumb, sizeof(crumb), "%s/reboot-after-apply", run_dir);
	boot_for(&b, "jetson-agx-orin-devkit", "");
	apply(&b, "{\"HOST_CONFIG_fan_profile\":\"quiet\"}");
	disk = json_load_file(config_path, 0, NULL);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(disk, "os"), "fan"), "profile")),
		"quiet");
	assert_non_null(json_object_get(json_object_get(disk, "os"), "kernel"));
	assert_string_equal(json_string_value(json_object_get(disk, "uuid")), "abc");
	json_decref(disk);
	/* a new fan profile needs no reboot */
	assert_false(boot_breadcrumb_due(&b));
	assert_int_equal(said("Applied boot config: {\"fan_profile\":\"quiet\"}"), 1);
	/* a new power mode does */
	apply(&b, "{\"HOST_CONFIG_fan_profile\":\"quiet\",\"HOST_CONFIG_power_mode\":\"low\"}");
	assert_true(boot_breadcrumb_due(&b));
	assert_current(&b, "{\"HOST_CONFIG_fan_profile\":\"quiet\",\"HOST_CONFIG_power_mode\":"
			   "\"low\"}");
	/* agentd's config.json in memory is the one on disk */
	disk = json_load_file(config_path, 0, NULL);
	assert_true(json_equal(disk, cfg.root));
	json_decref(disk);
	assert_int_equal(unlink(crumb), 0);
	apply(&b, "{\"HOST_CONFIG_fan_profile\":\"quiet\",\"HOST_CONFIG_power_mode\":\"low\"}");
	assert_false(boot_breadcrumb_due(&b));
	assert_int_equal(said("Applying boot config"), 2);
}

static void an_up_board_loads_its_acpi_tables_and_writes_configfs_json(void **state)
{
	struct boot b;
	char script[1024];

	(void)state;
	write_rel("boot/configfs.json", "{\"ssdt\":[\"spidev1.0\",\"missing\"]}");
	write_rel("acpi-tables/spidev1.0.aml", "SSDT-table-bytes");
	/* configfs has no acpi/table until "modprobe" (a stand-in) makes it */
	snprintf(script, sizeof(script), "mkdir -p '%s/acpi/table' && touch '%s/modprobed'",
		 cfs_dir, dir);
	modprobe_argv[0] = "sh";
	modprobe_argv[1] = "-c";
	modprobe_argv[2] = script;
	modprobe_argv[3] = NULL;
	boot_for(&b, "up-board", "");
	assert_false(exists_rel("modprobed"));
	boot_start(&b);
	assert_true(exists_rel("modprobed"));
	apply(&b, "{\"HOST_CONFIGFS_ssdt\":\"\\\"spidev1.0\\\",\\\"missing\\\"\"}");
	assert_file("configfs/acpi/table/spidev1.0/aml", "SSDT-table-bytes");
	assert_int_equal(said("Missing AML for 'missing'. Unable to load."), 1);
	/* configfs.json says it already: not written, no reboot */
	assert_file("boot/configfs.json", "{\"ssdt\":[\"spidev1.0\",\"missing\"]}");
	assert_false(boot_breadcrumb_due(&b));
	assert_current(&b, "{\"HOST_CONFIGFS_ssdt\":\"\\\"spidev1.0\\\",\\\"missing\\\"\"}");
	/* a new list: written, loaded at the next boot */
	apply(&b, "{\"HOST_CONFIGFS_ssdt\":\"i2c1\"}");
	assert_file("boot/configfs.json", "{\"ssdt\":[\"i2c1\"]}");
	assert_true(boot_breadcrumb_due(&b));
	assert_false(exists_rel("configfs/acpi/table/i2c1"));
	/* the tables are loaded once per start */
	assert_int_equal(said("Missing AML for 'missing'"), 1);
	modprobe_argv[0] = NULL;
}

static void unreadable_and_unwritable_files_are_refused_whole(void **state)
{
	struct boot b;
	char *before;

	(void)state;
	/* extlinux.conf that cannot be read (a directory in its place) */
	mkdirs("boot/extlinux/extlinux.conf");
	boot_for(&b, "jetson-tx1", "2.40.0");
	apply(&b, "{\"HOST_EXTLINUX_isolcpus\":\"1\"}");
	assert_int_equal(said("Boot config not applied: cannot read"), 1);
	/* config.txt whose new copy cannot be written: the old one stays whole */
	write_rel("boot/config.txt", "gpu_mem=16\n");
	mkdirs("boot/config.txt.tmp");
	boot_for(&b, "raspberrypi4-64", "");
	apply(&b, "{\"HOST_CONFIG_gpu_mem\":\"64\"}");
	assert_int_equal(said("Boot config not applied: cannot write"), 1);
	before = read_rel("boot/config.txt");
	assert_string_equal(before, "gpu_mem=16\n");
	free(before);
	assert_false(boot_breadcrumb_due(&b));
	/* a forbidden key: refused, nothing written */
	apply(&b, "{\"HOST_CONFIG_kernel\":\"evil.img\"}");
	assert_int_equal(said("Attempt to change blacklisted config value kernel"), 1);
	assert_file("boot/config.txt", "gpu_mem=16\n");
}

/* The data dir was full when agentd recorded what it wrote (main's full-disk
 * handling, storage.h): the file was written, its record lost. The next round
 * for the same target writes no file but makes the record, so taking the var
 * away later still takes agentd's line out. */
static void a_lost_record_is_made_at_the_next_round(void **state)
{
	struct boot b;
	char *text;

	(void)state;
	write_rel("boot/config.txt", "# image\ngpu_mem=16\n");
	mkdirs("data/boot-config.json.tmp"); /* the record cannot be written */
	boot_for(&b, "raspberrypi4-64", "");
	apply(&b, "{\"HOST_CONFIG_disable_splash\":\"1\"}");
	text = read_rel("boot/config.txt");
	assert_non_null(strstr(text, "\ndisable_splash=1\n"));
	assert_true(storage_failing(STORAGE_BOOT_CONFIG));
	assert_false(exists_rel("data/boot-config.json"));
	/* room again: the same target writes no file, and the record is made */
	rmdir_rel("data/boot-config.json.tmp");
	apply(&b, "{\"HOST_CONFIG_disable_splash\":\"1\"}");
	assert_file("boot/config.txt", text);
	assert_false(storage_failing(STORAGE_BOOT_CONFIG));
	assert_file("data/boot-config.json", "{\"config.txt\":[\"disable_splash\"]}");
	assert_int_equal(said("Applying boot config"), 1);
	/* the var taken away: agentd's line goes, the image's stays */
	apply(&b, "{}");
	free(text);
	text = read_rel("boot/config.txt");
	assert_null(strstr(text, "disable_splash"));
	assert_non_null(strstr(text, "# image\ngpu_mem=16\n"));
	free(text);
	/* the same for an Orin's fan profile in config.json */
	mkdirs("data/boot-config.json.tmp");
	boot_for(&b, "jetson-agx-orin-devkit", "");
	apply(&b, "{\"HOST_CONFIG_fan_profile\":\"cool\"}");
	assert_true(storage_failing(STORAGE_BOOT_CONFIG));
	rmdir_rel("data/boot-config.json.tmp");
	apply(&b, "{\"HOST_CONFIG_fan_profile\":\"cool\"}");
	assert_false(storage_failing(STORAGE_BOOT_CONFIG));
	apply(&b, "{}");
	assert_null(json_object_get(cfg.root, "os")
			    ? json_object_get(json_object_get(cfg.root, "os"), "fan")
			    : NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_tx2_gets_its_files_and_one_reboot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_newer_os_leaves_extlinux_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(odm_data_refusals_write_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(the_splash_image_is_replaced_refused_and_restored,
						setup, teardown),
		cmocka_unit_test_setup_teardown(resin_logo_is_the_name_where_the_os_has_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			an_orin_gets_power_mode_and_fan_profile_in_config_json, setup, teardown),
		cmocka_unit_test_setup_teardown(
			an_up_board_loads_its_acpi_tables_and_writes_configfs_json, setup,
			teardown),
		cmocka_unit_test_setup_teardown(unreadable_and_unwritable_files_are_refused_whole,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_lost_record_is_made_at_the_next_round, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
