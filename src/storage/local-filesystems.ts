/**
 * File systems whose writes land in the local page cache: a small write there costs tens of
 * microseconds and never waits on a network. `statfs(2)` reports the type as a magic number
 * (`f_type`, linux/magic.h); anything not listed (NFS, SMB/CIFS, FUSE mounts such as s3fs or
 * sshfs, Ceph, 9p…) may block for as long as its server takes, so it is not treated as local.
 */
const LOCAL_DISK_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
  [0x794c7630, 'overlayfs'],
  [0x3153464a, 'jfs'],
  [0x52654973, 'reiserfs'],
]);

/** The name of a local disk (or memory) file system type, `undefined` for any other. */
export function localFilesystemName(statfsType: number | bigint): string | undefined {
  return LOCAL_DISK_FILESYSTEMS.get(Number(statfsType));
}
