/**
 * The S3-compatible segment store: sealed segments (and the copies of the archive's metadata
 * files) as objects under `<prefix><topic>/partition-<n>/`, the same layout as the directory, so
 * a bucket synced to disk can be checked with `panacea audit verify` as it is.
 *
 * With Object Lock set, every segment is written with the bucket's Object Lock retention headers
 * (mode and retain-until date = now + the archive retention): in a bucket with Object Lock on,
 * S3 then refuses to change or delete that version before the date, whoever asks. A bucket without
 * Object Lock refuses such a write, which is reported as it is rather than written without the
 * lock. The metadata copies are written without a lock: they are replaced after every seal.
 *
 * Reads and writes go through `@aws-sdk/client-s3` with path-style addressing when an endpoint is
 * given (what S3-compatible servers expect). Credentials come from the SDK's usual sources
 * (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, a profile, a role), never from this config.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';

import type { ArchiveS3Config } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { SEGMENT_SUFFIX } from './segment-files.js';
import type { SegmentLocation, SegmentStore } from './segment-store.js';

export interface S3SegmentStoreOptions {
  settings: ArchiveS3Config;
  /** How long Object Lock keeps a segment from its upload: the archive retention; ms. */
  lockRetentionMs: number;
  /** A client of one's own (tests); default one made from `settings`. */
  client?: S3Client;
}

export function s3SegmentStore(options: S3SegmentStoreOptions): SegmentStore & {
  close(): void;
} {
  const { settings } = options;
  const client = options.client ?? createS3Client(settings);
  const bucket = settings.bucket;
  const keyOf = (location: SegmentLocation): string =>
    `${partitionPrefix(settings.prefix, location.topic, location.partition)}${location.segment}`;
  const describe = `s3://${bucket}/${settings.prefix}${settings.endpoint === undefined ? '' : ` at ${settings.endpoint}`}`;

  // The SDK's error is not kept as the cause: it carries the whole HTTP exchange, which a log line
  // would serialize in full. Its name, status and message are in the message.
  const failed = (action: string, key: string, error: unknown): PanaceaError =>
    new PanaceaError(
      'ARCHIVE_STORE_UNAVAILABLE',
      `${action} s3://${bucket}/${key}: ${s3Reason(error)}`,
      { bucket, key },
    );

  return {
    description: describe,
    async putSegment(location, localFile, { sha256 }) {
      const key = keyOf(location);
      const body = await readFile(localFile);
      const input: PutObjectCommandInput = {
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: 'application/avro',
        // Checked by the server against the body it received, so a corrupted upload is refused;
        // S3 also requires it (or a newer checksum) with Object Lock headers. MD5, not the newer
        // x-amz-checksum-sha256, because S3-compatible servers such as s3proxy refuse that one.
        ContentMD5: createHash('md5').update(body).digest('base64'),
        // For a reviewer listing the bucket: the SHA-256 the manifest states.
        Metadata: { sha256 },
      };
      if (settings.objectLock !== 'off') {
        input.ObjectLockMode = settings.objectLock === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE';
        input.ObjectLockRetainUntilDate = new Date(Date.now() + options.lockRetentionMs);
      }
      try {
        await client.send(new PutObjectCommand(input));
      } catch (error) {
        throw failed('could not write', key, error);
      }
      await rm(localFile, { force: true });
    },
    async readSegment(location) {
      const key = keyOf(location);
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = await response.Body?.transformToByteArray();
        return bytes === undefined ? Buffer.alloc(0) : Buffer.from(bytes);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw failed('could not read', key, error);
      }
    },
    async segmentSizeBytes(location) {
      const key = keyOf(location);
      try {
        const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return response.ContentLength ?? 0;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw failed('could not read', key, error);
      }
    },
    async removeSegment(location) {
      const key = keyOf(location);
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        if (isNotFound(error)) return 'absent';
        throw failed('could not read', key, error);
      }
      try {
        // In a versioned bucket (any with Object Lock) this adds a delete marker; a locked
        // version stays until its date, then goes by the bucket's lifecycle rules.
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        throw failed('could not delete', key, error);
      }
      return 'removed';
    },
    async listSegments(topic, partition) {
      const prefix = partitionPrefix(settings.prefix, topic, partition);
      const names: string[] = [];
      let continuationToken: string | undefined;
      do {
        let response;
        try {
          response = await client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ...(continuationToken === undefined ? {} : { ContinuationToken: continuationToken }),
            }),
          );
        } catch (error) {
          throw failed('could not list', prefix, error);
        }
        for (const object of response.Contents ?? []) {
          const name = object.Key?.slice(prefix.length);
          if (name !== undefined && !name.includes('/') && name.endsWith(SEGMENT_SUFFIX)) {
            names.push(name);
          }
        }
        continuationToken = response.IsTruncated ? response.NextContinuationToken : undefined;
      } while (continuationToken !== undefined);
      return names.sort();
    },
    async mirror(relativePath, archiveRoot) {
      const key = `${settings.prefix}${relativePath.split(path.sep).join('/')}`;
      let body: Buffer;
      try {
        body = await readFile(path.join(archiveRoot, relativePath));
      } catch (error) {
        throw new PanaceaError(
          'FILE_UNREADABLE',
          `cannot read ${relativePath} to copy it to the store`,
          { file: relativePath },
          error,
        );
      }
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentMD5: createHash('md5').update(body).digest('base64'),
          }),
        );
      } catch (error) {
        throw failed('could not write', key, error);
      }
    },
    close() {
      client.destroy();
    },
  };
}

export function createS3Client(settings: ArchiveS3Config): S3Client {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint === undefined
      ? {}
      : { endpoint: settings.endpoint, forcePathStyle: true }),
    // Given in the environment, the keys are used as they are, and no other source is asked.
    ...(accessKeyId !== undefined && secretAccessKey !== undefined
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(process.env.AWS_SESSION_TOKEN === undefined
              ? {}
              : { sessionToken: process.env.AWS_SESSION_TOKEN }),
          },
        }
      : {}),
    // Checksums only where S3 requires them: S3-compatible servers differ in the newer ones;
    // the SHA-256 of each segment is sent explicitly (see putSegment).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

function partitionPrefix(prefix: string, topic: string, partition: number): string {
  return `${prefix}${topic}/partition-${partition}/`;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NoSuchKey' ||
      error.name === 'NotFound' ||
      error.$metadata.httpStatusCode === 404)
  );
}

function s3Reason(error: unknown): string {
  if (error instanceof S3ServiceException) {
    return `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? '?'}): ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
