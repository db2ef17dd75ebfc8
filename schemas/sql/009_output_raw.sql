-- 009_output_raw: output that does not compress is stored as it is.
--
-- yoband compresses each output chunk with zstd before storing it (column zstd). Random or already
-- compressed bytes (archives, images, encrypted dumps) do not shrink: compressing them cost the
-- daemon time and the reader a decoder for nothing. Such a chunk is now kept in the new column
-- raw instead, and exactly one of the two holds the chunk's bytes (raw_len of them, for raw).
-- Readers (yoban logs) take raw as it is and decompress zstd, as before; the job's digests
-- (jobs.stdout_sha256, stderr_sha256) are over the bytes, whichever form they are stored in.
--
-- Both columns are stored EXTERNAL: out of line past the usual size, without PostgreSQL's own
-- compression (pglz), which could only waste time on bytes that are zstd frames or incompressible.
-- This applies to values written from now on; existing rows keep what they have.

ALTER TABLE yoban.output_chunks ALTER COLUMN zstd DROP NOT NULL;
ALTER TABLE yoban.output_chunks ADD COLUMN raw bytea;
ALTER TABLE yoban.output_chunks ADD CONSTRAINT output_chunks_one_form
	CHECK ((zstd IS NULL) <> (raw IS NULL) AND (raw IS NULL OR length(raw) = raw_len));
ALTER TABLE yoban.output_chunks ALTER COLUMN zstd SET STORAGE EXTERNAL;
ALTER TABLE yoban.output_chunks ALTER COLUMN raw SET STORAGE EXTERNAL;
COMMENT ON COLUMN yoban.output_chunks.zstd IS 'the chunk as one zstd frame (NULL when raw holds it)';
COMMENT ON COLUMN yoban.output_chunks.raw IS 'the chunk as it is, when it did not compress (NULL when zstd holds it)';
