/* SPDX-License-Identifier: MIT */
/* pam_ecfs.c - the PAM entry points of pam_ecfs.so, a drop-in for the
 * pam_ecryptfs lines of /etc/pam.d/common-{auth,session,password}: the
 * login password unwraps ~/.ecryptfs/wrapped-passphrase and the user's
 * encrypted directory is mounted through the ecfs FUSE daemon, with no
 * eCryptfs kernel module and no kernel keyring.  pam_ecfs(8) is the manual.
 *
 *   auth      keep the login password (PAM_AUTHTOK) as pam data for the
 *             session step: locked memory, wiped when PAM frees it or once
 *             the session has used it.  Never authenticates anybody: it
 *             always answers PAM_IGNORE.
 *   session   open: mount at Private.mnt when auto-mount is there or the
 *             home is the encrypted one, count the session; close: on the
 *             last session, unmount when auto-umount is there.
 *   password  rewrap wrapped-passphrase with the new password.
 *
 * Whatever goes wrong, the login goes on: a wrong password, a damaged
 * file, a failed mount give one syslog line (pam_syslog) and PAM_IGNORE.
 * Accounts without ~/.ecryptfs are left alone: no data, no log, no child.
 */
#define PAM_SM_AUTH
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD

#include "pam-ecfs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "ob/secmem.h"

#define DATA_LOGIN	"ecfs:login"		/* struct secret, from auth */
#define DATA_OLD	"ecfs:oldauthtok"	/* struct secret, from chauthtok */
#define DATA_SESSION	"ecfs:session"		/* session record name */

/* A password kept between PAM calls, and whose it is: sudo authenticates
 * the invoking user, then opens the session of the target user. */
struct secret {
	char user[256];
	size_t len;
	char pw[];
};

static void parse_opts(pam_handle_t *pamh, int argc, const char **argv,
		       struct pe_opts *o)
{
	o->ecfs = PE_ECFS_PROG;
	o->state = PE_STATE_DIR;
	o->debug = false;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "unwrap"))
			;	/* pam_ecryptfs's option: unwrapping is what we always do */
		else if (!strncmp(argv[i], "ecfs=", 5) && argv[i][5] == '/')
			o->ecfs = argv[i] + 5;
		else if (!strncmp(argv[i], "state=", 6) && argv[i][6] == '/')
			o->state = argv[i] + 6;
		else if (!strcmp(argv[i], "debug"))
			o->debug = true;
		else
			pam_syslog(pamh, LOG_WARNING, "unknown option '%s' ignored", argv[i]);
	}
}

static int get_user(pam_handle_t *pamh, struct pe_user *u)
{
	struct passwd pw, *res = NULL;
	const char *name = NULL;
	char buf[16384];

	if (pam_get_user(pamh, &name, NULL) != PAM_SUCCESS || !name)
		return -ENOENT;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) || !res)
		return -ENOENT;
	if (strlen(pw.pw_name) >= sizeof(u->name) || strlen(pw.pw_dir) >= sizeof(u->home) ||
	    pw.pw_dir[0] != '/')
		return -ENAMETOOLONG;
	strcpy(u->name, pw.pw_name);
	strcpy(u->home, pw.pw_dir);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	u->ngroups = PE_MAX_GROUPS;
	/* More groups than that: the daemon gets the first PE_MAX_GROUPS. */
	if (getgrouplist(u->name, u->gid, u->groups, &u->ngroups) < 0)
		u->ngroups = PE_MAX_GROUPS;
	return 0;
}

/* The user of this call, when it has eCryptfs files; otherwise the
 * account is none of our business. */
static bool our_user(pam_handle_t *pamh, struct pe_user *u)
{
	return get_user(pamh, u) == 0 && pe_has_ecryptfs(u);
}

static void free_secret(pam_handle_t *pamh, void *data, int status)
{
	ob_secure_free(data);		/* wipes */
}

static void free_plain(pam_handle_t *pamh, void *data, int status)
{
	free(data);
}

static int keep_secret(pam_handle_t *pamh, const char *key, const char *user,
		       const char *pw)
{
	size_t len = strlen(pw);
	struct secret *s = ob_secure_alloc(sizeof(*s) + len + 1);

	if (!s)
		return PAM_BUF_ERR;
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->len = len;
	memcpy(s->pw, pw, len + 1);
	if (pam_set_data(pamh, key, s, free_secret) != PAM_SUCCESS) {
		ob_secure_free(s);
		return PAM_BUF_ERR;
	}
	return PAM_SUCCESS;
}

/* The kept password of user, or NULL. */
static const struct secret *kept_secret(pam_handle_t *pamh, const char *key,
					const char *user)
{
	const void *data = NULL;
	const struct secret *s;

	if (pam_get_data(pamh, key, &data) != PAM_SUCCESS || !data)
		return NULL;
	s = data;
	return strcmp(s->user, user) ? NULL : s;
}

/* Replacing the data with NULL runs free_secret, which wipes it. */
static void drop_secret(pam_handle_t *pamh, const char *key)
{
	pam_set_data(pamh, key, NULL, NULL);
}

/* Only root can act for another user; a user's own process can act for
 * that user (e.g. a screen locker's session). */
static bool can_act_for(pam_handle_t *pamh, const struct pe_user *u)
{
	if (geteuid() == 0 || geteuid() == u->uid)
		return true;
	pam_syslog(pamh, LOG_ERR, "running as uid %u, cannot act for %s",
		   (unsigned)geteuid(), u->name);
	return false;
}

/* ------------------------------------------------------------------- auth */

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	const void *tok = NULL;
	struct pe_user u;
	struct pe_opts o;

	parse_opts(pamh, argc, argv, &o);
	if (!our_user(pamh, &u))
		return PAM_IGNORE;
	if (pam_get_item(pamh, PAM_AUTHTOK, &tok) != PAM_SUCCESS || !tok || !*(const char *)tok) {
		if (o.debug)
			pam_syslog(pamh, LOG_DEBUG, "no password to keep for %s", u.name);
		return PAM_IGNORE;
	}
	if (keep_secret(pamh, DATA_LOGIN, u.name, tok) != PAM_SUCCESS)
		pam_syslog(pamh, LOG_ERR, "out of locked memory; %s will not be mounted", u.name);
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

/* ---------------------------------------------------------------- session */

static void log_result(pam_handle_t *pamh, const struct pe_opts *o, int rc,
		       const char *msg)
{
	if (!msg[0] && rc == PE_FAILED)
		msg = "failed, no reason given";
	if (!msg[0])
		return;
	if (rc == PE_FAILED)
		pam_syslog(pamh, LOG_ERR, "%s", msg);
	else if (rc == PE_NOT_WANTED)
		pam_syslog(pamh, o->debug ? LOG_DEBUG : LOG_NOTICE, "%s", msg);
	else
		pam_syslog(pamh, LOG_INFO, "%s", msg);
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	const struct secret *login;
	struct pe_sessions s = { .lock_fd = -1 };
	struct pe_user u;
	struct pe_opts o;
	char msg[PE_MSG], id[64], *keep;
	int rc, counted;

	parse_opts(pamh, argc, argv, &o);
	if (!our_user(pamh, &u) || !can_act_for(pamh, &u))
		return PAM_IGNORE;
	/* Without root there is no /run/ecfs-pam: mount, but never count. */
	counted = geteuid() == 0 ? pe_sessions_lock(&s, o.state, u.uid) : -EPERM;
	if (counted < 0 && geteuid() == 0)
		pam_syslog(pamh, LOG_ERR, "%s/%u: %s; sessions of %s are not counted",
			   o.state, (unsigned)u.uid, strerror(-counted), u.name);
	login = kept_secret(pamh, DATA_LOGIN, u.name);
	rc = pe_mount_as_user(&u, &o, login ? login->pw : NULL, login ? login->len : 0,
			      msg, sizeof(msg));
	drop_secret(pamh, DATA_LOGIN);
	log_result(pamh, &o, rc, msg);
	if ((rc == PE_MOUNTED || rc == PE_ALREADY) && counted == 0 &&
	    pe_sessions_add(&s, id, sizeof(id)) == 0) {
		keep = strdup(id);
		if (keep && pam_set_data(pamh, DATA_SESSION, keep, free_plain) != PAM_SUCCESS)
			free(keep);
	}
	pe_sessions_unlock(&s);
	return rc == PE_MOUNTED || rc == PE_ALREADY ? PAM_SUCCESS : PAM_IGNORE;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
				    const char **argv)
{
	struct pe_sessions s = { .lock_fd = -1 };
	const void *id = NULL;
	struct pe_user u;
	struct pe_opts o;
	char msg[PE_MSG];
	int rc, live;

	parse_opts(pamh, argc, argv, &o);
	if (!our_user(pamh, &u) || geteuid() != 0)
		return PAM_IGNORE;
	/* Only a session that mounted or counted itself may unmount. */
	if (pam_get_data(pamh, DATA_SESSION, &id) != PAM_SUCCESS || !id)
		return PAM_IGNORE;
	if (pe_sessions_lock(&s, o.state, u.uid))
		return PAM_IGNORE;
	pe_sessions_remove(&s, id);
	pam_set_data(pamh, DATA_SESSION, NULL, NULL);
	live = pe_sessions_count(&s);
	if (live == 0) {
		rc = pe_umount_as_user(&u, msg, sizeof(msg));
		log_result(pamh, &o, rc == PE_NOT_WANTED ? PE_ALREADY : rc, rc == PE_NOT_WANTED ? "" : msg);
	} else if (o.debug) {
		pam_syslog(pamh, LOG_DEBUG, "%s has %d other session(s); stays mounted",
			   u.name, live);
	}
	pe_sessions_unlock(&s);
	return PAM_SUCCESS;
}

/* --------------------------------------------------------------- password */

/* Root changing another user's password (passwd USER) knows no old
 * password; without it the file cannot be rewrapped, so ask once. */
static void prelim_old_password(pam_handle_t *pamh, const struct pe_user *u)
{
	const void *old = NULL;
	char *answer = NULL;

	if (pam_get_item(pamh, PAM_OLDAUTHTOK, &old) == PAM_SUCCESS && old)
		return;
	if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer,
		       "Current login password of %s (for ~/.ecryptfs/wrapped-passphrase): ",
		       u->name) != PAM_SUCCESS || !answer || !*answer) {
		pam_syslog(pamh, LOG_NOTICE, "no old password for %s; wrapped-passphrase will "
			   "not be rewrapped", u->name);
	} else if (keep_secret(pamh, DATA_OLD, u->name, answer) != PAM_SUCCESS) {
		pam_syslog(pamh, LOG_ERR, "out of locked memory");
	}
	if (answer) {
		ob_wipe(answer, strlen(answer));
		free(answer);
	}
}

PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc,
				const char **argv)
{
	const void *old = NULL, *nw = NULL;
	const struct secret *asked;
	struct pe_user u;
	struct pe_opts o;
	char msg[PE_MSG];
	int rc;

	parse_opts(pamh, argc, argv, &o);
	if (!our_user(pamh, &u) || !can_act_for(pamh, &u))
		return PAM_IGNORE;
	if (flags & PAM_PRELIM_CHECK) {
		prelim_old_password(pamh, &u);
		return PAM_IGNORE;
	}
	if (!(flags & PAM_UPDATE_AUTHTOK))
		return PAM_IGNORE;
	pam_get_item(pamh, PAM_OLDAUTHTOK, &old);
	asked = kept_secret(pamh, DATA_OLD, u.name);
	if (!old && asked)
		old = asked->pw;
	pam_get_item(pamh, PAM_AUTHTOK, &nw);
	if (!old || !nw || !*(const char *)nw) {
		/* No old password: the preliminary pass has said so already. */
		if (old)
			pam_syslog(pamh, LOG_NOTICE, "new password of %s unknown (is pam_ecfs "
				   "after pam_unix?); wrapped-passphrase not rewrapped", u.name);
		drop_secret(pamh, DATA_OLD);
		return PAM_IGNORE;
	}
	rc = pe_rewrap_as_user(&u, old, strlen(old), nw, strlen(nw), msg, sizeof(msg));
	drop_secret(pamh, DATA_OLD);
	log_result(pamh, &o, rc, msg);
	return rc == PE_REWRAPPED ? PAM_SUCCESS : PAM_IGNORE;
}
