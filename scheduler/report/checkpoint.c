/*
 * checkpoint.c: signed heads of the evidence chain: the signed text, the file, the keys (formats
 * in checkpoint.h).
 *
 * The one idea: a checkpoint is worth only as much as its key is kept away from the database
 * host. The database can be rewritten by whoever owns it, hashes and all; a signature made with a
 * key it never saw cannot. So nothing here touches the database: `yoban checkpoint` reads the head,
 * signs it here, and only the public key and the signature go back.
 */
#include "checkpoint.h"

#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT_FILE_MAX (64 * 1024)

bool yb_unhex_n(const char *text, size_t n, unsigned char *out)
{
	if (!text || strlen(text) != 2 * n)
		return false;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = text[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return false;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(d << 4);
		else
			out[i / 2] |= (unsigned char)d;
	}
	return true;
}

char *yb_checkpoint_message(const struct yb_checkpoint *cp)
{
	return xasprintf(YB_CHECKPOINT_FORMAT "\nsite %s\nseq %lld\nhash %s\nsigned_at %s\n", cp->site,
			 (long long)cp->seq, cp->hash, cp->signed_at);
}

void yb_checkpoint_sign(struct yb_checkpoint *cp, const unsigned char sk[YB_SIGN_SECRET_LEN])
{
	unsigned char pk[YB_SIGN_PUBLIC_LEN], sig[YB_SIGN_LEN];
	char *msg = yb_checkpoint_message(cp);

	yb_sign_public(sk, pk);
	yb_sign(sig, msg, strlen(msg), sk);
	yb_hex(pk, sizeof pk, cp->public_key);
	yb_hex(sig, sizeof sig, cp->signature);
	free(msg);
}

int yb_checkpoint_check(const struct yb_checkpoint *cp,
			const unsigned char pinned[YB_SIGN_PUBLIC_LEN], struct yb_err *err)
{
	unsigned char pk[YB_SIGN_PUBLIC_LEN], sig[YB_SIGN_LEN];
	int rc = 0;
	char *msg = NULL;

	if (!yb_unhex_n(cp->public_key, sizeof pk, pk) || !yb_unhex_n(cp->signature, sizeof sig, sig))
		return yb_err_set(err, YB_EINVAL, "the checkpoint's public_key or signature is not hex");
	if (pinned && memcmp(pk, pinned, sizeof pk) != 0) {
		char want[2 * YB_SIGN_PUBLIC_LEN + 1];
		yb_hex(pinned, YB_SIGN_PUBLIC_LEN, want);
		return yb_err_set(err, YB_EPERM,
				  "the checkpoint was signed with key %s, not with the pinned key %s",
				  cp->public_key, want);
	}
	msg = yb_checkpoint_message(cp);
	if (!yb_sign_verify(sig, msg, strlen(msg), pk))
		rc = yb_err_set(err, YB_EPERM,
				"the checkpoint's signature does not match its contents (seq %lld, hash "
				"%s): the file was altered or not signed by key %s",
				(long long)cp->seq, cp->hash, cp->public_key);
	free(msg);
	return rc;
}

char *yb_checkpoint_json(const struct yb_checkpoint *cp)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "format", yb_json_str(YB_CHECKPOINT_FORMAT));
	yb_json_set(o, "site", yb_json_str(cp->site));
	yb_json_set(o, "seq", yb_json_int(cp->seq));
	yb_json_set(o, "hash", yb_json_str(cp->hash));
	yb_json_set(o, "signed_at", yb_json_str(cp->signed_at));
	yb_json_set(o, "public_key", yb_json_str(cp->public_key));
	yb_json_set(o, "signature", yb_json_str(cp->signature));
	char *text = yb_json_dump(o, YB_JSON_PRETTY);
	yb_json_free(o);
	char *out = xasprintf("%s\n", text);
	free(text);
	return out;
}

static int copy_field(const struct yb_json *o, const char *key, char *out, size_t out_size,
		      size_t hex_len, struct yb_err *err)
{
	const char *v = yb_json_get_str(o, key);
	if (!v || !*v || strlen(v) >= out_size)
		return yb_err_set(err, YB_EINVAL, "the checkpoint has no valid \"%s\"", key);
	for (size_t i = 0; hex_len && v[i]; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return yb_err_set(err, YB_EINVAL, "the checkpoint's \"%s\" is not lowercase hex",
					  key);
	if (hex_len && strlen(v) != hex_len)
		return yb_err_set(err, YB_EINVAL, "the checkpoint's \"%s\" is not %zu hex digits", key,
				  hex_len);
	snprintf(out, out_size, "%s", v);
	return 0;
}

int yb_checkpoint_parse(const char *text, size_t len, struct yb_checkpoint *out, struct yb_err *err)
{
	struct yb_json *o = NULL;
	struct yb_checkpoint cp = { 0 };
	int rc;

	if ((rc = yb_json_parse(text, len, &o, err)) < 0)
		return rc;
	const char *format = yb_json_get_str(o, "format");
	if (!yb_json_is_object(o) || !format || strcmp(format, YB_CHECKPOINT_FORMAT)) {
		rc = yb_err_set(err, YB_EINVAL, "not a checkpoint (\"format\" is not \"%s\")",
				YB_CHECKPOINT_FORMAT);
		goto out;
	}
	if (!yb_json_is_int(yb_json_get(o, "seq")) || (cp.seq = yb_json_get_int(o, "seq", 0)) < 1) {
		rc = yb_err_set(err, YB_EINVAL, "the checkpoint has no valid \"seq\"");
		goto out;
	}
	if ((rc = copy_field(o, "site", cp.site, sizeof cp.site, 0, err)) < 0 ||
	    (rc = copy_field(o, "hash", cp.hash, sizeof cp.hash, 2 * YB_SHA256_LEN, err)) < 0 ||
	    (rc = copy_field(o, "signed_at", cp.signed_at, sizeof cp.signed_at, 0, err)) < 0 ||
	    (rc = copy_field(o, "public_key", cp.public_key, sizeof cp.public_key,
			     2 * YB_SIGN_PUBLIC_LEN, err)) < 0 ||
	    (rc = copy_field(o, "signature", cp.signature, sizeof cp.signature, 2 * YB_SIGN_LEN,
			     err)) < 0)
		goto out;
	*out = cp;
out:
	yb_json_free(o);
	return rc;
}

int yb_checkpoint_load(const char *path, struct yb_checkpoint *out, struct yb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = yb_read_regular(path, CHECKPOINT_FILE_MAX, 0, &text, &len, err);
	if (rc < 0)
		return rc;
	if ((rc = yb_checkpoint_parse(text, len, out, err)) < 0)
		yb_err_prefix(err, "'%s'", path);
	free(text);
	return rc;
}

/* Creates path with mode, refusing to replace anything, and writes text to it. */
static int write_new(const char *path, const char *text, int mode, struct yb_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return yb_err_set(err, errno == EEXIST ? YB_EEXIST : YB_EIO,
				  "cannot create '%s': %s%s", path, strerror(errno),
				  errno == EEXIST ? " (a key is never overwritten: remove it or choose "
						    "another name)" : "");
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			close(fd);
			unlink(path);
			return yb_err_set(err, YB_EIO, "cannot write '%s': %s", path, strerror(e));
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return yb_err_set(err, YB_EIO, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int yb_checkpoint_keygen(const char *path, unsigned char pk[YB_SIGN_PUBLIC_LEN], struct yb_err *err)
{
	unsigned char sk[YB_SIGN_SECRET_LEN];
	char sk_hex[2 * YB_SIGN_SECRET_LEN + 2], pk_hex[2 * YB_SIGN_PUBLIC_LEN + 2];
	char *pub = xasprintf("%s.pub", path);
	int rc;

	if (access(path, F_OK) == 0 || access(pub, F_OK) == 0) {
		rc = yb_err_set(err, YB_EEXIST, "'%s' exists already (a key is never overwritten: "
				"remove it or choose another name)", access(path, F_OK) == 0 ? path : pub);
		goto out;
	}
	yb_sign_keypair(pk, sk);
	yb_hex(sk, sizeof sk, sk_hex);
	strcat(sk_hex, "\n");
	yb_hex(pk, YB_SIGN_PUBLIC_LEN, pk_hex);
	strcat(pk_hex, "\n");
	if ((rc = write_new(path, sk_hex, 0600, err)) < 0)
		goto out;
	if ((rc = write_new(pub, pk_hex, 0644, err)) < 0)
		unlink(path);
out:
	yb_wipe(sk, sizeof sk);
	yb_wipe(sk_hex, sizeof sk_hex);
	free(pub);
	return rc;
}

int yb_checkpoint_load_secret(const char *path, unsigned char sk[YB_SIGN_SECRET_LEN],
			      struct yb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = yb_read_regular(path, 1024, YB_READ_PRIVATE, &text, &len, err);
	if (rc < 0)
		return rc;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (!yb_unhex_n(text, YB_SIGN_SECRET_LEN, sk))
		rc = yb_err_set(err, YB_EINVAL, "'%s' is not a checkpoint key (128 hex digits, from "
				"'yoban checkpoint keygen')", path);
	yb_wipe(text, len);
	free(text);
	return rc;
}

int yb_checkpoint_load_public(const char *file_or_hex, unsigned char pk[YB_SIGN_PUBLIC_LEN],
			      struct yb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (yb_unhex_n(file_or_hex, YB_SIGN_PUBLIC_LEN, pk))
		return 0;
	if ((rc = yb_read_regular(file_or_hex, 1024, 0, &text, &len, err)) < 0)
		return rc;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (!yb_unhex_n(text, YB_SIGN_PUBLIC_LEN, pk))
		rc = yb_err_set(err, YB_EINVAL, "'%s' is not a public key (64 hex digits, the .pub of "
				"'yoban checkpoint keygen')", file_or_hex);
	free(text);
	return rc;
}
