/*
 * runbook_priv.h: the model's private interface between its files, in the order they build on
 * each other: the shared checking helpers (rbx.h), then what each site file's parser hands the
 * set (site.c, inventory.c, calendar_file.c, runbook.c), used by set.c; then what set.c offers
 * the fuzz target. A file here never calls one above it: runbook, site, inventory and
 * calendar_file know nothing of the set.
 */
#ifndef YB_RUNBOOK_PRIV_H
#define YB_RUNBOOK_PRIV_H

#include "rbx.h"
#include "runbook.h"

/* runbook.c: parse one runbook and hand back its tree for the cross-file checks. */
int rb_runbook_parse_tree(const char *display_name, const char *data, size_t len,
			  struct rb_runbook **out, struct yn_node **tree, struct rb_diags *diags);

/* site.c: the built-in defaults for a yoban.yaml in dir (NULL: no site file); the site read
 * from path (or from data when given, len bytes) over its defaults; freeing the fields. */
void rb_site_defaults(struct rb_site *s, const char *dir);
void rb_site_read(const char *path, const char *data, size_t len, struct rb_site *s,
		  struct rb_diags *d);
void rb_site_release(struct rb_site *s);

/* secrets.c: a secret path as written in a runbook -> the absolute path inside the site's
 * secrets folder (relative paths are relative to it; '..' and paths outside it are refused);
 * and the file's check at load (rb_secret_read, the content thrown away). A file this user cannot
 * see (it does not exist, or permission is denied) cannot be checked here: *unverifiable is set
 * and 0 returned; yoband checks it again when it reads it. */
int rb_secret_resolve(const struct rb_site *site, const char *written, char **out,
		      struct yb_err *err);
int rb_secret_check(const struct rb_site *site, const char *path, bool *unverifiable,
		    struct yb_err *err);

/* inventory.c: the hosts of one inventory file added to inv (a host defined twice is an error);
 * the host of that name; freeing. */
void rb_inventory_read(struct rb_inventory *inv, const char *path, const char *data, size_t len,
		       struct rb_diags *d);
const struct rb_host *rb_inventory_host(const struct rb_inventory *inv, const char *name);
void rb_inventory_release(struct rb_inventory *inv);

/* calendar_file.c: one site calendar (calendars/NAME.yaml) appended to *cals (a name already
 * there or built in is an error). */
void rb_calendar_read(struct calendar **cals, size_t *n_cals, const char *path, const char *data,
		      size_t len, struct rb_diags *d);

/* set.c: one site file from memory, checked and thrown away (for the fuzz target). */
enum rb_site_file { RB_FILE_SITE = 0, RB_FILE_INVENTORY, RB_FILE_CALENDAR };
int rb_site_file_parse(enum rb_site_file which, const char *display_name, const char *data,
		       size_t len, struct rb_diags *diags);

#endif
