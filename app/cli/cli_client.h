/*
 * cli_client.h — one blocking client connection for the command-line
 * tools that talk to another server (`tern migrate`: IMAP, then
 * ManageSieve): TCP, implicit TLS or a STARTTLS upgrade, the server's
 * certificate verified against the built-in roots (net/anchors.h, plus
 * TERN_TLS_CA_FILE) for the host name given (an address: as an iPAddress,
 * with no SNI; tls_client_reset), over net/tls_client.h's
 * strict profile (the password goes over it). A command-line tool waits
 * for its one server, so no loop is needed.
 */
#ifndef TERN_CLI_CLI_CLIENT_H
#define TERN_CLI_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct cli_client;

/* Connects to host:port (TLS at once when tls); NULL with err set. */
struct cli_client *cli_client_connect(const char *host, const char *port, int tls, char *err,
                                      size_t errsz);
/* Starts TLS on a plain connection (after the protocol's STARTTLS was
 * accepted): 0, or -1 with err set. The handshake itself runs on the
 * first read or write; a certificate that does not verify fails it. */
int cli_client_starttls(struct cli_client *c, char *err, size_t errsz);
/* Whether the connection is TLS now. */
int cli_client_tls(const struct cli_client *c);
/* Writes all of p: 0 or -1. */
int cli_client_write(struct cli_client *c, const char *p, size_t n);
/* The next byte, or -1 at the end or on an error. */
int cli_client_getc(struct cli_client *c);
/*
 * One response whole into out (reset first), framed as IMAP and
 * ManageSieve both frame them: a line, and when it ends with a literal's
 * length "{N}" or "{N+}" those N octets and the rest of the line after
 * them, and so on. A line longer than line_max or a literal longer than
 * literal_max is refused before it is read. 0 or -1.
 */
struct buf;
int cli_client_response(struct cli_client *c, struct buf *out, size_t line_max,
                        uint64_t literal_max);
/* s as a quoted string (IMAP's and ManageSieve's syntax) into out: 0,
 * or -1 when s holds CR or LF or out is too small. */
int cli_client_quote(const char *s, char *out, size_t outsz);
/* Why the last read or write failed, for a message: the TLS or
 * certificate error when there is one, else "connection lost". */
const char *cli_client_error(const struct cli_client *c);
/* Closes and frees; *c becomes NULL. */
void cli_client_close(struct cli_client **c);

#endif
