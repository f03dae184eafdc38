/*
 * test_anchors.c — the built-in trust anchors and TERN_TLS_CA_FILE's.
 *
 * The table comes from Debian's certdata.txt at build time: it must hold
 * the roots a mail server meets (ISRG Root X1 for Let's Encrypt), and a
 * chain issued by an added private CA must verify through BearSSL's
 * validator with the set anchors_get() returns. openssl (the command)
 * makes that CA and a server certificate when present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/anchors.h"
#include "net/anchors_table.h"
#include "unit.h"

static char tmpdir[] = "/tmp/tern-anchors-XXXXXX";

static int sh(const char *cmd)
{
	char full[2048];
	snprintf(full, sizeof full, "cd %s && (%s) >/dev/null 2>&1", tmpdir, cmd);
	return system(full);
}

static size_t slurp(const char *name, unsigned char *out, size_t max)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	size_t n = fread(out, 1, max, f);
	fclose(f);
	return n;
}

/* Runs the minimal X.509 validator over one DER certificate for name. */
static unsigned verify_der(const unsigned char *der, size_t len, const char *name)
{
	br_x509_minimal_context xm;
	size_t n;
	const br_x509_trust_anchor *ta = anchors_get(&n);
	br_x509_minimal_init(&xm, &br_sha256_vtable, ta, n);
	br_x509_minimal_set_hash(&xm, br_sha256_ID, &br_sha256_vtable);
	br_x509_minimal_set_rsa(&xm, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(&xm, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
	const br_x509_class **vt = &xm.vtable;
	(*vt)->start_chain(vt, name);
	(*vt)->start_cert(vt, (uint32_t)len);
	(*vt)->append(vt, der, len);
	(*vt)->end_cert(vt);
	return (*vt)->end_chain(vt);
}

int main(void)
{
	char err[256];
	size_t n;

	/* The built-in set: Debian's server-auth roots, nothing added yet. */
	const br_x509_trust_anchor *ta = anchors_get(&n);
	CHECK(n == anchors_builtin_count && n == anchors_builtin_n());
	CHECK(n > 100 && n < 400);
	CHECK(ta == anchors_builtin);
	int isrg = 0, distrusted = 0;
	for (size_t i = 0; i < n; i++) {
		CHECK(ta[i].flags & BR_X509_TA_CA);
		CHECK(ta[i].dn.len > 0);
		if (strcmp(anchors_builtin_label[i], "ISRG Root X1") == 0)
			isrg = 1;
		if (strstr(anchors_builtin_label[i], "DigiNotar") != NULL)
			distrusted = 1;
	}
	CHECK(isrg);
	CHECK(!distrusted);

	/* Refused input adds nothing. */
	CHECK(anchors_add("nonsense", 8, "junk", err, sizeof err) == -1);
	CHECK(strstr(err, "junk") != NULL);
	CHECK(anchors_add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 60,
	                  "bad.pem", err, sizeof err) == -1);
	CHECK(anchors_add_file("/nonexistent/ca.pem", err, sizeof err) == -1);
	anchors_get(&n);
	CHECK(n == anchors_builtin_count);

	if (system("command -v openssl >/dev/null 2>&1") != 0 || mkdtemp(tmpdir) == NULL) {
		printf("test_anchors: openssl missing, private CA part skipped\n");
		return unit_done("test_anchors");
	}
	CHECK(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout ca.key -out ca.pem -days 30 -subj /CN=tern-test-ca "
	         "-addext basicConstraints=critical,CA:TRUE") == 0);
	CHECK(sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key "
	         "-out srv.csr -subj /CN=mail.example.test && printf "
	         "'subjectAltName=DNS:mail.example.test\\n' > ext && openssl x509 -req -in "
	         "srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 5 -extfile ext -outform "
	         "DER -out srv.der") == 0);
	unsigned char der[4096];
	size_t dlen = slurp("srv.der", der, sizeof der);
	CHECK(dlen > 100);

	/* Not trusted by the built-in roots alone. */
	CHECK(verify_der(der, dlen, "mail.example.test") != 0);

	char path[512];
	snprintf(path, sizeof path, "%s/ca.pem", tmpdir);
	CHECK(anchors_add_file(path, err, sizeof err) == 1);
	ta = anchors_get(&n);
	CHECK(n == anchors_builtin_count + 1);
	CHECK(ta[n - 1].flags & BR_X509_TA_CA);
	CHECK(verify_der(der, dlen, "mail.example.test") == 0);
	/* The name still counts. */
	CHECK(verify_der(der, dlen, "other.example.test") == BR_ERR_X509_BAD_SERVER_NAME);

	anchors_reset();
	anchors_get(&n);
	CHECK(n == anchors_builtin_count);
	CHECK(verify_der(der, dlen, "mail.example.test") != 0);
	sh("rm -f ca.key ca.pem ca.srl srv.key srv.csr srv.der ext");
	rmdir(tmpdir);
	return unit_done("test_anchors");
}
