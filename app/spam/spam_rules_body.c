/*
 * spam_rules_body.c — content rules over the decoded text, the HTML and
 * the attachments: hidden text, image-only mail, HTML without a plain
 * part, links through shorteners or to bare addresses, executables,
 * macro documents, double extensions and archives holding executables
 * (spam_private.h). Attachment kinds are classified once, by
 * spam_attach_classify, when the view is built.
 */
#include <string.h>

#include "spam/spam_private.h"

static const char *const shorteners[] = {
    "bit.ly", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "buff.ly", "rebrand.ly",
    "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "t.ly", "s.id", "v.gd", "qr.ae", "lnkd.in",
    "bl.ink", "shorte.st", "adf.ly", "x.co", "tr.im", "snipurl.com", "shrtco.de",
};

static const char *const exec_ext[] = {
    "exe", "scr", "pif", "com", "bat", "cmd", "vbs", "vbe", "js", "jse", "wsf", "wsh", "msi",
    "hta", "cpl", "jar", "lnk", "ps1", "reg", "dll", "iso", "img", "msc", "apk", "app",
};

static const char *const macro_ext[] = {
    "docm", "dotm", "xlsm", "xltm", "xlsb", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm",
};

static const char *const doc_ext[] = {
    "pdf", "doc", "docx", "xls", "xlsx", "jpg", "jpeg", "png", "gif", "txt", "rtf", "zip", "mp3",
};

static const char *const archive_ext[] = {"zip", "jar"};

/* The extension of name after its last dot (before that, when prev). */
static struct str ext_of(struct str name, int prev)
{
	ptrdiff_t d = str_rchr(name, '.');
	if (d < 0)
		return STR_NULL;
	if (prev) {
		struct str head = str_make(name.p, (size_t)d);
		ptrdiff_t d2 = str_rchr(head, '.');
		if (d2 < 0)
			return STR_NULL;
		return str_make(head.p + d2 + 1, head.len - (size_t)d2 - 1);
	}
	return str_make(name.p + d + 1, name.len - (size_t)d - 1);
}

static int in_list(struct str e, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (str_eq_ci(e, str_c(list[i])))
			return 1;
	return 0;
}

#define IN(e, l) in_list(e, l, sizeof l / sizeof l[0])

/* A file name as Windows saves it: trailing dots and spaces dropped
 * ("invoice.exe." and "invoice.exe . " are invoice.exe, which runs). */
static struct str saved_name(struct str name)
{
	name = str_trim(name);
	while (name.len && (name.p[name.len - 1] == '.' || name.p[name.len - 1] == ' ' ||
	                    name.p[name.len - 1] == '\t'))
		name.len--;
	return name;
}

int spam_name_is_exec(struct str name)
{
	return IN(ext_of(saved_name(name), 0), exec_ext);
}

uint32_t spam_attach_classify(struct str name, struct str type)
{
	uint32_t f = 0;
	name = saved_name(name);
	struct str e = ext_of(name, 0);
	if (IN(e, exec_ext) || str_eq_ci(type, STR_LIT("application/x-msdownload")) ||
	    str_eq_ci(type, STR_LIT("application/x-dosexec")) ||
	    str_eq_ci(type, STR_LIT("application/x-msdos-program")))
		f |= SPAM_ATTACH_EXEC;
	if (IN(e, macro_ext) || str_eq_ci(type, STR_LIT("application/vnd.ms-excel.sheet.macroenabled.12")) ||
	    str_eq_ci(type, STR_LIT("application/vnd.ms-word.document.macroenabled.12")))
		f |= SPAM_ATTACH_MACRO;
	if ((f & SPAM_ATTACH_EXEC) && IN(ext_of(name, 1), doc_ext))
		f |= SPAM_ATTACH_DOUBLE_EXT;
	if (IN(e, archive_ext) || str_eq_ci(type, STR_LIT("application/zip")) ||
	    str_eq_ci(type, STR_LIT("application/x-zip-compressed")))
		f |= SPAM_ATTACH_ARCHIVE;
	return f;
}

static int is_shortener(struct str host)
{
	if (str_has_prefix_ci(host, "www."))
		host = str_make(host.p + 4, host.len - 4);
	return IN(host, shorteners);
}

void spam_rules_body(const struct spam_msg *m, struct spam_result *res)
{
	size_t visible = 0;
	for (size_t i = 0; i < m->text.len; i++)
		visible += m->text.p[i] != ' ' && m->text.p[i] != '\n';
	size_t hidden = 0;
	for (size_t i = 0; i < m->hidden.len; i++)
		hidden += m->hidden.p[i] != ' ' && m->hidden.p[i] != '\n';

	/* 0.6, not 0.3: held out on train/ it fired on 399 spam and 68
	 * ham, none of them near the tag threshold, and the doubled weight
	 * missed fewer spam with no more ham flagged (scripts/spam-cv
	 * SPAM_CV_RULES; README "Spam filter"). Kept weak: newsletters
	 * the user asked for are HTML-only too */
	if ((m->flags & SPAM_MSG_HTML) && !(m->flags & SPAM_MSG_PLAIN))
		spam_result_add(res, "HTML_ONLY", 0.6);
	if (hidden >= 20)
		spam_result_add(res, "HIDDEN_TEXT", 1.5);
	if (m->nimages > 0 && visible < 200)
		spam_result_add(res, "IMAGE_ONLY", 1.5);

	int shortener = 0, ip = 0;
	for (uint32_t i = 0; i < m->nurls; i++) {
		const struct spam_url *u = &m->urls[i];
		shortener |= is_shortener(u->host);
		ip |= (u->flags & SPAM_URL_IP) && !(u->flags & SPAM_URL_IMAGE);
	}
	if (shortener)
		spam_result_add(res, "URL_SHORTENER", 1.0);
	if (ip)
		spam_result_add(res, "URL_IP", 1.5);

	uint32_t f = 0;
	for (uint32_t i = 0; i < m->nattach; i++)
		f |= m->attach[i].flags;
	if (f & SPAM_ATTACH_EXEC)
		spam_result_add(res, "ATTACH_EXEC", 4.0);
	if (f & SPAM_ATTACH_MACRO)
		spam_result_add(res, "ATTACH_MACRO", 2.5);
	if (f & SPAM_ATTACH_DOUBLE_EXT)
		spam_result_add(res, "ATTACH_DOUBLE_EXT", 3.0);
	if (f & SPAM_ATTACH_ARCHIVE_EXEC)
		spam_result_add(res, "ATTACH_ARCHIVE_EXEC", 4.0);
}
