// SPDX-License-Identifier: MIT
/* test-power.c - on battery or on mains, from power_supply trees made in a
 * temporary directory the way the kernel lays them out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ob/power.h"

static char root[64];

static void put(const char *supply, const char *attr, const char *val)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, supply);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, supply, attr);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", val);
	fclose(f);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/test-power.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* A laptop: battery plus charger (AC), as a ThinkPad lists them. */
static void laptop(const char *ac_online, const char *bat_status)
{
	put("AC", "type", "Mains");
	put("AC", "online", ac_online);
	put("BAT0", "type", "Battery");
	put("BAT0", "status", bat_status);
}

static void test_no_supplies_is_mains(void **state)
{
	assert_false(ob_on_battery(root));
	assert_false(ob_on_battery("/nonexistent/power_supply"));
}

static void test_laptop_unplugged_is_battery(void **state)
{
	laptop("0", "Discharging");
	assert_true(ob_on_battery(root));
}

static void test_laptop_plugged_in_is_mains(void **state)
{
	laptop("1", "Charging");
	assert_false(ob_on_battery(root));
	laptop("1", "Full");
	assert_false(ob_on_battery(root));
}

/* USB-C charging: the Mains supply may say offline while a USB one powers
 * the machine; a discharging battery then is still not "on battery". */
static void test_usb_charger_counts_as_mains(void **state)
{
	laptop("0", "Discharging");
	put("ucsi-source-psy-1", "type", "USB");
	put("ucsi-source-psy-1", "online", "1");
	assert_false(ob_on_battery(root));
}

/* A mouse battery that says Discharging (hid-*) is still a Battery, but
 * the charger being online wins. */
static void test_peripheral_battery_with_mains(void **state)
{
	put("AC", "type", "Mains");
	put("AC", "online", "1");
	put("hid-mouse-battery", "type", "Battery");
	put("hid-mouse-battery", "status", "Discharging");
	assert_false(ob_on_battery(root));
}

/* The cache answers from memory until the recheck time, then looks again. */
static void test_cache_rechecks_after_interval(void **state)
{
	struct ob_power p = { .dir = root };

	laptop("1", "Charging");
	assert_false(ob_power_on_battery(&p, 1000));
	laptop("0", "Discharging");
	assert_false(ob_power_on_battery(&p, 1000 + OB_POWER_RECHECK_NS - 1));
	assert_true(ob_power_on_battery(&p, 1000 + OB_POWER_RECHECK_NS));
	laptop("1", "Charging");
	assert_true(ob_power_on_battery(&p, 1000 + OB_POWER_RECHECK_NS + 1));
	assert_false(ob_power_on_battery(&p, 1000 + 2 * OB_POWER_RECHECK_NS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_supplies_is_mains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_laptop_unplugged_is_battery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_laptop_plugged_in_is_mains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_charger_counts_as_mains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peripheral_battery_with_mains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_rechecks_after_interval, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
