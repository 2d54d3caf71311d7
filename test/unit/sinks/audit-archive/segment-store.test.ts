import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { localSegmentStore } from '../../../../sinks/audit-archive/segment-store.js';
import { describeSegmentStore } from './segment-store-scenarios.js';

// The archive directory is its own copy of the metadata files: the copy is the file itself.
describeSegmentStore('archive directory', async (root) => ({
  store: localSegmentStore(root),
  readCopy: (relativePath) => readFile(path.join(root, relativePath)).catch(() => undefined),
}));
