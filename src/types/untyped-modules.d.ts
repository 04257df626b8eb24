// Modules Duet uses that ship no types for what it needs.

// class-transformer keeps its decorator metadata in a module it does not export a type for.
declare module 'class-transformer/cjs/storage.js' {
  import type { MetadataStorage } from 'class-transformer/types/MetadataStorage.js';
  export const defaultMetadataStorage: MetadataStorage;
}

// class-validator's message templating ($property, $constraint1), which its index does not export.
declare module 'class-validator/cjs/validation/ValidationUtils.js' {
  export { ValidationUtils } from 'class-validator/types/validation/ValidationUtils.js';
}

// swagger-ui-dist ships no types; Duet only asks it where its files are. Its index module would
// also load the 3.5 MiB UI bundle into the server's heap.
declare module 'swagger-ui-dist/absolute-path.js' {
  export default function getAbsoluteFSPath(): string;
}
