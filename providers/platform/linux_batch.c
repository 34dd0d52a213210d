/* The one-command observation of a Linux host's files (see linux_batch.h).
 *
 * When every file is a readable regular file (the steady state, checked with
 * the shell's own `[`), the script costs two processes, one `stat` for all
 * files and `cat` of all files, and prints:
 *
 *   S
 *   MODE UID GID SIZE USER GROUP          one line per file, in order: stat -L
 *   C                                     (MODE octal; names as GNU stat gives
 *   <every file's bytes, one after the    them, UNKNOWN when the id has none)
 *    other; SIZE says where each ends>
 *
 * Anything else (a missing file, say, on the first plan) takes the slower
 * way, two processes per file, printing per file k (once each, in any order)
 * and then END:
 *
 *   M k                                   no such file
 *   X k                                   not answered: observe it per file
 *   F k MODE UID GID SIZE USER GROUP      as above, then the content in
 *   <base64 lines, possibly empty ones>   base64; STATUS is base64's exit
 *   E k STATUS                            status
 *
 * Lines of base64 never contain a space, so a header can not be mistaken
 * for content.  The empty line before E ends whatever a failed base64 left
 * half-written.  A script that fails (stat or cat losing a race with a
 * change to the files) exits non-zero and the driver goes the per-file way. */
#include "providers/platform/linux_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "providers/base/base64.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"

static const char script_head[] =
	"set -f\n"
	"LC_ALL=C\n"
	"export LC_ALL\n"
	"o() {\n"
	"\tif s=$(stat -L -c '%a %u %g %s %U %G' -- \"$2\" 2>&1); then\n"
	"\t\tset -- \"$1\" \"$2\" $s\n"
	"\t\tif [ $# -ne 8 ] || [ \"$6\" -gt %zu ]; then\n"
	"\t\t\techo \"X $1\"\n"
	"\t\t\treturn\n"
	"\t\tfi\n"
	"\t\techo \"F $1 $3 $4 $5 $6 $7 $8\"\n"
	"\t\tbase64 -- \"$2\"\n"
	"\t\tr=$?\n"
	"\t\techo\n"
	"\t\techo \"E $1 $r\"\n"
	"\telse\n"
	"\t\tcase $s in\n"
	"\t\t*': No such file or directory') echo \"M $1\" ;;\n"
	"\t\t*) echo \"X $1\" ;;\n"
	"\t\tesac\n"
	"\tfi\n"
	"}\n";

int cs_linux_batch_script(struct cs_buf *out, const char *const *paths, size_t n, size_t max_size)
{
	/* script_head has one %zu and no other conversions, but its other
	 * percent signs are stat's: put them in by hand rather than printf. */
	const char *mark = strstr(script_head, "%zu");
	int r = cs_buf_append(out, script_head, (size_t)(mark - script_head));
	if (r == 0)
		r = cs_buf_printf(out, "%zu", max_size);
	if (r == 0)
		r = cs_buf_puts(out, mark + 3);
	char **q = cs_xcalloc(n + 1, sizeof *q);
	for (size_t k = 0; k < n; k++)
		q[k] = cs_sh_quote(paths[k]);
	/* The steady state: two processes for the whole host. */
	if (r == 0 && n > 0) {
		r = cs_buf_puts(out, "if");
		for (size_t k = 0; k < n && r == 0; k++)
			r = cs_buf_printf(out, "%s [ -f %s ] && [ -r %s ]", k ? " &&" : "", q[k], q[k]);
		if (r == 0)
			r = cs_buf_puts(out, "; then\n\techo S\n\tstat -L -c '%a %u %g %s %U %G' --");
		for (size_t k = 0; k < n && r == 0; k++)
			r = cs_buf_printf(out, " %s", q[k]);
		if (r == 0)
			r = cs_buf_puts(out, " || exit 1\n\techo C\n\texec cat --");
		for (size_t k = 0; k < n && r == 0; k++)
			r = cs_buf_printf(out, " %s", q[k]);
		if (r == 0)
			r = cs_buf_puts(out, "\nfi\n");
	}
	for (size_t k = 0; k < n && r == 0; k++)
		r = cs_buf_printf(out, "o %zu %s\n", k, q[k]);
	if (r == 0)
		r = cs_buf_puts(out, "echo END\n");
	for (size_t k = 0; k < n; k++)
		free(q[k]);
	free(q);
	return r;
}

/* ---- parsing ---- */

enum answer { NONE, MISSING, ASKED_PER_FILE, FOUND };

struct seen {
	enum answer answer;
	mode_t mode;
	unsigned long uid, gid;
	char *owner, *group;
	struct cs_buf content;
};

/* Split line into at most max words at single spaces; the number found, or
 * -1 when there are more or an empty one. */
static int split(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		char *sp = strchr(p, ' ');
		if (n == max || p == sp || !*p)
			return -1;
		words[n++] = p;
		if (!sp)
			return n;
		*sp = '\0';
		p = sp + 1;
	}
}

static bool parse_num(const char *s, int base, unsigned long max, unsigned long *out)
{
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_index(const char *s, size_t n, size_t *out)
{
	unsigned long v;
	if (!parse_num(s, 10, (unsigned long)-1, &v) || v >= n)
		return false;
	*out = (size_t)v;
	return true;
}

/* A name as stat gives it; an id without a name stays a number, as the
 * SFTP way and `ls -l` show it. */
static char *stat_name(const char *name, unsigned long id)
{
	return strcmp(name, "UNKNOWN") ? cs_xstrdup(name) : cs_xasprintf("%lu", id);
}

static void seen_free(struct seen *s)
{
	free(s->owner);
	free(s->group);
	cs_buf_free_secret(&s->content);
}

/* "MODE UID GID SIZE USER GROUP" (words[0..6)) into s; false when any
 * field is malformed. */
static bool parse_stat(struct seen *s, char **words, unsigned long *size)
{
	unsigned long mode, uid, gid;
	if (!parse_num(words[0], 8, 07777, &mode) || !parse_num(words[1], 10, UINT32_MAX, &uid) ||
	    !parse_num(words[2], 10, UINT32_MAX, &gid) || !parse_num(words[3], 10, (unsigned long)-1, size))
		return false;
	s->mode = (mode_t)mode;
	s->uid = uid;
	s->gid = gid;
	s->owner = stat_name(words[4], uid);
	s->group = stat_name(words[5], gid);
	return true;
}

/* The steady-state output: "S", one stat line per file, "C", the bytes. */
static int parse_fast(struct seen *seen, size_t n, const char *text, size_t len)
{
	const char *p = text + 2, *end = text + len;
	unsigned long *sizes = cs_xcalloc(n + 1, sizeof *sizes);
	unsigned long total = 0;
	int r = -EPROTO;
	for (size_t k = 0; k < n; k++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || memchr(p, '\0', (size_t)(nl - p)))
			goto out;
		char *line = cs_xasprintf("%.*s", (int)(nl - p), p);
		char *words[7];
		bool ok = split(line, words, 7) == 6 && parse_stat(&seen[k], words, &sizes[k]) &&
			  total + sizes[k] >= total;
		free(line);
		if (!ok)
			goto out;
		total += sizes[k];
		p = nl + 1;
	}
	if (end - p < 2 || memcmp(p, "C\n", 2) != 0)
		goto out;
	p += 2;
	/* Exactly the bytes stat promised, or a file changed in between. */
	if ((unsigned long)(end - p) != total)
		goto out;
	for (size_t k = 0; k < n; k++) {
		/* Too large: the per-file way says so in its words. */
		seen[k].answer = FOUND;
		if (sizes[k] > seen[k].content.max || cs_buf_append(&seen[k].content, p, sizes[k]) < 0 ||
		    cs_buf_append(&seen[k].content, "", 0) < 0)
			seen[k].answer = ASKED_PER_FILE;
		p += sizes[k];
	}
	r = 0;
out:
	free(sizes);
	return r;
}

/* The per-file output: M, X, F ... E records, then END. */
static int parse_lines(struct seen *seen, size_t n, const char *text, size_t len, size_t max_size)
{
	struct cs_buf b64 = CS_BUF_INIT;  /* the current file's base64 text */
	char *copy = cs_xmalloc(len + 1); /* split in place */
	memcpy(copy, text, len);
	copy[len] = '\0';
	int r = -EPROTO;
	bool ended = false;
	struct seen *cur = NULL;          /* inside F ... E */
	size_t cur_k = 0;
	bool too_big = false;             /* cur's base64 went past the cap */
	char *line = copy, *words[8];
	if (len == 0 || copy[len - 1] != '\n' || memchr(text, '\0', len))
		goto out;
	while (*line) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		char *next = nl + 1;
		if (ended)
			goto out; /* nothing may follow END */
		if (cur) {
			size_t k;
			if (line[0] == 'E' && line[1] == ' ') {
				unsigned long status;
				if (split(line, words, 3) != 3 || !parse_index(words[1], n, &k) ||
				    k != cur_k || !parse_num(words[2], 10, 255, &status))
					goto out;
				/* Failed, unreadable, grown past the cap: per file. */
				/* `base64` writes padding and nothing else (the lines
				 * were joined without their ends); an empty file still
				 * gets content "" rather than none. */
				if (status != 0 || too_big ||
				    cs_b64_decode(&cur->content, b64.data ? b64.data : "", b64.len, 0) < 0 ||
				    cs_buf_append(&cur->content, "", 0) < 0) {
					cur->answer = ASKED_PER_FILE;
					cs_buf_reset(&cur->content);
				}
				cs_buf_free_secret(&b64);
				cur = NULL;
			} else if (strchr(line, ' ')) {
				goto out;
			} else if (!too_big && cs_buf_append(&b64, line, (size_t)(nl - line)) < 0) {
				too_big = true; /* it grew since stat: the per-file way says so */
				cs_buf_free_secret(&b64);
			}
			line = next;
			continue;
		}
		if (!strcmp(line, "END")) {
			ended = true;
			line = next;
			continue;
		}
		int nw = split(line, words, 8);
		size_t k;
		unsigned long size;
		if (nw < 2 || strlen(words[0]) != 1 || !parse_index(words[1], n, &k) || seen[k].answer != NONE)
			goto out;
		switch (words[0][0]) {
		case 'M':
			if (nw != 2)
				goto out;
			seen[k].answer = MISSING;
			break;
		case 'X':
			if (nw != 2)
				goto out;
			seen[k].answer = ASKED_PER_FILE;
			break;
		case 'F':
			if (nw != 8 || !parse_stat(&seen[k], words + 2, &size))
				goto out;
			seen[k].answer = FOUND;
			cur = &seen[k];
			cur_k = k;
			too_big = false;
			/* base64 of at most max_size bytes, 76 to a line */
			cs_buf_init(&b64, (max_size / 3 + 1) * 4 + max_size / 57 + 16);
			break;
		default:
			goto out;
		}
		line = next;
	}
	if (!ended || cur)
		goto out;
	for (size_t k = 0; k < n; k++)
		if (seen[k].answer == NONE)
			goto out;
	r = 0;
out:
	cs_buf_free_secret(&b64);
	OPENSSL_cleanse(copy, len);
	free(copy);
	return r;
}

int cs_linux_batch_parse(struct cs_file_obs *files, bool *got, size_t n, const char *text,
			 size_t len, size_t max_size)
{
	struct seen *seen = cs_xcalloc(n ? n : 1, sizeof *seen);
	for (size_t k = 0; k < n; k++)
		cs_buf_init(&seen[k].content, max_size);
	int r = len >= 2 && !memcmp(text, "S\n", 2) ? parse_fast(seen, n, text, len) :
						      parse_lines(seen, n, text, len, max_size);
	/* Complete and well formed: hand the answers over. */
	for (size_t k = 0; r == 0 && k < n; k++) {
		struct seen *s = &seen[k];
		struct cs_file_obs *fo = &files[k];
		got[k] = s->answer == MISSING || s->answer == FOUND;
		if (s->answer != FOUND)
			continue;
		fo->exists = true;
		fo->mode = s->mode;
		fo->uid = (uid_t)s->uid;
		fo->gid = (gid_t)s->gid;
		fo->owner = s->owner;
		fo->group = s->group;
		s->owner = s->group = NULL;
		struct cs_buf empty = fo->content;
		fo->content = s->content;
		s->content = empty;
		cs_sha256_hex(fo->sha256, fo->content.data, fo->content.len);
	}
	for (size_t k = 0; k < n; k++)
		seen_free(&seen[k]);
	free(seen);
	return r;
}

/* ---- who ---- */

static const char who_head[] =
	"set -f\n"
	"LC_ALL=C\n"
	"export LC_ALL\n"
	"printf 'I %s\\n' \"$(id)\"\n"
	"d() {\n"
	"\tif [ -d \"$2\" ] && s=$(stat -L -c '%a %u %g %G' -- \"$2\" 2>/dev/null); then\n"
	"\t\tw=0\n"
	"\t\t[ -w \"$2\" ] && [ -x \"$2\" ] && w=1\n"
	"\t\tprintf 'D %s %s %s\\n' \"$1\" \"$w\" \"$s\"\n"
	"\telse\n"
	"\t\tprintf 'D %s -\\n' \"$1\"\n"
	"\tfi\n"
	"}\n";

int cs_linux_who_script(struct cs_buf *out, const char *const *dirs, size_t n)
{
	int r = cs_buf_puts(out, who_head);
	for (size_t k = 0; k < n && r == 0; k++) {
		char *q = cs_sh_quote(dirs[k]);
		r = cs_buf_printf(out, "d %zu %s\n", k, q);
		free(q);
	}
	if (r == 0)
		r = cs_buf_puts(out, "echo .\n");
	return r;
}

/* The steady state of cs_linux_observe_script: g K PATH LINE adds folder
 * K's "D" line to $t from LINE, its line of the shared stat
 * ("MODE UID GID SIZE USER GROUP"); status 1 when LINE does not split into
 * those six words (a name with a space: the per-folder way says it). */
static const char observe_head[] =
	"nl='\n'\n"
	"g() {\n"
	"\tw=0\n"
	"\t[ -w \"$2\" ] && [ -x \"$2\" ] && w=1\n"
	"\tset -- \"$1\" \"$w\" $3\n"
	"\t[ $# -eq 8 ] || return 1\n"
	"\tt=\"${t}D $1 $2 $3 $4 $5 $8$nl\"\n"
	"}\n";

static int observe_fast(struct cs_buf *out, char **qd, size_t n_dirs, char **qp, size_t n_paths)
{
	int r = cs_buf_puts(out, observe_head);
	if (r == 0)
		r = cs_buf_puts(out, "t=\nif");
	for (size_t k = 0; k < n_dirs && r == 0; k++)
		r = cs_buf_printf(out, " [ -d %s ] &&", qd[k]);
	for (size_t k = 0; k < n_paths && r == 0; k++)
		r = cs_buf_printf(out, " [ -f %s ] && [ -r %s ] &&", qp[k], qp[k]);
	if (r == 0)
		r = cs_buf_puts(out, "\n\ts=$(stat -L -c '%a %u %g %s %U %G' --");
	for (size_t k = 0; k < n_dirs && r == 0; k++)
		r = cs_buf_printf(out, " %s", qd[k]);
	for (size_t k = 0; k < n_paths && r == 0; k++)
		r = cs_buf_printf(out, " %s", qp[k]);
	if (r == 0)
		r = cs_buf_printf(out, " 2>/dev/null); then\n\tIFS=$nl\n\tset -- $s\n\tunset IFS\n"
				  "\tif [ $# -eq %zu ]", n_dirs + n_paths);
	for (size_t k = 0; k < n_dirs && r == 0; k++)
		r = cs_buf_printf(out, " && g %zu %s \"${%zu}\"", k, qd[k], k + 1);
	if (r == 0)
		r = cs_buf_printf(out, "; then\n\t\tprintf '%%s' \"$t\"\n\t\techo .\n\t\tshift %zu\n"
				  "\t\techo S\n\t\tprintf '%%s\\n' \"$@\"\n\t\techo C\n\t\texec cat --",
				  n_dirs);
	for (size_t k = 0; k < n_paths && r == 0; k++)
		r = cs_buf_printf(out, " %s", qp[k]);
	if (r == 0)
		r = cs_buf_puts(out, "\n\tfi\nfi\n");
	return r;
}

int cs_linux_observe_script(struct cs_buf *out, const char *const *dirs, size_t n_dirs,
			    const char *const *paths, size_t n_paths, size_t max_size)
{
	if (n_dirs == 0 || n_paths == 0) {
		int r = cs_linux_who_script(out, dirs, n_dirs);
		return r ? r : cs_linux_batch_script(out, paths, n_paths, max_size);
	}
	/* The who script prints its "I" line first, then the steady state
	 * (which ends in exec), then the folders and files the two scripts'
	 * way. */
	struct cs_buf who = CS_BUF_INIT;
	int r = cs_linux_who_script(&who, dirs, n_dirs);
	const char *defs_end = r == 0 ? strstr(who.data, "d() {") : NULL;
	const char *body = defs_end ? strstr(defs_end, "\n}\n") : NULL;
	if (!body) {
		cs_buf_free(&who);
		return r ? r : -EINVAL;
	}
	body += 3;
	r = cs_buf_append(out, who.data, (size_t)(body - who.data));
	char **qd = cs_xcalloc(n_dirs, sizeof *qd), **qp = cs_xcalloc(n_paths, sizeof *qp);
	for (size_t k = 0; k < n_dirs; k++)
		qd[k] = cs_sh_quote(dirs[k]);
	for (size_t k = 0; k < n_paths; k++)
		qp[k] = cs_sh_quote(paths[k]);
	if (r == 0)
		r = observe_fast(out, qd, n_dirs, qp, n_paths);
	if (r == 0)
		r = cs_buf_append(out, body, who.len - (size_t)(body - who.data));
	if (r == 0)
		r = cs_linux_batch_script(out, paths, n_paths, max_size);
	for (size_t k = 0; k < n_dirs; k++)
		free(qd[k]);
	for (size_t k = 0; k < n_paths; k++)
		free(qp[k]);
	free(qd);
	free(qp);
	cs_buf_free(&who);
	return r;
}

void cs_linux_who_free(struct cs_linux_who *w)
{
	if (!w)
		return;
	free(w->user);
	free(w->group);
	free(w->gids);
	cs_strv_free(w->group_names, w->n_groups);
	for (size_t k = 0; k < w->n_dirs; k++)
		free(w->dirs[k].group);
	free(w->dirs);
	memset(w, 0, sizeof *w);
}

bool cs_linux_who_in_group(const struct cs_linux_who *w, unsigned long gid)
{
	if (gid == w->gid)
		return true;
	for (size_t i = 0; i < w->n_groups; i++)
		if (w->gids[i] == gid)
			return true;
	return false;
}

/* One "ID" or "ID(NAME)" of id's output at *p, moving *p past it; a name
 * ends at the first ')'.  name NULL: the id has none. */
static bool id_entry(const char **p, unsigned long *id, char **name)
{
	const char *s = *p;
	size_t digits = strspn(s, "0123456789");
	char *num = cs_xasprintf("%.*s", (int)digits, s);
	bool ok = parse_num(num, 10, UINT32_MAX, id);
	free(num);
	if (!ok)
		return false;
	s += digits;
	*name = NULL;
	if (*s == '(') {
		const char *close = strchr(s, ')');
		if (!close || close == s + 1)
			return false;
		*name = cs_xasprintf("%.*s", (int)(close - s - 1), s + 1);
		s = close + 1;
	}
	*p = s;
	return true;
}

/* id's "uid=N(NAME) gid=N(NAME) groups=N(NAME),N(NAME)..." (anything after
 * a space that follows, SELinux's context=, ignored). */
static bool parse_id(struct cs_linux_who *w, const char *s)
{
	char *name = NULL;
	if (strncmp(s, "uid=", 4) != 0)
		return false;
	s += 4;
	if (!id_entry(&s, &w->uid, &name))
		return false;
	w->user = name ? name : cs_xasprintf("%lu", w->uid);
	if (strncmp(s, " gid=", 5) != 0)
		return false;
	s += 5;
	if (!id_entry(&s, &w->gid, &name))
		return false;
	w->group = name ? name : cs_xasprintf("%lu", w->gid);
	if (strncmp(s, " groups=", 8) != 0)
		return false;
	s += 8;
	for (;;) {
		unsigned long gid;
		if (!id_entry(&s, &gid, &name))
			return false;
		w->gids = cs_xrealloc(w->gids, (w->n_groups + 1) * sizeof *w->gids);
		w->group_names = cs_xrealloc(w->group_names, (w->n_groups + 1) * sizeof *w->group_names);
		w->gids[w->n_groups] = gid;
		w->group_names[w->n_groups++] = name;
		if (*s != ',')
			break;
		s++;
	}
	return *s == '\0' || *s == ' ';
}

/* "D k W MODE UID GID GROUP..." or "D k -" (after "D "). */
static bool parse_dir(struct cs_linux_who *w, char *rest, bool *seen_k)
{
	char *words[5];
	int nw = 0;
	char *p = rest, *group = NULL;
	/* The group name is the rest of the line: it may hold spaces. */
	while (nw < 5) {
		char *sp = strchr(p, ' ');
		words[nw++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
		if (nw == 5)
			group = p;
	}
	size_t k;
	if (nw < 2 || !parse_index(words[0], w->n_dirs, &k) || seen_k[k])
		return false;
	seen_k[k] = true;
	struct cs_linux_dir *d = &w->dirs[k];
	if (nw == 2 && !strcmp(words[1], "-"))
		return true;
	unsigned long mode;
	if (nw != 5 || !group || !*group || (strcmp(words[1], "0") && strcmp(words[1], "1")) ||
	    !parse_num(words[2], 8, 07777, &mode) || !parse_num(words[3], 10, UINT32_MAX, &d->uid) ||
	    !parse_num(words[4], 10, UINT32_MAX, &d->gid))
		return false;
	d->seen = true;
	d->writable = words[1][0] == '1';
	d->mode = (mode_t)mode;
	d->group = stat_name(group, d->gid);
	return true;
}

int cs_linux_who_parse(struct cs_linux_who *out, const char *const *dirs, size_t n, const char *text,
		       size_t len, size_t *used)
{
	memset(out, 0, sizeof *out);
	out->dirs = cs_xcalloc(n + 1, sizeof *out->dirs);
	out->n_dirs = n;
	for (size_t k = 0; k < n; k++)
		out->dirs[k].path = dirs[k];
	bool *seen_k = cs_xcalloc(n + 1, sizeof *seen_k);
	bool have_id = false, bad = false;
	int r = -EPROTO;
	const char *p = text, *end = text + len;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || memchr(p, '\0', (size_t)(nl - p)) || nl - p < 1)
			goto out;
		char *line = cs_xasprintf("%.*s", (int)(nl - p), p);
		p = nl + 1;
		if (!strcmp(line, ".")) {
			free(line);
			break;
		}
		bool ok;
		if (strlen(line) < 2 || line[1] != ' ')
			ok = false;
		else if (line[0] == 'I' && !have_id)
			ok = have_id = parse_id(out, line + 2);
		else if (line[0] == 'D')
			ok = parse_dir(out, line + 2, seen_k);
		else
			ok = false;
		free(line);
		bad = bad || !ok;
	}
	/* Where the files' part starts is known even when this part is bad. */
	*used = (size_t)(p - text);
	if (bad || !have_id)
		goto out;
	for (size_t k = 0; k < n; k++)
		if (!seen_k[k])
			goto out;
	r = 0;
out:
	free(seen_k);
	if (r < 0)
		cs_linux_who_free(out);
	return r;
}
