/*
 * test_contract.c - service contracts: version ranges and the requirement
 * types agentd knows (facts §9.2 #29).
 */
#include "testutil.h"

#include "contract.h"

static const struct contract_env env = {"19.0.0", "raspberrypi4-64", "aarch64"};

static int met(const char *json)
{
	char why[128];
	json_t *c = json_loads(json, 0, NULL);
	int ok = contract_met(c, &env, why, sizeof(why));

	json_decref(c);
	return ok;
}

static void versions_compare_numerically(void **state)
{
	(void)state;
	assert_true(contract_version_cmp("10.0.0", "9.7.0") > 0);
	assert_true(contract_version_cmp("1.2", "1.2.0") == 0);
	assert_true(contract_version_cmp("v1.2.3", "1.2.4") < 0);
}

static void ranges(void **state)
{
	(void)state;
	assert_false(contract_version_in("19.0.0", ">99"));
	assert_true(contract_version_in("19.0.0", ">=16.0.0 <20"));
	assert_false(contract_version_in("19.0.0", ">=16.0.0 <19"));
	assert_true(contract_version_in("19.0.0", "^19.0.0"));
	assert_false(contract_version_in("20.1.0", "^19.0.0"));
	assert_true(contract_version_in("19.0.3", "~19.0.1"));
	assert_true(contract_version_in("19.4.0", "19.x"));
	assert_false(contract_version_in("18.4.0", "19"));
}

static void supervisor_version_requirement(void **state)
{
	(void)state;
	assert_false(met("{\"requires\": [{\"type\": \"sw.supervisor\", \"version\": \">99\"}]}"));
	assert_true(
		met("{\"requires\": [{\"type\": \"sw.supervisor\", \"version\": \">=9.7.0\"}]}"));
	assert_true(met("{}"));
	assert_true(met("null"));
}

static void device_type_and_arch_requirements(void **state)
{
	(void)state;
	assert_true(met("{\"requires\": [{\"type\": \"hw.device-type\", \"slug\": "
			"\"raspberrypi4-64\"}]}"));
	assert_false(met("{\"requires\": [{\"type\": \"hw.device-type\", \"slug\": \"fincm3\"}]}"));
	assert_false(met("{\"requires\": [{\"type\": \"arch.sw\", \"slug\": \"amd64\"}]}"));
	assert_false(met("{\"requires\": [{\"type\": \"sw.l4t\", \"version\": \"32\"}]}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(versions_compare_numerically),
		cmocka_unit_test(ranges),
		cmocka_unit_test(supervisor_version_requirement),
		cmocka_unit_test(device_type_and_arch_requirements),
	};

	return cmocka_run_group_tests_name("contract", tests, NULL, NULL);
}
