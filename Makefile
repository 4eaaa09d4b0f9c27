# Makefile - the only build entry of agentd. See README.md.
#   make            build build/agentd and its three children
#   make check      build and run every test (unit, unit under ASan+UBSan, integration)
#   make run        the demo: unmanaged device, API on 127.0.0.1:48484
#   make bench      benchmarks (print figures; assert nothing)
#   make soak       sustained work for ~12 minutes, with memory and CPU figures
#   make fuzz       run the fuzz targets for longer (FUZZ_SECONDS=60 each)
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       install missing Debian packages (as root), or say which

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/agentd
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=

# Cross builds (docs/operations.md, "A new board or architecture"): `make ARCH=arm64`,
# `armhf`, `i386` or `rpi` builds the binaries, the unit tests and the test build into
# build/<arch>/ with Debian's cross gcc against a sysroot unpacked from Debian's
# packages (build/sysroot-<arch>, see below). rpi (ARMv6: Raspberry Pi Zero and 1) is
# Debian's armel (ARMv5TE, soft-float calls), which runs on ARMv6; the image carries
# its own libraries, so the board's OS may be hard-float. Without ARCH, or with the
# build machine's own, nothing of this applies.
HOST_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
ARCH      ?= $(HOST_ARCH)
ifneq ($(ARCH),$(HOST_ARCH))
TRIPLET_arm64 := aarch64-linux-gnu
TRIPLET_armhf := arm-linux-gnueabihf
TRIPLET_i386  := i686-linux-gnu
TRIPLET_rpi   := arm-linux-gnueabi
TRIPLET := $(TRIPLET_$(ARCH))
ifeq ($(TRIPLET),)
$(error ARCH=$(ARCH): cross builds know arm64, armhf, i386 and rpi)
endif
# Debian's name of the architecture, and its library directory (multiarch)
DEBARCH_rpi := armel
DEBARCH := $(or $(DEBARCH_$(ARCH)),$(ARCH))
MULTIARCH_i386 := i386-linux-gnu
MULTIARCH := $(or $(MULTIARCH_$(ARCH)),$(TRIPLET))
CROSS   := 1
# 32-bit: 64-bit file offsets and inode numbers (readdir() of a file system with
# large ones fails with EOVERFLOW otherwise), as Debian builds its own programs;
# time_t stays 32-bit there, as in the libraries of the sysroot.
LFS_armhf := -D_FILE_OFFSET_BITS=64
LFS_i386  := -D_FILE_OFFSET_BITS=64
LFS_rpi   := -D_FILE_OFFSET_BITS=64
SYSROOT := $(CURDIR)/build/sysroot-$(ARCH)
BUILD   ?= build/$(ARCH)
CC      := $(TRIPLET)-gcc --sysroot=$(SYSROOT)
PKG     := PKG_CONFIG_SYSROOT_DIR=$(SYSROOT) PKG_CONFIG_PATH= \
	PKG_CONFIG_LIBDIR=$(SYSROOT)/usr/lib/$(MULTIARCH)/pkgconfig:$(SYSROOT)/usr/share/pkgconfig pkg-config
endif

BUILD   ?= build
CC      ?= cc
PKG     ?= pkg-config
OPT     ?= -O2
VARIANT_CFLAGS ?=
VARIANT_LDFLAGS ?=

WARN   := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
CFLAGS := -std=gnu11 $(OPT) -g $(WARN) -D_GNU_SOURCE \
	-DAGENTD_LIBEXEC_DIR='"$(LIBEXECDIR)"' -Icommon -Iagentd -Iagentd/supervisor -Iagentd/device \
	-Iagentd/state -Ienginectl -Iapid -Icloudsyncd $(LFS_$(ARCH)) \
	$(VARIANT_CFLAGS)
LDFLAGS := -Wl,--as-needed $(VARIANT_LDFLAGS)

# The cross builds and their VMs (test/arm/): cross compilers (arm64, armhf, rpi,
# i386), the sysroots' and VM images' unpacker (mmdebstrap; depmod, cpio, mke2fs for
# the images), unshare for the native i386 check, qemu-system for the VMs (x86 for the
# bench's comparison), qemu-user for trace.sh and rpi's ARMv6 unit tests, scmp_sys_resolver.
ARM_DEBIAN_PKGS := gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-arm-linux-gnueabi \
	gcc-i686-linux-gnu mmdebstrap kmod cpio e2fsprogs util-linux \
	qemu-system-arm qemu-system-x86 qemu-user-static binfmt-support seccomp
# Build-time check that the libraries are there, with the fix in the message.
DEBIAN_PKGS := build-essential pkg-config libevent-dev libjansson-dev libsqlite3-dev \
	libcurl4-openssl-dev zlib1g-dev libseccomp-dev libcmocka-dev python3 curl openssl clang \
	libclang-rt-14-dev docker.io docker-registry skopeo busybox-static iptables iproute2 binutils \
	ca-certificates \
	libsystemd-dev dbus python3-dbusmock stress-ng \
	$(ARM_DEBIAN_PKGS)
pc = $(shell $(PKG) $(1) $(2) 2>/dev/null)

# The sysroot of a cross build: every library `make deps` installs for the build
# machine, for the target, plus iptables for the image. sysroot.mk, written last by
# test/arm/sysroot.sh, says which recipe made it; make makes it again (and then
# reads this Makefile again) when it is missing or the recipe changed.
ifdef CROSS
SYSROOT_PKGS := libc6-dev $(filter-out libclang-%,$(filter lib%-dev zlib1g-dev,$(DEBIAN_PKGS))) \
	iptables
SYSROOT_RECIPE := $(shell echo '$(DEBARCH) $(SYSROOT_PKGS)' | cat - test/arm/sysroot.sh \
	test/arm/mirror.sh | cksum | cut -d' ' -f1)
ifneq ($(filter-out deps clean format format-check,$(or $(MAKECMDGOALS),all)),)
include $(SYSROOT)/sysroot.mk
endif
$(SYSROOT)/sysroot.mk: $(if $(filter $(SYSROOT_RECIPE),$(SYSROOT_BUILT)),,FORCE)
	@sh test/arm/sysroot.sh $(DEBARCH) $(SYSROOT) $(SYSROOT_RECIPE) $(SYSROOT_PKGS)
FORCE:
endif

LIBS_AGENTD     := $(call pc,--libs,libevent jansson sqlite3 libseccomp libsystemd)
LIBS_CHILD      := $(call pc,--libs,libevent jansson libseccomp)
LIBS_ENGINECTL  := $(call pc,--libs,libevent jansson libseccomp)
LIBS_APID       := $(LIBS_CHILD)
LIBS_CLOUDSYNCD := $(call pc,--libs,libevent jansson libseccomp zlib) -ldl
CFLAGS += $(call pc,--cflags,libevent jansson sqlite3 libcurl libseccomp)

# Objects are made again when the compiler or its flags change (e.g. another
# variant into the same BUILD): $(BUILD)/obj/.flags holds the last ones.
FLAGS_NOW := $(CC) $(CFLAGS)
ifneq ($(filter-out deps clean format format-check,$(or $(MAKECMDGOALS),all)),)
ifneq ($(FLAGS_NOW),$(file <$(BUILD)/obj/.flags))
$(shell mkdir -p $(BUILD)/obj)
$(file >$(BUILD)/obj/.flags,$(FLAGS_NOW))
endif
endif

COMMON_SRCS := common/log.c common/proto.c common/frame.c common/chan.c common/sandbox.c \
	common/child.c common/buf.c common/clock.c common/base64.c
# agentd's rooms, bottom up (docs/architecture.md): a file may call only
# files of its own room or of the rooms listed before it.
AGENTD_SUPERVISOR_SRCS := $(addprefix agentd/supervisor/,restart.c notify.c kmsg.c dispatch.c \
	supervise.c)
AGENTD_DEVICE_SRCS := $(addprefix agentd/device/,sysmsg.c storage.c config.c settings.c paths.c db.c identity.c \
	keys.c netinfo.c led.c textlines.c kcmdline.c bootcfg.c extlinux.c uenv.c configfs.c odmdata.c splash.c powerfan.c \
	boot.c hostconfig.c power.c firewall.c hostctl.c filemodes.c)
AGENTD_STATE_SRCS := $(addprefix agentd/state/,target.c compose.c named.c plan.c contract.c \
	locks.c store.c instanced.c adopt.c takeover.c apply.c applocks.c)
AGENTD_GLUE_SRCS := $(addprefix agentd/,wire.c sandbox.c healthprobe.c containers.c devlog.c reboot.c host.c cloudlink.c enginelink.c \
	apicall.c api_apps.c api_device.c api.c)
AGENTD_LIB_SRCS := $(AGENTD_SUPERVISOR_SRCS) $(AGENTD_DEVICE_SRCS) $(AGENTD_STATE_SRCS) \
	$(AGENTD_GLUE_SRCS)
ENGINECTL_LIB_SRCS := enginectl/sandbox.c enginectl/stream.c enginectl/ops.c enginectl/ehttp.c enginectl/hresp.c
APID_LIB_SRCS := apid/sandbox.c apid/routes.c apid/reply.c apid/api_health.c apid/forward.c apid/auth.c apid/api_logs.c \
		  apid/conns.c
CLOUDSYNCD_LIB_SRCS := cloudsyncd/sandbox.c cloudsyncd/sync.c cloudsyncd/request.c cloudsyncd/logs.c cloudsyncd/tags.c cloudsyncd/report.c cloudsyncd/initial.c cloudsyncd/delta.c \
	cloudsyncd/connectivity.c \
	common/http.c
MIGRATIONS := $(sort $(wildcard migrations/*.sql))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJS := $(call obj,$(COMMON_SRCS))
AGENTD_OBJS := $(call obj,$(AGENTD_LIB_SRCS)) $(BUILD)/obj/gen/migrations.o
BINS := $(BUILD)/agentd $(BUILD)/enginectl $(BUILD)/apid $(BUILD)/cloudsyncd

UNIT_TESTS := cloudsyncd/test_report cloudsyncd/test_delta cloudsyncd/test_connectivity enginectl/test_stream agentd/test_plan agentd/test_target agentd/test_locks \
	agentd/test_compose agentd/test_contract common/test_frame common/test_chan common/test_sandbox agentd/test_restart \
	common/test_sandbox_arches agentd/test_config agentd/test_settings agentd/test_db agentd/test_kmsg \
	agentd/test_hostconfig agentd/test_named agentd/test_bootcfg enginectl/test_ehttp \
	agentd/test_instanced agentd/test_firewall agentd/test_paths agentd/test_adopt common/test_base64 \
	agentd/test_takeover agentd/test_storage agentd/test_filemodes agentd/test_confine agentd/test_dispatch \
	agentd/test_extlinux agentd/test_uenv agentd/test_configfs agentd/test_odmdata \
	agentd/test_splash agentd/test_powerfan agentd/test_boot
UNIT_BINS := $(patsubst %,$(BUILD)/test/unit/%,$(UNIT_TESTS))
UNIT_LIBS := $(call pc,--libs,cmocka libevent jansson sqlite3 libseccomp libcurl zlib libsystemd)

.PHONY: all check unit asan test-build integration cli run bench soak sync image-path fuzz fuzz-corpus install deps depcheck image \
	format format-check clean arm-check image-index image-check
all: depcheck $(BINS) $(BUILD)/engine-drive
ifdef CROSS
all: $(UNIT_BINS) # run on the target (test/arm/vm-check.sh)
endif

depcheck:
	@$(PKG) --exists libevent jansson sqlite3 libcurl libseccomp 2>/dev/null || { \
	  echo "missing build dependencies: run 'make deps' as root, or:"; \
	  echo "  apt-get install $(DEBIAN_PKGS)"; exit 1; }

deps:
	@sh test/deps.sh $(DEBIAN_PKGS)

$(BUILD)/obj/%.o: %.c $(BUILD)/obj/.flags
	@mkdir -p $(dir $@)
	@echo "CC $<"; $(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/migrations.c: $(MIGRATIONS) migrations/embed.sh
	@mkdir -p $(dir $@)
	sh migrations/embed.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c $(BUILD)/obj/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/agentd: $(call obj,agentd/main.c) $(AGENTD_OBJS) $(COMMON_OBJS)
	@echo "LD $@"; $(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS_AGENTD)
$(BUILD)/enginectl: $(call obj,enginectl/main.c $(ENGINECTL_LIB_SRCS)) $(COMMON_OBJS)
	@echo "LD $@"; $(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS_ENGINECTL)
$(BUILD)/apid: $(call obj,apid/main.c $(APID_LIB_SRCS)) $(COMMON_OBJS)
	@echo "LD $@"; $(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS_APID)
$(BUILD)/cloudsyncd: $(call obj,cloudsyncd/main.c $(CLOUDSYNCD_LIB_SRCS)) $(COMMON_OBJS)
	@echo "LD $@"; $(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS_CLOUDSYNCD)

# Test tools: engine-drive plays agentd's part towards enginectl.
$(BUILD)/engine-drive: $(call obj,test/tools/engine-drive.c) $(COMMON_OBJS)
	@echo "LD $@"; $(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS_CHILD)
# hostctl-drive makes agentd/device/hostctl.c's calls on a given bus.
$(BUILD)/hostctl-drive: $(call obj,test/tools/hostctl-drive.c agentd/device/hostctl.c \
		common/log.c common/buf.c)
	@echo "LD $@"; $(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(call pc,--libs,libevent libsystemd)
# firewall-apply applies the host firewall once (agentd/device/firewall.c).
$(BUILD)/firewall-apply: $(call obj,test/tools/firewall-apply.c agentd/device/firewall.c \
		agentd/device/sysmsg.c common/log.c common/buf.c common/clock.c)
	@echo "LD $@"; $(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS)

$(BUILD)/bench-plan: test/bench/bench_plan.c agentd/state/plan.c agentd/state/plan.h
	@echo "LD $@"; $(CC) $(CFLAGS) test/bench/bench_plan.c agentd/state/plan.c -o $@

# Unit tests link the daemons' code minus their main().
$(BUILD)/test/unit/%: test/unit/%.c $(AGENTD_OBJS) $(COMMON_OBJS) \
		$(call obj,$(sort $(ENGINECTL_LIB_SRCS) $(APID_LIB_SRCS) $(CLOUDSYNCD_LIB_SRCS)))
	@mkdir -p $(dir $@)
	@echo "LD $@"; $(CC) $(CFLAGS) -Itest/unit $^ -o $@ $(LDFLAGS) $(UNIT_LIBS)

unit: depcheck $(UNIT_BINS)
	@UNIT_LABEL=$(or $(UNIT_LABEL),unit) sh test/run-unit.sh $(UNIT_BINS)

# The unit tests again, under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  VARIANT_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  VARIANT_LDFLAGS="-fsanitize=address,undefined" UNIT_LABEL=asan unit

# The balenaOS supervisor image (image/mkimage.py): a FROM-scratch root with these
# binaries and the libraries they need, as a `docker load` archive.
AGENTD_VERSION := $(shell sed -n 's/^\#define AGENTD_VERSION_STR "\(.*\)"/\1/p' common/proto.h)
# ARCH names balena's architecture: amd64, aarch64 (arm64), armv7hf (armhf), i386, rpi.
IMAGE_ARCH_arm64 := aarch64
IMAGE_ARCH_armhf := armv7hf
IMAGE_ARCH_i386  := i386
IMAGE_ARCH_rpi   := rpi
IMAGE_ARCH ?= $(or $(IMAGE_ARCH_$(ARCH)),amd64)
IMAGE_TAG  ?= agentd/$(IMAGE_ARCH)-supervisor:$(AGENTD_VERSION)
IMAGE      := $(BUILD)/image/agentd-$(IMAGE_ARCH).tar
IMAGE_FLAGS := $(if $(CROSS),--sysroot $(SYSROOT) --triplet $(MULTIARCH) --strip $(TRIPLET)-strip)

# Daemons with test-only hooks (a child calls a forbidden syscall on SIGUSR2).
# (build/test, or build/<arch>/test for ARCH)
TEST_BUILD := $(if $(CROSS),$(BUILD)/test,build/test)
test-build:
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) VARIANT_CFLAGS=-DAGENTD_TEST_HOOKS \
	  $(TEST_BUILD)/agentd $(TEST_BUILD)/enginectl $(TEST_BUILD)/apid $(TEST_BUILD)/cloudsyncd

integration: all test-build $(BUILD)/firewall-apply $(IMAGE) $(BUILD)/hostctl-drive
	@python3 test/integration/run.py

image: $(IMAGE)
image-path:
	@echo $(IMAGE)

# The developer loop (image/sync.py): DEVICE is the address of a development
# device's engine (host[:port], port 2375 by default): build the image for its
# architecture, load it there, make balena_supervisor again with it, follow its log.
sync:
	@test -n "$(DEVICE)" || { echo "usage: make sync DEVICE=<host[:port] of the device's engine>"; exit 2; }
	@python3 image/sync.py $(DEVICE) $(SYNC_FLAGS)
$(IMAGE): $(BINS) image/mkimage.py
	@python3 image/mkimage.py --build $(BUILD) --arch $(IMAGE_ARCH) --tag $(IMAGE_TAG) \
	  --version $(AGENTD_VERSION) --out $@ $(IMAGE_FLAGS)

# The multi-arch index (image/mkindex.py): `make image` for each of balena's five
# architectures, then one OCI archive of them, whose index gives each its platform
# (skopeo publishes it: docs/operations.md). image-check proves it against the
# private registry and engine (test/image/index_check.py; "images: N passed").
IMAGE_ARCHES := amd64 i386 arm64 armhf rpi
IMAGE_INDEX  := build/image/agentd-supervisor.oci.tar
image_of = $(if $(filter $(HOST_ARCH),$(1)),build,build/$(1))/image/agentd-$(or \
	$(IMAGE_ARCH_$(1)),amd64).tar
image-index:
	@for a in $(IMAGE_ARCHES); do \
	  $(MAKE) --no-print-directory ARCH=$$a image || exit 1; done
	@$(MAKE) --no-print-directory $(IMAGE_INDEX)
$(IMAGE_INDEX): $(foreach a,$(IMAGE_ARCHES),$(call image_of,$(a))) image/mkindex.py
	@python3 image/mkindex.py --version $(AGENTD_VERSION) --out $@ $(filter %.tar,$^)
image-check: image-index
	@python3 test/image/index_check.py $(IMAGE_INDEX) $(AGENTD_VERSION)

# The proof on the other architectures' kernels (test/arm/arm-check.sh): `make
# ARCH=arm64|armhf|rpi|i386 all test-build`, then arm64, armhf and rpi each in a Debian
# VM (qemu-system, images cached in build/vm-<arch>/): unit tests and a smoke of the
# real binaries under their seccomp filters; rpi's unit tests on an ARMv6 CPU
# (qemu-user); i386's tests on this machine's kernel. Ends with "arm64: N passed, N
# failed" and the same for armhf, rpi, armv6 and i386.
arm-check:
	@sh test/arm/arm-check.sh

# The real balena CLI for the local-mode tests (npm; skipped without it).
cli:
	@sh test/cli/install.sh $(BUILD)/balena-cli

check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@sh test/check.sh

run:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@sh test/demo.sh

bench: all $(BUILD)/bench-plan $(IMAGE)
	@$(BUILD)/bench-plan
	@python3 test/bench/run.py
	@python3 test/bench/bench_engine.py
	@python3 test/bench/bench_state.py
	@python3 test/bench/bench_api.py
	@python3 test/bench/bench_cloud.py
	@python3 test/bench/bench_image.py
	@python3 test/bench/bench_takeover.py
	@python3 test/bench/bench_bounce.py
	@python3 test/bench/bench_delta.py
	@python3 test/bench/bench_arm.py
	@python3 test/bench/bench_faults.py

# FUZZ_SECONDS per target, or FUZZ_RUNS executions each (docs/operations.md: how long
# 10 million runs take);
# fuzz-corpus also replaces test/fuzz/corpus/* by a minimised merge of what it found.
# Sustained work with figures (RSS per process over the phases, CPU per 1,000
# requests); about 12 minutes; not part of check.
soak: all
	@python3 test/soak/soak.py

FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_RUNS=$(FUZZ_RUNS) sh test/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-corpus:
	@FUZZ_RUNS=$(FUZZ_RUNS) MERGE=1 sh test/fuzz/run.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/agentd $(DESTDIR)$(SBINDIR)/agentd
	install -m 0755 $(BUILD)/enginectl $(BUILD)/apid $(BUILD)/cloudsyncd $(DESTDIR)$(LIBEXECDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|g' agentd/agentd.service.in > $(DESTDIR)$(UNITDIR)/agentd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/agentd.service

SOURCES = $(shell find common agentd enginectl apid cloudsyncd test -name '*.[ch]')
format:
	clang-format -i $(SOURCES)
format-check:
	@clang-format --dry-run -Werror $(SOURCES)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
