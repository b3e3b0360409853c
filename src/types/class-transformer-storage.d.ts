// class-transformer keeps its decorators' metadata in this module, which its package entry
// does not re-export; its declarations ship under `types/`.
declare module 'class-transformer/cjs/storage.js' {
  import type { MetadataStorage } from 'class-transformer/types/MetadataStorage.js';

  export const defaultMetadataStorage: MetadataStorage;
}
