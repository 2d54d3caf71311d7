/** Reads what the audit archive holds, segment by segment in manifest order, for assertions. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { ArchivedRecord } from '../../sinks/audit-archive/archived-record.js';
import { decodeContainer } from '../../sinks/audit-archive/container-file.js';
import { readManifest } from '../../sinks/audit-archive/manifest.js';
import { archivedPartitions, partitionDirectory } from '../../sinks/audit-archive/segment-files.js';

/** Every archived record of `topic` under the data directory, partition by partition. */
export async function readArchivedRecords(
  dataDir: string,
  topic: string,
): Promise<ArchivedRecord[]> {
  const root = path.join(dataDir, 'audit-archive');
  const records: ArchivedRecord[] = [];
  for (const partition of archivedPartitions(root, topic)) {
    const directory = partitionDirectory(root, topic, partition);
    for (const entry of readManifest(directory).entries) {
      const decoded = await decodeContainer(readFileSync(path.join(directory, entry.segment)));
      records.push(...(decoded.records as ArchivedRecord[]));
    }
  }
  return records;
}
