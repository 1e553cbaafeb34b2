// SPDX-License-Identifier: MIT
/* tpm.c - sealing a key file to a TPM 2.0 (tss2-esys), optionally to PCRs.
 *
 * "Lock files to a specific system", as eCryptfs's 2005 plan said.  As
 * with GPG (gpg.c) the TPM cannot be a header packet the kernel reads, so
 * it protects a key file: the 64-hex-digit passphrase-equivalent key is
 * sealed as the sensitive data of a keyed-hash object under the owner
 * hierarchy's primary storage key.  Only this TPM can load the object, so
 * only this machine can unseal the key; with a PCR mask the object's
 * authPolicy is TPM2_PolicyPCR over those SHA-256 PCRs, and unsealing also
 * needs the PCRs to hold the values they had at seal time (e.g. PCR 7:
 * Secure Boot state).
 *
 * The primary key is re-created on each use from a fixed template (ECC
 * P-256, AES-128-CFB, the TCG storage-key attributes): the same TPM and the
 * same owner seed give the same key, so nothing needs a persistent handle.
 *
 * Blob (all of it public; it is useless without this TPM):
 *     "ECFSTPM1" ‖ u32 BE pcr mask ‖ TPM2B_PUBLIC ‖ TPM2B_PRIVATE (tss2 MU)
 *
 * Not covered: the unsealed key crosses the bus to the CPU in clear (no
 * salted session), so an attacker with a logic probe on the TPM bus of an
 * unlocked, running machine can read it; and a passphrase or GPG key of
 * the same files opens them anywhere.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "ob/secmem.h"

#define BLOB_MAGIC	"ECFSTPM1"
#define BLOB_HEAD	12
#define SEAL_MAX	128	/* TPM2B_SENSITIVE_DATA */

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;
};

static void tpm_close(struct tpm *t)
{
	if (t->esys && t->primary != ESYS_TR_NONE)
		Esys_FlushContext(t->esys, t->primary);
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
}

static int tpm_open(struct tpm *t, const char *tcti, struct ob_err *err)
{
	static const TPM2B_SENSITIVE_CREATE no_auth = { 0 };
	static const TPM2B_DATA no_outside = { 0 };
	static const TPML_PCR_SELECTION no_pcrs = { 0 };
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
					    TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
					    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
					       .mode.aes = TPM2_ALG_CFB },
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};
	TSS2_RC r;

	memset(t, 0, sizeof(*t));
	t->primary = ESYS_TR_NONE;
	r = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (r != TSS2_RC_SUCCESS)
		return ob_err_set(err, -ENODEV, "no TPM reachable via %s (tss2 rc 0x%x)",
				  tcti ? tcti : "the default TCTI", r);
	r = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (r == TSS2_RC_SUCCESS)
		r = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				       ESYS_TR_NONE, &no_auth, &tmpl, &no_outside, &no_pcrs,
				       &t->primary, NULL, NULL, NULL, NULL);
	if (r != TSS2_RC_SUCCESS) {
		tpm_close(t);
		return ob_err_set(err, -EIO, "creating the TPM storage key (tss2 rc 0x%x)", r);
	}
	return 0;
}

static void pcr_selection(uint32_t mask, TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	for (int i = 0; i < 24; i++)
		if (mask & (1u << i))
			sel->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* A policy session (trial or real) that has run PolicyPCR over mask. */
static TSS2_RC pcr_session(struct tpm *t, uint32_t mask, bool trial, ESYS_TR *s)
{
	static const TPMT_SYM_DEF no_sym = { .algorithm = TPM2_ALG_NULL };
	TPML_PCR_SELECTION sel;
	TSS2_RC r;

	pcr_selection(mask, &sel);
	r = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				  ESYS_TR_NONE, ESYS_TR_NONE, NULL,
				  trial ? TPM2_SE_TRIAL : TPM2_SE_POLICY, &no_sym,
				  TPM2_ALG_SHA256, s);
	if (r != TSS2_RC_SUCCESS)
		return r;
	/* An empty pcrDigest: the TPM uses the PCRs' current values. */
	r = Esys_PolicyPCR(t->esys, *s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, &sel);
	if (r != TSS2_RC_SUCCESS) {
		Esys_FlushContext(t->esys, *s);
		*s = ESYS_TR_NONE;
	}
	return r;
}

int ecfs_tpm_seal(const char *tcti, const uint8_t *data, size_t len,
		  uint32_t pcr_mask, uint8_t **out, size_t *out_len,
		  struct ob_err *err)
{
	static const TPM2B_DATA no_outside = { 0 };
	static const TPML_PCR_SELECTION no_pcrs = { 0 };
	TPM2B_SENSITIVE_CREATE *sens = NULL;
	TPM2B_PUBLIC pub = {
		.publicArea = {
			.type = TPM2_ALG_KEYEDHASH,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_NODA,
			.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
		},
	};
	TPM2B_PRIVATE *opriv = NULL;
	TPM2B_PUBLIC *opub = NULL;
	TPM2B_DIGEST *digest = NULL;
	ESYS_TR s = ESYS_TR_NONE;
	struct tpm t;
	uint8_t *blob = NULL;
	size_t off = BLOB_HEAD, cap = BLOB_HEAD + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE);
	TSS2_RC r;
	int rc;

	if (len == 0 || len > SEAL_MAX || pcr_mask >> 24)
		return ob_err_set(err, -EINVAL, "sealing %zu bytes to PCR mask 0x%x (1..%d bytes, PCRs 0..23)",
				  len, pcr_mask, SEAL_MAX);
	rc = tpm_open(&t, tcti, err);
	if (rc)
		return rc;
	if (pcr_mask) {
		r = pcr_session(&t, pcr_mask, true, &s);
		if (r == TSS2_RC_SUCCESS)
			r = Esys_PolicyGetDigest(t.esys, s, ESYS_TR_NONE, ESYS_TR_NONE,
						 ESYS_TR_NONE, &digest);
		if (r != TSS2_RC_SUCCESS) {
			rc = ob_err_set(err, -EIO, "computing the PCR policy (tss2 rc 0x%x)", r);
			goto out;
		}
		pub.publicArea.authPolicy = *digest;
	} else {
		pub.publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
	}
	sens = ob_secure_alloc(sizeof(*sens));
	if (!sens) {
		rc = ob_err_set(err, -ENOMEM, "allocating locked memory");
		goto out;
	}
	sens->sensitive.data.size = (UINT16)len;
	memcpy(sens->sensitive.data.buffer, data, len);
	r = Esys_Create(t.esys, t.primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			sens, &pub, &no_outside, &no_pcrs, &opriv, &opub, NULL, NULL, NULL);
	if (r != TSS2_RC_SUCCESS) {
		rc = ob_err_set(err, -EIO, "sealing the key (tss2 rc 0x%x)", r);
		goto out;
	}
	blob = malloc(cap);
	if (!blob) {
		rc = ob_err_set(err, -ENOMEM, "allocating the sealed blob");
		goto out;
	}
	memcpy(blob, BLOB_MAGIC, 8);
	ecfs_put_be32(blob + 8, pcr_mask);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(opub, blob, cap, &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(opriv, blob, cap, &off) != TSS2_RC_SUCCESS) {
		rc = ob_err_set(err, -EIO, "marshalling the sealed object");
		goto out;
	}
	*out = blob;
	*out_len = off;
	blob = NULL;
	rc = 0;
out:
	free(blob);
	ob_secure_free(sens);
	Esys_Free(opriv);
	Esys_Free(opub);
	Esys_Free(digest);
	if (s != ESYS_TR_NONE)
		Esys_FlushContext(t.esys, s);
	tpm_close(&t);
	return rc;
}

int ecfs_tpm_unseal(const char *tcti, const uint8_t *blob, size_t blob_len,
		    uint8_t **out, size_t *out_len, struct ob_err *err)
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	TPM2B_SENSITIVE_DATA *data = NULL;
	ESYS_TR obj = ESYS_TR_NONE, s = ESYS_TR_NONE;
	uint32_t mask;
	size_t off = BLOB_HEAD;
	struct tpm t;
	TSS2_RC r;
	int rc;

	if (blob_len < BLOB_HEAD || memcmp(blob, BLOB_MAGIC, 8))
		return ob_err_set(err, -EINVAL, "not an ecfs TPM-sealed key (no %s magic)", BLOB_MAGIC);
	mask = ecfs_get_be32(blob + 8);
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, blob_len, &off, &pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, blob_len, &off, &priv) != TSS2_RC_SUCCESS)
		return ob_err_set(err, -EINVAL, "damaged TPM-sealed key");
	rc = tpm_open(&t, tcti, err);
	if (rc)
		return rc;
	r = Esys_Load(t.esys, t.primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
		      &priv, &pub, &obj);
	if (r != TSS2_RC_SUCCESS) {
		rc = ob_err_set(err, -EKEYREJECTED, "this TPM cannot load the sealed key (sealed by another TPM?) (tss2 rc 0x%x)", r);
		goto out;
	}
	if (mask) {
		r = pcr_session(&t, mask, false, &s);
		if (r != TSS2_RC_SUCCESS) {
			rc = ob_err_set(err, -EIO, "starting the PCR policy session (tss2 rc 0x%x)", r);
			goto out;
		}
	}
	r = Esys_Unseal(t.esys, obj, mask ? s : ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data);
	if (r != TSS2_RC_SUCCESS) {
		rc = ob_err_set(err, -EKEYREJECTED, "%s (tss2 rc 0x%x)", mask ?
				"the PCR policy is not satisfied: PCR values changed since sealing" :
				"unsealing failed", r);
		goto out;
	}
	*out = ob_secure_alloc(data->size ? data->size : 1);
	if (!*out) {
		rc = ob_err_set(err, -ENOMEM, "allocating locked memory");
		goto out;
	}
	memcpy(*out, data->buffer, data->size);
	*out_len = data->size;
	rc = 0;
out:
	if (data) {
		ob_wipe(data, sizeof(*data));
		Esys_Free(data);
	}
	if (s != ESYS_TR_NONE)
		Esys_FlushContext(t.esys, s);
	if (obj != ESYS_TR_NONE)
		Esys_FlushContext(t.esys, obj);
	tpm_close(&t);
	return rc;
}
