/*
 * jmap_core.c — Core/echo (RFC 8620 §4): the arguments back as they came
 * (after result references were resolved), for testing connectivity.
 */
#include "jmap/jmap_private.h"

void jmap_core_echo(struct jmap_call *c)
{
	jw_value(&c->w, c->args);
}
