//go:build !linux

package fileserver

import (
	"errors"
	"os"
	"time"

	"httpd/internal/coding"
)

// fileID is unused off Linux: the cache is off there.
type fileID struct{}

func (fileID) settled(time.Time) bool { return false }

func (fileID) regular() bool { return false }

func (fileID) modTime() time.Time { return time.Time{} }

func (fileID) key(c coding.Coding) coding.Key { return coding.Key{Coding: c} }

func idOf(os.FileInfo) (fileID, bool) { return fileID{}, false }

type dirHandle struct{}

func openDirHandle(string) (*dirHandle, error) {
	return nil, errors.New("static: the file cache needs Linux")
}

func (*dirHandle) close() error { return nil }

// errUseRoot is openBeneath's answer when os.Root must open the file.
var errUseRoot = errors.New("static: open through os.Root")

func (*dirHandle) openBeneath(string, string) (*os.File, error) { return nil, errUseRoot }

func (*dirHandle) stat([]byte) (fileID, bool) { return fileID{}, false }
