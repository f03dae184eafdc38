/*
 * gen-anchors.c — build-time tool: Mozilla's certdata.txt (as Debian's
 * ca-certificates source package ships it, vendor/manifest) to a C table
 * of BearSSL trust anchors, so the binary verifies servers with no CA file.
 *
 *   gen-anchors CERTDATA BLACKLIST OUT.c
 *
 * Which roots count follows Debian's own selection (its certdata2pem.py):
 * a certificate object whose trust object (same CKA_LABEL) says
 * CKA_TRUST_SERVER_AUTH CKT_NSS_TRUSTED_DELEGATOR, unless the label is in
 * mozilla/blacklist.txt. Each is decoded with BearSSL's X.509 decoder (the
 * library that will verify against it) for its subject DN and public key.
 *
 * Runs on the build host only (linked against vendor/out/host's BearSSL);
 * never part of the binary. Exits 1 with a message on any surprise (a
 * certificate that does not decode, no roots at all), so a changed input
 * format breaks the build instead of shipping an empty table.
 */
#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJS 1024
#define MAX_LABEL 256

struct obj {
	int is_cert, is_trust, trusted;
	char label[MAX_LABEL];
	unsigned char *der;
	size_t der_len;
};

static struct obj objs[MAX_OBJS];
static size_t nobjs;

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "gen-anchors: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

/* Reads "\060\202..." lines up to END into a fresh buffer. */
static void read_octal(FILE *f, unsigned char **out, size_t *len_r)
{
	char line[4096];
	size_t cap = 4096, len = 0;
	unsigned char *b = malloc(cap);

	if (b == NULL)
		die("out of memory", NULL);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "END", 3) == 0) {
			*out = b;
			*len_r = len;
			return;
		}
		for (char *p = line; *p == '\\'; p += 4) {
			if (p[1] < '0' || p[1] > '7' || p[2] < '0' || p[2] > '7' || p[3] < '0' ||
			    p[3] > '7')
				die("bad octal escape", line);
			if (len == cap && (b = realloc(b, cap *= 2)) == NULL)
				die("out of memory", NULL);
			b[len++] = (unsigned char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
		}
	}
	die("MULTILINE_OCTAL without END", NULL);
}

static void parse_certdata(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	struct obj *o = NULL;

	if (f == NULL)
		die("cannot open", path);
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "CKA_CLASS ", 10) == 0) {
			if (nobjs == MAX_OBJS)
				die("too many objects", NULL);
			o = &objs[nobjs++];
			o->is_cert = strstr(line, "CKO_CERTIFICATE") != NULL;
			o->is_trust = strstr(line, "CKO_NSS_TRUST") != NULL;
			continue;
		}
		if (o == NULL)
			continue;
		if (strncmp(line, "CKA_LABEL UTF8 \"", 16) == 0) {
			char *end = strrchr(line + 16, '"');
			if (end == NULL || (size_t)(end - (line + 16)) >= MAX_LABEL)
				die("bad label", line);
			*end = '\0';
			memcpy(o->label, line + 16, (size_t)(end - (line + 16)) + 1);
		} else if (o->is_cert && strcmp(line, "CKA_VALUE MULTILINE_OCTAL") == 0) {
			read_octal(f, &o->der, &o->der_len);
		} else if (o->is_trust && strncmp(line, "CKA_TRUST_SERVER_AUTH ", 22) == 0) {
			o->trusted = strstr(line, "CKT_NSS_TRUSTED_DELEGATOR") != NULL;
		} else if (strstr(line, "MULTILINE_OCTAL") != NULL) {
			unsigned char *skip;
			size_t n;
			read_octal(f, &skip, &n);
			free(skip);
		}
	}
	fclose(f);
}

/* Blacklisted labels: one quoted label a line, '#' comments. */
static int blacklisted(const char *path, const char *label)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int hit = 0;

	if (f == NULL)
		die("cannot open", path);
	while (!hit && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '"')
			continue;
		char *end = strrchr(line + 1, '"');
		if (end != NULL && (size_t)(end - line - 1) == strlen(label) &&
		    memcmp(line + 1, label, strlen(label)) == 0)
			hit = 1;
	}
	fclose(f);
	return hit;
}

static int label_trusted(const char *label)
{
	for (size_t i = 0; i < nobjs; i++)
		if (objs[i].is_trust && strcmp(objs[i].label, label) == 0)
			return objs[i].trusted;
	return 0;
}

struct dnbuf {
	unsigned char b[4096];
	size_t len;
	int overflow;
};

static void dn_append(void *ctx, const void *data, size_t len)
{
	struct dnbuf *d = ctx;
	if (d->len + len > sizeof d->b) {
		d->overflow = 1;
		return;
	}
	memcpy(d->b + d->len, data, len);
	d->len += len;
}

static void put_bytes(FILE *out, const char *name, size_t i, const unsigned char *p, size_t n)
{
	fprintf(out, "static const unsigned char %s%zu[%zu] = {", name, i, n);
	for (size_t j = 0; j < n; j++)
		fprintf(out, "%s0x%02x,", j % 16 == 0 ? "\n\t" : " ", p[j]);
	fprintf(out, "\n};\n");
}

/* A label as a C string literal body: printable ASCII, others escaped. */
static void put_label(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f && c != '?')
			fputc(c, out);
		else
			fprintf(out, "\\%03o", c);
	}
	fputc('"', out);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: gen-anchors CERTDATA BLACKLIST OUT.c\n");
		return 2;
	}
	parse_certdata(argv[1]);

	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[3]);
	FILE *out = fopen(tmp, "w");
	if (out == NULL)
		die("cannot write", tmp);
	fprintf(out, "/* Generated by scripts/gen-anchors.c from Debian ca-certificates'\n"
	             " * mozilla/certdata.txt (vendor/manifest). Do not edit. */\n"
	             "#include \"net/anchors_table.h\"\n\n");

	size_t n = 0;
	char kinds[MAX_OBJS];
	const char *labels[MAX_OBJS];
	for (size_t i = 0; i < nobjs; i++) {
		struct obj *o = &objs[i];
		if (!o->is_cert || o->der == NULL || !label_trusted(o->label) ||
		    blacklisted(argv[2], o->label))
			continue;
		struct dnbuf dn = {0};
		br_x509_decoder_context dc;
		br_x509_decoder_init(&dc, dn_append, &dn);
		br_x509_decoder_push(&dc, o->der, o->der_len);
		const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
		if (pk == NULL || br_x509_decoder_last_error(&dc) != 0 || dn.overflow)
			die("certificate does not decode", o->label);
		put_bytes(out, "dn", n, dn.b, dn.len);
		if (pk->key_type == BR_KEYTYPE_RSA) {
			put_bytes(out, "rn", n, pk->key.rsa.n, pk->key.rsa.nlen);
			put_bytes(out, "re", n, pk->key.rsa.e, pk->key.rsa.elen);
			kinds[n] = 'r';
		} else if (pk->key_type == BR_KEYTYPE_EC) {
			put_bytes(out, "eq", n, pk->key.ec.q, pk->key.ec.qlen);
			fprintf(out, "#define ec_curve%zu %d\n", n, pk->key.ec.curve);
			kinds[n] = 'e';
		} else {
			die("unknown key type", o->label);
		}
		labels[n] = o->label;
		n++;
	}
	if (n < 50)
		die("fewer than 50 trusted roots: has certdata.txt changed format?", argv[1]);

	fprintf(out, "\nconst br_x509_trust_anchor anchors_builtin[%zu] = {\n", n);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "\t{{(unsigned char *)dn%zu, sizeof dn%zu}, BR_X509_TA_CA, ", i, i);
		if (kinds[i] == 'r')
			fprintf(out,
			        "{BR_KEYTYPE_RSA, {.rsa = {(unsigned char *)rn%zu, sizeof rn%zu, "
			        "(unsigned char *)re%zu, sizeof re%zu}}}},\n",
			        i, i, i, i);
		else
			fprintf(out,
			        "{BR_KEYTYPE_EC, {.ec = {ec_curve%zu, (unsigned char *)eq%zu, "
			        "sizeof eq%zu}}}},\n",
			        i, i, i);
	}
	fprintf(out, "};\n\nconst char *const anchors_builtin_label[%zu] = {\n", n);
	for (size_t i = 0; i < n; i++) {
		fputc('\t', out);
		put_label(out, labels[i]);
		fprintf(out, ",\n");
	}
	fprintf(out, "};\n\nconst size_t anchors_builtin_count = %zu;\n", n);
	if (fclose(out) != 0 || rename(tmp, argv[3]) != 0)
		die("cannot write", argv[3]);
	return 0;
}
