/** Files and folders on disk for ORAS-compatible push and pull (oras-go `content/file`). */
export { Annotation, DEFAULT_FILE_MODE, fileMode, parseFileMode, pullMode } from './annotations.js';
export { checkEntryName, checkPushPath, parseFileArg, resolvePullPath, titleOf, type EntryName, type FileArg } from './paths.js';
export { packDirectory, type PackedDirectory, type PackOptions } from './pack.js';
export { unpackTarGz, type UnpackOptions } from './unpack.js';
