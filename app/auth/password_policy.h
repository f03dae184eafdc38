/*
 * password_policy.h — the one rule a new password must meet, wherever it
 * is set: the web UI and API (accounts, the admin, the portal), the CLI
 * (tern account add|passwd, tern admin passwd) and TERN_ADMIN_PASSWORD.
 *
 * Today the rule is length: 8 to 256 characters (UTF-8 sequences, as the
 * UI counts them). The strength estimate issue 31 asks for (Debian's
 * zxcvbn-c, vendored) is not here yet: its source could not be fetched
 * on the machine this was written on; it belongs in password_policy_check
 * so every caller gets it at once.
 *
 * Caveats: an existing password that breaks the rule still works (a
 * weak TERN_ADMIN_PASSWORD after an upgrade is warned about, never
 * refused: server.c and the Settings page).
 */
#ifndef TERN_AUTH_PASSWORD_POLICY_H
#define TERN_AUTH_PASSWORD_POLICY_H

#include <stddef.h>

#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_CHARS 256

/* 0 when pw may be set; -1 with a sentence for the user in err. */
int password_policy_check(const char *pw, char *err, size_t errsz);

#endif
