/*
 * cmd_compress.c — COMPRESS DEFLATE (RFC 4978).
 *
 * The tagged OK goes out in clear; from the next octet on both directions
 * are raw DEFLATE (net/conn_deflate.h), above TLS when TLS is on. The
 * zlib state counts against the connection's ceiling
 * (CONN_DEFLATE_ZMEM_MAX); refusals answer as Dovecot does: an unknown
 * mechanism is NO, a second COMPRESS is NO [COMPRESSIONACTIVE].
 */
#include "imap/imap_session.h"
#include "core/log.h"
#include "net/conn.h"

void imap_cmd_compress(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 1 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD Error in IMAP command COMPRESS: Invalid arguments.");
		imap_session_error(s);
		return;
	}
	if (s->conn->z) {
		imap_tagged(s, "NO [COMPRESSIONACTIVE] COMPRESSION already enabled.");
		return;
	}
	if (!imap_arg_atom_is(&cmd->args[0], "DEFLATE")) {
		imap_tagged(s, "NO Unknown compression mechanism.");
		return;
	}
	/* The OK must be the last clear octets: written to the conn itself,
	 * behind nothing pending (a command is read only once earlier
	 * output left s->pend, imap_session.c). */
	if (buf_len(&s->pend) || conn_printf(s->conn, "%s OK Begin compression.\r\n", s->tag) < 0 ||
	    conn_compress(s->conn) < 0) {
		log_warn("imap", s->id, "event=compress_failed");
		imap_close_with(s, "compress_failed");
		return;
	}
	log_debug("imap", s->id, "event=compress");
}
