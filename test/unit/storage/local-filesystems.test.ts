import { describe, expect, it } from 'vitest';
import { localFilesystemName } from '../../../src/storage/local-filesystems.js';

describe('localFilesystemName', () => {
  it.each([
    [0xef53, 'ext2/3/4'],
    [0x58465342, 'xfs'],
    [0x9123683en, 'btrfs'],
    [0x01021994, 'tmpfs'],
    [0x794c7630, 'overlayfs'],
  ])('knows local type %s as %s', (type, name) => {
    expect(localFilesystemName(type)).toBe(name);
  });

  it.each([
    ['NFS', 0x6969],
    ['SMB2/CIFS', 0xfe534d42],
    ['FUSE (s3fs, sshfs)', 0x65735546],
    ['Ceph', 0x00c36400],
    ['9p', 0x01021997],
  ])('treats %s as not local', (_name, type) => {
    expect(localFilesystemName(type)).toBeUndefined();
  });
});
