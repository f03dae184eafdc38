/*
 * test_scram.c — the SCRAM server (auth/scram.h) against the example
 * exchanges of RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256), the stored
 * form (RFC 5803), and the refusals of the strict parser: each message
 * also fed whole at every shorter length, none of which may pass.
 */
#include <string.h>

#include "auth/sasl.h"
#include "core/base64.h"
#include "auth/scram.h"
#include "unit.h"

struct vec {
	enum scram_hash h;
	const char *salt_b64;
	const char *first, *snonce, *server_first, *final, *server_final;
};

static const struct vec rfc5802 = {
	SCRAM_SHA1, "QSXCR+Q6sek8bf92", "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
	"3rfcNHYJY1ZVvWVs7j",
	"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
	"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="};

static const struct vec rfc7677 = {
	SCRAM_SHA256, "W22ZaJ0SNY7soEsUEjb6gQ==", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="};

static void keys_of(const struct vec *v, const char *password, struct scram_keys *k)
{
	char salt[64];
	size_t n;
	CHECK_EQ_INT(base64_decode(str_c(v->salt_b64), 0, salt, sizeof salt, &n), 0);
	scram_keys_derive(v->h, password, strlen(password), (const uint8_t *)salt, n, 4096, k);
}

/* Runs the exchange to the final message; the result of client_final. */
static int run(const struct vec *v, const struct scram_keys *k, const char *first,
	       const char *final, char *sfinal)
{
	struct scram_server s;
	char out[SCRAM_MSG_MAX];
	if (scram_client_first(&s, v->h, str_c(first)) != 0)
		return -9;
	if (scram_server_first_with(&s, k, v->snonce, out, sizeof out) != 0)
		return -8;
	CHECK_EQ_STR(out, v->server_first);
	int rc = scram_client_final(&s, k, str_c(final), sfinal, 64);
	CHECK_EQ_INT(s.step, 2);
	scram_server_end(&s);
	return rc;
}

static void check_vector(const struct vec *v)
{
	struct scram_keys k;
	char sfinal[64] = "", stored[SCRAM_STORED_MAX];

	keys_of(v, "pencil", &k);
	CHECK_EQ_INT(run(v, &k, v->first, v->final, sfinal), 1);
	CHECK_EQ_STR(sfinal, v->server_final);
	/* Every shorter final message is refused, never a pass. */
	for (size_t n = 0; n < strlen(v->final); n++) {
		char cut[256];
		memcpy(cut, v->final, n);
		cut[n] = '\0';
		CHECK(run(v, &k, v->first, cut, sfinal) != 1);
	}
	/* Every shorter first message is refused up to the nonce's first
	 * character (past it, a shorter nonce is a first message too). */
	size_t nonce_at = (size_t)(strstr(v->first, ",r=") - v->first) + 3;
	for (size_t n = 0; n <= nonce_at; n++) {
		struct scram_server s;
		char cut[256];
		memcpy(cut, v->first, n);
		cut[n] = '\0';
		CHECK(scram_client_first(&s, v->h, str_c(cut)) != 0);
	}
	/* Another password: the proof fails (0, not a parse error). */
	struct scram_keys wrong;
	keys_of(v, "pencil2", &wrong);
	CHECK_EQ_INT(run(v, &wrong, v->first, v->final, sfinal), 0);
	/* The stored form round-trips. */
	CHECK_EQ_INT(scram_keys_format(&k, stored, sizeof stored), 0);
	struct scram_keys back;
	CHECK_EQ_INT(scram_keys_parse(stored, &back), 0);
	CHECK(back.hash == k.hash && back.iter == 4096 && back.salt_len == k.salt_len);
	CHECK(memcmp(back.stored_key, k.stored_key, scram_hash_len(v->h)) == 0);
	CHECK(memcmp(back.server_key, k.server_key, scram_hash_len(v->h)) == 0);
	CHECK_EQ_INT(run(v, &back, v->first, v->final, sfinal), 1);
}

/* A first message that must be refused with want. */
static void refuse_first(const char *msg, int want)
{
	struct scram_server s;
	int rc = scram_client_first(&s, SCRAM_SHA256, str_c(msg));
	if (rc != want)
		fprintf(stderr, "first %s: %d, want %d\n", msg, rc, want);
	CHECK_EQ_INT(rc, want);
	CHECK_EQ_INT(s.step, 2);
}

/* A final message (after rfc7677's first) that must be refused as malformed. */
static void refuse_final(const char *final)
{
	struct scram_keys k;
	char sfinal[64];
	keys_of(&rfc7677, "pencil", &k);
	int rc = run(&rfc7677, &k, rfc7677.first, final, sfinal);
	if (rc != -1)
		fprintf(stderr, "final %s: %d\n", final, rc);
	CHECK_EQ_INT(rc, -1);
}

/* The shared SASL exchange (auth/sasl.h) drives SCRAM: the first message
 * asks for the challenge, the second is handed on for the check. */
static void check_sasl_steps(void)
{
	struct sasl_login x;
	char buf[SASL_RESPONSE_MAX], b64[256];
	struct str u, p;

	memset(&x, 0, sizeof x);
	CHECK_EQ_INT(sasl_login_start(&x, str_c("SCRAM-SHA-256")), -1); /* PLAIN/LOGIN only */
	/* Not offered (TERN_SASL_SCRAM unset): not taken either. */
	CHECK_EQ_STR(sasl_mechs(), "PLAIN LOGIN");
	char each[128];
	sasl_mechs_each(" AUTH=", "", each, sizeof each);
	CHECK_EQ_STR(each, " AUTH=PLAIN AUTH=LOGIN");
	CHECK_EQ_INT(sasl_login_start_scram(&x, str_c("scram-sha-256")), -1);
	CHECK_EQ_INT(sasl_login_start_scram(&x, str_c("PLAIN")), 0);
	sasl_login_end(&x);
	sasl_scram_offer(1);
	CHECK_EQ_STR(sasl_mechs(), "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN");
	sasl_mechs_each("", "\r\n", each, sizeof each);
	CHECK_EQ_STR(each, "SCRAM-SHA-256\r\nSCRAM-SHA-1\r\nPLAIN\r\nLOGIN\r\n");
	sasl_mechs_each(" AUTH=", "", each, 20); /* cut, still terminated */
	CHECK(strlen(each) < 20);
	CHECK_EQ_INT(sasl_login_start_scram(&x, str_c("scram-sha-256")), 0);
	CHECK(x.mech == SASL_MECH_SCRAM_SHA256 && x.scram != NULL);
	CHECK_EQ_STR(sasl_mech_log_name(x.mech), "scram-sha-256");
	base64_encode(rfc7677.first, strlen(rfc7677.first), 0, b64, sizeof b64);
	CHECK_EQ_INT(sasl_login_step(&x, str_c(b64), 1, buf, &u, &p), SASL_STEP_CHALLENGE);
	CHECK_EQ_SLICE(u, "user");
	base64_encode(rfc7677.final, strlen(rfc7677.final), 0, b64, sizeof b64);
	CHECK_EQ_INT(sasl_login_step(&x, str_c(b64), 0, buf, &u, &p), SASL_STEP_SCRAM);
	CHECK_EQ_SLICE(p, rfc7677.final);
	sasl_login_end(&x);
	CHECK(x.scram == NULL && x.mech == SASL_MECH_NONE);

	CHECK_EQ_INT(sasl_login_start_scram(&x, str_c("SCRAM-SHA-1")), 0);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("bixhPWJvYixuPWFsaWNlLHI9YWJj"), 1, buf, &u, &p),
		     SASL_STEP_AUTHZID); /* "n,a=bob,n=alice,r=abc" */
	CHECK_EQ_SLICE(u, "alice");
	CHECK_EQ_INT(sasl_login_start_scram(&x, str_c("SCRAM-SHA-1")), 0);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("="), 1, buf, &u, &p), SASL_STEP_MALFORMED);
	CHECK_EQ_INT(sasl_login_start_scram(&x, str_c("SCRAM-SHA-1")), 0);
	CHECK_EQ_INT(sasl_login_step(&x, str_c("bi,x"), 0, buf, &u, &p), SASL_STEP_BAD_BASE64);
	sasl_login_end(&x);
	CHECK_EQ_INT(sasl_login_start_scram(&x, str_c("SCRAM-SHA-1-PLUS")), -1);
	CHECK(x.scram == NULL);
}

int main(void)
{
	check_sasl_steps();
	check_vector(&rfc5802);
	check_vector(&rfc7677);

	/* The gs2 header: 'y' taken (the client could bind, we offer no
	 * -PLUS), 'p=' refused, an authzid only when it names the user. */
	struct scram_server s;
	CHECK_EQ_INT(scram_client_first(&s, SCRAM_SHA256, str_c("y,,n=user,r=abc")), 0);
	CHECK_EQ_INT(scram_client_first(&s, SCRAM_SHA256, str_c("n,a=User,n=user,r=abc")), 0);
	CHECK_EQ_STR(s.user, "user");
	CHECK_EQ_INT(scram_client_first(&s, SCRAM_SHA256, str_c("n,a=admin,n=user,r=abc")),
		     SCRAM_BAD_AUTHZID);
	CHECK_EQ_STR(s.user, "user");
	refuse_first("p=tls-unique,,n=user,r=abc", SCRAM_BAD_CBIND);
	/* saslname escapes: =2C and =3D only. */
	CHECK_EQ_INT(scram_client_first(&s, SCRAM_SHA256, str_c("n,,n=a=2Cb=3Dc,r=abc")), 0);
	CHECK_EQ_STR(s.user, "a,b=c");
	refuse_first("n,,n=a=2cb,r=abc", -1);
	refuse_first("n,,n=a=,r=abc", -1);
	refuse_first("n,,n=a=2,r=abc", -1);
	refuse_first("n,,n=,r=abc", -1);
	/* The nonce: printable, present; 'm=' refused; extensions well formed. */
	refuse_first("n,,n=user,r=a b", -1);
	refuse_first("n,,n=user,r=", -1);
	refuse_first("n,,n=user", -1);
	refuse_first("n,,m=x,n=user,r=abc", -1);
	refuse_first("n,,n=user,r=abc,m=x", -1);
	refuse_first("n,,n=user,r=abc,", -1);
	refuse_first("n,,n=user,r=abc,1=x", -1);
	refuse_first("x,,n=user,r=abc", -1);
	refuse_first("n,n=user,r=abc", -1);
	CHECK_EQ_INT(scram_client_first(&s, SCRAM_SHA256, str_c("n,,n=user,r=abc,x=1,y=2")), 0);
	const char nul[] = "n,,n=us\0er,r=abc";
	CHECK(scram_client_first(&s, SCRAM_SHA256, str_make(nul, sizeof nul - 1)) < 0);
	/* Bounded: a user past SCRAM_USER_MAX, a nonce past SCRAM_CNONCE_MAX, a
	 * message past SCRAM_MSG_MAX. */
	char big[SCRAM_MSG_MAX + 64];
	memcpy(big, "n,,n=", 5);
	memset(big + 5, 'u', SCRAM_USER_MAX + 1);
	strcpy(big + 5 + SCRAM_USER_MAX + 1, ",r=abc");
	refuse_first(big, -1);
	memcpy(big, "n,,n=u,r=", 9);
	memset(big + 9, 'r', SCRAM_CNONCE_MAX + 1);
	big[9 + SCRAM_CNONCE_MAX + 1] = '\0';
	refuse_first(big, -1);
	memset(big + 9, 'r', SCRAM_CNONCE_MAX);
	big[9 + SCRAM_CNONCE_MAX] = '\0';
	CHECK_EQ_INT(scram_client_first(&s, SCRAM_SHA256, str_c(big)), 0);

	/* The final message: channel binding, nonce (a replay of another
	 * exchange's), proof shape, order. */
	refuse_final("c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	refuse_final("c=biws,r=rOprNGfwEbeRWgbNEkqO,"
		     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	refuse_final("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ");
	refuse_final("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7And");
	refuse_final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,"
		     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	refuse_final("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1");
	/* An extension before the proof changes AuthMessage: a wrong proof. */
	struct scram_keys k;
	char sfinal[64];
	keys_of(&rfc7677, "pencil", &k);
	CHECK_EQ_INT(run(&rfc7677, &k, rfc7677.first,
			 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=1,"
			 "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			 sfinal),
		     0);
	/* Out of order: a final message without a first, a second final. */
	CHECK_EQ_INT(scram_client_first(&s, SCRAM_SHA256, str_c(rfc7677.first)), 0);
	CHECK_EQ_INT(scram_client_final(&s, &k, str_c(rfc7677.final), sfinal, sizeof sfinal), -1);

	/* Mechanism names. */
	enum scram_hash h;
	CHECK_EQ_INT(scram_mech_parse(str_c("scram-sha-256"), &h), 0);
	CHECK(h == SCRAM_SHA256);
	CHECK_EQ_INT(scram_mech_parse(str_c("SCRAM-SHA-1"), &h), 0);
	CHECK(h == SCRAM_SHA1);
	CHECK_EQ_INT(scram_mech_parse(str_c("SCRAM-SHA-1-PLUS"), &h), -1);

	/* New keys: a random salt of SCRAM_SALT_LEN, SCRAM_ITERATIONS, and the
	 * stored form refuses what it should. */
	struct scram_keys a, b, back;
	char t[SCRAM_STORED_MAX];
	scram_keys_new(SCRAM_SHA256, "pencil", 6, &a);
	scram_keys_new(SCRAM_SHA256, "pencil", 6, &b);
	CHECK(a.iter == SCRAM_ITERATIONS && a.salt_len == SCRAM_SALT_LEN);
	CHECK(memcmp(a.salt, b.salt, SCRAM_SALT_LEN) != 0);
	CHECK_EQ_INT(scram_keys_format(&a, t, sizeof t), 0);
	CHECK(strncmp(t, "SCRAM-SHA-256$10000:", 20) == 0);
	CHECK_EQ_INT(scram_keys_parse(t, &back), 0);
	CHECK_EQ_INT(scram_keys_format(&a, t, 40), -1);
	CHECK_EQ_INT(scram_keys_parse("SCRAM-SHA-256$4095:QSXCR+Q6sek8bf92$"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				      &back),
		     -1);
	CHECK_EQ_INT(scram_keys_parse("SCRAM-SHA-256$4096:QSXCR+Q6sek8bf92$"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				      &back),
		     0);
	CHECK_EQ_INT(scram_keys_parse("SCRAM-SHA-1$4096:QSXCR+Q6sek8bf92$"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				      &back),
		     -1);
	CHECK_EQ_INT(scram_keys_parse("SCRAM-SHA-256$4096:QSXC$"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				      &back),
		     -1);
	CHECK_EQ_INT(scram_keys_parse("SCRAM-SHA-256$99999999999999999999:QSXCR+Q6sek8bf92$x:y",
				      &back),
		     -1);
	CHECK_EQ_INT(scram_keys_parse("", &back), -1);
	/* The longest form taken (a 64-octet salt, 1000000 iterations) formats
	 * back: SCRAM_STORED_MAX holds it (fuzz_scram found 160 did not). */
	const char *longest = "SCRAM-SHA-256$1000000:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	char again[SCRAM_STORED_MAX];
	CHECK_EQ_INT(scram_keys_parse(longest, &back), 0);
	CHECK_EQ_INT(back.salt_len, 64);
	CHECK_EQ_INT(scram_keys_format(&back, again, sizeof again), 0);
	CHECK_EQ_STR(again, longest);
	return unit_done("test_scram");
}
