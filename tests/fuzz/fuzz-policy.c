/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy metadata (plugin/policy.c): the parse, and for what parses, the serialization, its
 * parse again (which must give the same policy) and the D-Bus form. */
#include "fuzz.h"

#include "policy.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    g_autofree char *xml = fuzz_string(data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryPolicy) policy = ferry_policy_parse(xml, &error);
    if (!policy)
        return 0;
    g_autofree char *out = ferry_policy_to_xml(policy);
    g_autoptr(FerryPolicy) again = ferry_policy_parse(out, NULL);
    if (!again || !ferry_policy_equal(policy, again))
        abort();
    g_autoptr(GVariant) v = g_variant_ref_sink(ferry_policy_to_variant(policy));
    g_autoptr(FerryPolicy) copy = ferry_policy_copy(policy);
    ferry_policy_update(copy, v, NULL);
    return 0;
}
