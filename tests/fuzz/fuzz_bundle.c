/*
 * fuzz_bundle.c: arbitrary bytes through the evidence bundle verifier (yb_bundle_verify_mem), the
 * parser of a file an auditor receives from outside. Byte 0 chooses the layer: even, the rest is
 * the bundle file as it is (zstd, then tar, then JSON); odd, the rest is a tar stream that is
 * compressed here first, so the fuzzer reaches the tar reader, the manifest, chain.jsonl and
 * run.json without having to forge zstd checksums. Whatever the input, the verifier must return
 * (no crash, no leak, nothing written to disk) with 0 or a message; when it accepts, the report
 * must be consistent (the chain's first entry not after its last, the head not before it).
 * Seeds (tests/fuzz/corpus/bundle/): a real bundle exported by test_evidence_bundle, in both forms.
 */
#include "bundle.h"
#include "compress.h"
#include "yb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yb_bundle_report r = { 0 };
	struct yb_err err = { 0 };
	struct yb_buf z;
	int rc;

	if (size < 1)
		return 0;
	yb_buf_init(&z, 0);
	if (data[0] & 1) {
		if (yb_zstd_compress(&z, data + 1, size - 1, 1, NULL) < 0)
			__builtin_trap();
		rc = yb_bundle_verify_mem(z.data, z.len, &r, &err);
	} else {
		rc = yb_bundle_verify_mem(data + 1, size - 1, &r, &err);
	}
	if (rc < 0 && !err.msg[0])
		__builtin_trap(); /* a refusal always says why */
	if (rc == 0 && (r.first_seq > r.last_seq || r.last_seq > r.head_seq || !r.entries ||
			!r.runbook))
		__builtin_trap();
	yb_bundle_report_release(&r);
	yb_buf_release(&z);
	return 0;
}
