// Files of a small but genuine OCI image (one gzip layer holding one file, an image config whose
// diff_id matches the layer), for `oras push --config ... layer`: registries and the webhook see
// an ordinary image manifest, not an artifact.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface SmallImageFiles {
  /** Folder holding the files; run oras push with this as cwd (it wants relative paths). */
  dir: string;
  configFile: string;
  layerFile: string;
  /** `oras push` arguments after the reference: config and layer with their media types. */
  orasPushArgs: string[];
}

export function writeSmallImage(dir: string, content = 'hello from the ecr-admission rig\n'): SmallImageFiles {
  mkdirSync(dir, { recursive: true });
  const tar = tarWithOneFile('hello.txt', Buffer.from(content));
  const configFile = 'config.json';
  const layerFile = 'layer.tar.gz';
  writeFileSync(join(dir, layerFile), gzipSync(tar));
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  writeFileSync(join(dir, configFile), JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  return {
    dir,
    configFile,
    layerFile,
    orasPushArgs: ['--config', `${configFile}:application/vnd.oci.image.config.v1+json`, `${layerFile}:application/vnd.oci.image.layer.v1.tar+gzip`],
  };
}

// A ustar archive with one regular file: 512-byte header, content padded to 512, two zero blocks.
function tarWithOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) => header.write(value, offset, length, 'ascii');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0');
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(0, 8), 108, 8); // uid
  field(octal(0, 8), 116, 8); // gid
  field(octal(content.length, 12), 124, 12);
  field(octal(0, 12), 136, 12); // mtime: fixed, so the image digest is reproducible
  field('        ', 148, 8); // checksum is computed with its own field as spaces
  field('0', 156, 1);
  field('ustar\u000000', 257, 8);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(`${octal(sum, 7)}\u0000 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}
