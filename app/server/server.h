/*
 * server.h — tern serve: threads, listeners, signals, graceful shutdown.
 *
 * Shape (DESIGN.md §3): one event loop per core (TERN_THREADS overrides),
 * every listening socket shared by all loops; the store's writer thread;
 * the main thread waits for signals. SIGHUP reloads certificates. SIGTERM
 * (or SIGINT) stops accepting, lets sessions in the middle of a transaction
 * finish for up to 10 s, then closes the rest, lets the writer commit what
 * is queued and exits 0.
 */
#ifndef TERN_SERVER_SERVER_H
#define TERN_SERVER_SERVER_H

#include "core/config.h"

/* Runs the server; returns the process exit status. */
int server_run(const struct config *cfg);

#endif
