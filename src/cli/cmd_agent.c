/* SPDX-License-Identifier: MIT */
/* workphone agent (placeholder). */
#include "cli/cli.h"

int cmd_agent(int argc, char **argv)
{
    (void)argc, (void)argv;
    return cli_fail("agent", "not implemented yet");
}
