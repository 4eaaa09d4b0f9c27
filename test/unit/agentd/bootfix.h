/*
 * bootfix.h - a boot-config fixture for unit tests: the extlinux.conf of a
 * balenaOS image for a Jetson (the balena supervisor's test file), to render
 * into (test_extlinux.c) and to lay on a boot partition (test_boot.c).
 */
#ifndef AGENTD_TEST_BOOTFIX_H
#define AGENTD_TEST_BOOTFIX_H

static const char extlinux_image[] = "DEFAULT primary\n"
				     "TIMEOUT 30\n"
				     "MENU TITLE Boot Options\n"
				     "LABEL primary\n"
				     "      MENU LABEL primary Image\n"
				     "      LINUX /Image\n"
				     "      APPEND ${cbootargs} ${resin_kernel_root} ro rootwait\n";

#endif
