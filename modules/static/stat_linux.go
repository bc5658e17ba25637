package static

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileID is what tells one state of a file from another: the file (device
// and inode) and its size, mode and times. Any write, truncation, chmod,
// chown, rename or link count change moves ctime, which the kernel keeps
// and userspace cannot set.
type fileID struct {
	dev, ino     uint64
	size         int64
	mode         uint32
	mtime, ctime unix.Timespec
}

// settled reports whether the file's last change is at least cacheSettle
// before now (see cacheSettle).
func (id fileID) settled(now time.Time) bool {
	return time.Unix(id.ctime.Unix()).Before(now.Add(-cacheSettle))
}

func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{
		dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, mode: uint32(st.Mode),
		mtime: unix.Timespec{Sec: int64(st.Mtim.Sec), Nsec: int64(st.Mtim.Nsec)},
		ctime: unix.Timespec{Sec: int64(st.Ctim.Sec), Nsec: int64(st.Ctim.Nsec)},
	}, true
}

// dirHandle is an O_PATH descriptor of a directory, for fstatat.
type dirHandle struct{ fd int }

func openDirHandle(dir string) (*dirHandle, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &dirHandle{fd: fd}, nil
}

func (d *dirHandle) close() error { return unix.Close(d.fd) }

// stat stats path (NUL-terminated, relative to d) following symlinks, with
// one system call and no allocation.
func (d *dirHandle) stat(path []byte) (fileID, bool) {
	var st unix.Stat_t
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(d.fd), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(&st)), 0, 0, 0)
	if errno != 0 {
		return fileID{}, false
	}
	return fileID{
		dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, mode: uint32(st.Mode),
		mtime: unix.Timespec{Sec: int64(st.Mtim.Sec), Nsec: int64(st.Mtim.Nsec)},
		ctime: unix.Timespec{Sec: int64(st.Ctim.Sec), Nsec: int64(st.Ctim.Nsec)},
	}, true
}
