package fileserver

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"httpd/internal/coding"
)

// errUseRoot is openBeneath's answer when os.Root must open the file.
var errUseRoot = errors.New("static: open through os.Root")

// errLeadsOut is openBeneath's error for a path or symlink that leads out
// of the root (EXDEV from openat2).
var errLeadsOut = errors.New("the path leads out of the root")

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

// regular reports whether the file is a regular file.
func (id fileID) regular() bool { return id.mode&unix.S_IFMT == unix.S_IFREG }

// modTime is the file's modification time.
func (id fileID) modTime() time.Time { return time.Unix(id.mtime.Unix()) }

// settled reports whether the file's last change is at least cacheSettle
// before now (see cacheSettle).
func (id fileID) settled(now time.Time) bool {
	return time.Unix(id.ctime.Unix()).Before(now.Add(-cacheSettle))
}

// key is the cache key of the file's encoded form in c.
func (id fileID) key(c coding.Coding) coding.Key {
	return coding.Key{Dev: id.dev, Ino: id.ino, Size: id.size, Mode: id.mode,
		Mtime: id.mtime.Nano(), Ctime: id.ctime.Nano(), Coding: c}
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

// dirHandle is an O_PATH descriptor of a directory, for fstatat and
// openat2.
type dirHandle struct {
	fd      int
	openat2 bool // openat2(2) works here (see openBeneath)
}

func openDirHandle(dir string) (*dirHandle, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	d := &dirHandle{fd: fd}
	// Linux before 5.6 has no openat2 (ENOSYS), and some seccomp filters
	// refuse system calls they do not know (ENOSYS or EPERM).
	if probe, err := unix.Openat2(fd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: beneath}); err == nil {
		unix.Close(probe)
		d.openat2 = true
	}
	return d, nil
}

// beneath is how openBeneath resolves: inside the directory only, and no
// /proc magic links.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// openBeneath opens name (a CleanPath result) for reading below d with
// one openat2(2) that refuses what os.Root refuses: a symlink that leads
// out or is absolute fails with EXDEV, a loop with ELOOP. os.Root walks
// the path itself, one openat(2) and close(2) per directory, and
// allocates for it; here a failure allocates nothing (the error is the
// bare errno, and openError adds the name). The file is named
// rootSlash+name, as os.Root names the files it opens. errUseRoot asks
// the caller to go through os.Root instead: openat2 is missing, or the
// kernel asked to retry because a rename raced the lookup.
func (d *dirHandle) openBeneath(name, rootSlash string) (*os.File, error) {
	if !d.openat2 {
		return nil, errUseRoot
	}
	var buf [256]byte
	if len(name) >= len(buf) {
		return nil, errUseRoot
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, syscall.EINVAL
	}
	copy(buf[:], name) // and the NUL after it
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY, Resolve: beneath}
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT2, uintptr(d.fd), uintptr(unsafe.Pointer(&buf[0])),
			uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		switch errno {
		case 0:
			return os.NewFile(fd, rootSlash+name), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.ENOSYS:
			return nil, errUseRoot
		case unix.EXDEV:
			return nil, errLeadsOut
		}
		return nil, errno
	}
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
