/*
 * A device's modes (emulated, pv, selective): their names in the xenstore
 * contract and what each asks of the PV leg.  Shared by dom0's coordinator
 * and the guest's shunt, so neither includes the other's headers.
 */
#include "rtvirt/mode.h"

#include <errno.h>
#include <string.h>

static const char *const mode_names[RTV_MODE_COUNT] = {
    [RTV_MODE_EMULATED] = "emulated",
    [RTV_MODE_PV] = "pv",
    [RTV_MODE_SELECTIVE] = "selective",
};

/* What the shunt reports in shunt-state once it runs in each mode. */
static const char *const mode_shunt_states[RTV_MODE_COUNT] = {
    [RTV_MODE_EMULATED] = "emulating",
    [RTV_MODE_PV] = "enlightened",
    [RTV_MODE_SELECTIVE] = "selective",
};

const char *rtv_mode_name(enum rtv_mode m)
{
    return (unsigned)m < RTV_MODE_COUNT ? mode_names[m] : "?";
}

const char *rtv_mode_shunt_state(enum rtv_mode m)
{
    return (unsigned)m < RTV_MODE_COUNT ? mode_shunt_states[m] : "?";
}

int rtv_mode_parse(const char *s, enum rtv_mode *out)
{
    for (unsigned i = 0; s && i < RTV_MODE_COUNT; i++) {
        if (strcmp(s, mode_names[i]) == 0) {
            *out = (enum rtv_mode)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool rtv_mode_needs_pv(enum rtv_mode m)
{
    return m == RTV_MODE_PV || m == RTV_MODE_SELECTIVE;
}
