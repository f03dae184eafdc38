/*
 * jmap_blob.h — JMAP blobs (RFC 8620 §6): blob ids, the per-account
 * upload blobs with their time to live, and which blobs an account may
 * read.
 *
 * Blob ids. "B" and the 64 hex digits of the content id (BLAKE2b-256,
 * store_blob_id) name whole bytes: an upload, or a stored message (an
 * Email's blobId); an upload imported as an Email keeps its id.
 * "P<email>_<part>" names the decoded content of a body part
 * (jmap_email_body.c).
 *
 * Upload blobs are files <dir>/<account %08x>/<64 hex> (a user's
 * uploads to an account another user shares with it:
 * <dir>/<owner %08x>.<user %08x>/, jmap_share_blob.c), written whole
 * under a temporary name and renamed, so a reader never sees half of
 * one. They live JMAP_UPLOAD_TTL seconds from their (last) upload: an
 * expired one is no longer found; the files are removed when the table
 * below sees them expire (at the next upload of that user there, or the
 * hourly pass over every table), and by a sweep of every directory at
 * the first upload after start and then at most once an hour. The
 * removal of an account takes its directories at once, its own and
 * those of its uploads to others' accounts and of others' to it
 * (jmap_upload_drop_account: an upload can hold anything a user sent,
 * which should not outlive the account by a day).
 *
 * The live uploads table. What a user's uploads to an account take of
 * its quota (jmap_upload_live) was a walk of the directory at every
 * upload, a stat of each file: O(files), so a client uploading many small
 * blobs made each upload slower than the last. Now the server keeps, per
 * (account, user), the live uploads in memory (content id, size, expiry;
 * in expiry order, which is upload order since the time to live is one
 * constant), loaded from the directory at the first use after start, so
 * a crash loses nothing: the files are the truth, the table is rebuilt.
 * Whether an email of the account holds an upload's bytes (imported: no
 * longer charged as an upload) is asked of the store once per upload and
 * again only after the account changed (its modseq moved: an email made
 * or destroyed), so a run of uploads costs O(1) each; an upload after a
 * change asks again for each live upload, memory reads only. The table
 * is bounded: at most JMAP_UPLOAD_MAX_LIVE uploads per (account, user).
 * When full, the oldest imported one is forgotten (its file stays until
 * it expires; an email holds its bytes, charged to the quota); when none
 * is imported a new upload is refused (JMAP_UPLOAD_TOO_MANY), as
 * Stalwart's count of uploads per user, so memory stays bounded whatever
 * a client sends. The quota check of an upload is made with the table's
 * lock held as the upload is entered in it (jmap_upload_put_by),
 * so parallel uploads cannot each take the same room, and the same bytes
 * again (a renewal of their time to live) take no more of it. Each table
 * has its own lock (held across its first-use walk and its questions to
 * the store), so one user's upload never waits for another's; a global
 * lock only finds, adds or removes a table, never across I/O.
 *
 * Ownership: an account reads a "B" blob when it uploaded it (and it has
 * not expired), holds an Email with those bytes, or has a Sieve script
 * with that text (jmap_sieve.c); a "P" blob when the
 * Email is its own. In an account shared with it a user reads less
 * (jmap_share_blob.c). Anything else is "not found", never "forbidden", so a
 * guessed id tells nothing about other accounts.
 *
 * Caveats: without jmap_upload_setup() (unit tests, CLI) uploads fail
 * and none are found.
 */
#ifndef TERN_JMAP_JMAP_BLOB_H
#define TERN_JMAP_JMAP_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define JMAP_UPLOAD_TTL (24 * 3600)
/* The upload directory's name in the data directory. */
#define JMAP_UPLOAD_DIR "upload"
/* Blob/upload (RFC 9404): data sources in one blob (maxDataSources). */
#define JMAP_BLOB_MAX_SOURCES 64

/* The upload directory (created when missing), and the largest message
 * Email/import and Email/set create store (TERN_MAX_MESSAGE_SIZE; 0: no
 * limit). 0, or -1 with errno. */
int jmap_upload_setup(const char *dir, uint64_t max_message);
/* That largest message (0: none set). */
uint64_t jmap_max_message(void);
/* maxSizeUpload (RFC 8620 §2): the largest upload /upload takes and the
 * largest blob Blob/upload makes: the largest message (an upload may be
 * a whole message for Email/import; a larger one could never become an
 * email), at most JMAP_MAX_SIZE_UPLOAD. */
uint64_t jmap_max_size_upload(void);
/* maxSizeAttachmentsPerEmail (RFC 8621 §1.3.1): what the attachments of
 * a message of jmap_max_size_upload() octets may add up to, decoded. */
uint64_t jmap_max_size_attachments(void);
/* Live uploads kept per (account, user); see "The live uploads table". */
#define JMAP_UPLOAD_MAX_LIVE 10000

/* jmap_upload_put_by's refusals, apart from -1 with errno. */
#define JMAP_UPLOAD_OVER_QUOTA (-2) /* a new upload past the quota's room */
#define JMAP_UPLOAD_TOO_MANY (-3)   /* JMAP_UPLOAD_MAX_LIVE, none imported */
#define JMAP_UPLOAD_STORE (-4)      /* a store error (try again later) */
/* No bound on the room (an account without a quota). */
#define JMAP_UPLOAD_NO_QUOTA UINT64_MAX

/*
 * The account's quota bounds uploads to it, by every way one is made
 * (the upload URL, Blob/upload, Blob/copy): what it stores, what the
 * uploading user's other live uploads there take (jmap_upload_live) and
 * the new one must fit, so that a full account cannot fill the disk with
 * blobs that live a day. Into *room_r what the quota leaves for uploads:
 * the quota less what the account stores (JMAP_UPLOAD_NO_QUOTA: no
 * quota). 0, or -1 on a store error.
 */
int jmap_upload_room(struct store *st, uint32_t account, uint64_t *room_r);

/*
 * Stores data[0..len) with content id id as user's upload to account
 * (user == account: the owner's own; another user's account shared with
 * it: kept apart from the owner's and from each other user's,
 * jmap_share_blob.c). The same bytes again only start their time to live
 * over, and are always taken. A new upload is taken only when the
 * octets of user's live uploads there that no email holds
 * (jmap_upload_live), with it, fit the account's room (jmap_upload_room),
 * checked with the table's lock held as it is entered. 0;
 * JMAP_UPLOAD_OVER_QUOTA, JMAP_UPLOAD_TOO_MANY or JMAP_UPLOAD_STORE; or
 * -1 with errno (ENOSPC: the disk is full; ENOSYS: no directory).
 */
int jmap_upload_put_by(struct store *st, uint32_t account, uint32_t user, const char *data,
		       size_t len, const uint8_t id[32]);
/* An upload of account: opens it read-only, *size_r its length. The
 * descriptor, or -1 when there is none (or it expired). */
int jmap_upload_open(uint32_t account, const uint8_t id[32], uint64_t *size_r);
/* The same for user's uploads to account (user == account is
 * jmap_upload_open). */
int jmap_upload_open_by(uint32_t account, uint32_t user, const uint8_t id[32], uint64_t *size_r);
/* The octets of user's live uploads to account (user == account: the
 * owner's own) that no email of account holds yet: what they take of
 * the account's quota (RFC 8620 §6 leaves a blob nothing references to
 * a quota of its own; here it shares the account's, so that a full
 * account cannot fill the disk through /upload, and an upload imported
 * as an email is charged once, as the email). From the live uploads
 * table, no walk of the directory. 0 with *bytes_r, or -1 on a store
 * error. */
int jmap_upload_live(struct store *st, uint32_t account, uint32_t user, uint64_t *bytes_r);
/* A removed account's uploads (called once its removal committed, by
 * whoever removed it: the server or the CLI): the directories under
 * data_dir/JMAP_UPLOAD_DIR of its own uploads, of its uploads to other
 * accounts and of other users' to it, with their files. The number of
 * directories removed, or -1 with errno when the upload directory
 * cannot be read (none there: 0). This process's live uploads tables of
 * them go too. */
int jmap_upload_drop_account(const char *data_dir, uint32_t account);

/* Bytes of a "B" blob the account may read, mapped read-only (an
 * upload) or copied from the store (a message). */
struct jmap_bytes {
	const char *p;
	size_t len;
	void *map_; /* private */
	size_t maplen_;
	char *copy_;
};
/* 0 with b filled, -1 when the account has no such blob (or a store
 * error: *temp_r set). Release with jmap_bytes_free. */
int jmap_bytes_get(struct store *st, uint32_t account, const uint8_t id[32], struct jmap_bytes *b,
		   int *temp_r);
/* The same for user reading account (another's, shared with it): user's
 * own upload there, or the bytes of an email readable(arg, email) says
 * (1) the user may read (0 not, -1 a store error); never a Sieve
 * script. user == account is jmap_bytes_get (readable unused). */
int jmap_bytes_get_by(struct store *st, uint32_t account, uint32_t user, const uint8_t id[32],
		      int (*readable)(void *arg, uint32_t email), void *arg, struct jmap_bytes *b,
		      int *temp_r);
void jmap_bytes_free(struct jmap_bytes *b);

/* The decoded content of a "P" blob of account, or of a part of a blob
 * Email/parse read ("<blob>_<index>", "<blob>_<index>_<index>" for a
 * message in it, a few deep), appended to out. 0, or -1 when there is no
 * such part (or a store error: *temp_r set; or out too small). */
struct buf;
int jmap_part_read(struct store *st, uint32_t account, const char *blob, struct buf *out,
		   int *temp_r);
/* jmap_part_read, and the part's media type ("type/subtype") in type. */
int jmap_part_read_type(struct store *st, uint32_t account, const char *blob, struct buf *out,
                        int *temp_r, char *type, size_t typelen);

/* The text of a Sieve script of account whose content id is id, in a
 * malloc'ed copy (jmap_sieve.c): 0, or -1 when none has it. */
int jmap_sieve_bytes(struct store *st, uint32_t account, const uint8_t id[32], char **p_r,
		     size_t *len_r);

/* "B" + 64 hex digits: 0 with id_r, else -1. */
int jmap_blob_parse(const char *s, uint8_t id_r[32]);
/* "P<8 hex>_<decimal>": 0 with the email and part index, else -1. */
int jmap_part_parse(const char *s, uint32_t *email_r, unsigned *part_r);
/* The email of account holding bytes id (its lowest id), or 0 when none;
 * -1 on a store error. */
long long jmap_blob_email(struct store *st, uint32_t account, const uint8_t id[32]);

#endif
