/*
 * cmd_serve.c — tern serve.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "server/server.h"

int cli_serve(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc > 0) {
		return cli_usage("serve");
	}
	return server_run(cfg);
}
