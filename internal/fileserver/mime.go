package fileserver

import (
	"mime"
	"path"
	"strings"
)

// types maps lower-case extensions to content types. Text types carry
// their charset here so the request path does no string building.
var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json; charset=utf-8",
	".map":         "application/json; charset=utf-8",
	".webmanifest": "application/manifest+json; charset=utf-8",
	".txt":         "text/plain; charset=utf-8",
	".text":        "text/plain; charset=utf-8",
	".log":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".markdown":    "text/markdown; charset=utf-8",
	".csv":         "text/csv; charset=utf-8",
	".tsv":         "text/tab-separated-values; charset=utf-8",
	".xml":         "application/xml; charset=utf-8",
	".xsl":         "application/xml; charset=utf-8",
	".rss":         "application/rss+xml; charset=utf-8",
	".atom":        "application/atom+xml; charset=utf-8",
	".svg":         "image/svg+xml; charset=utf-8",
	".ics":         "text/calendar; charset=utf-8",
	".vtt":         "text/vtt; charset=utf-8",
	".yaml":        "application/yaml; charset=utf-8",
	".yml":         "application/yaml; charset=utf-8",
	".toml":        "application/toml; charset=utf-8",
	".wasm":        "application/wasm",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".bmp":         "image/bmp",
	".tif":         "image/tiff",
	".tiff":        "image/tiff",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".mp4":         "video/mp4",
	".m4v":         "video/mp4",
	".webm":        "video/webm",
	".ogv":         "video/ogg",
	".mov":         "video/quicktime",
	".mp3":         "audio/mpeg",
	".m4a":         "audio/mp4",
	".ogg":         "audio/ogg",
	".oga":         "audio/ogg",
	".opus":        "audio/ogg",
	".wav":         "audio/wav",
	".flac":        "audio/flac",
	".pdf":         "application/pdf",
	".zip":         "application/zip",
	".gz":          "application/gzip",
	".tgz":         "application/gzip",
	".tar":         "application/x-tar",
	".bz2":         "application/x-bzip2",
	".xz":          "application/x-xz",
	".zst":         "application/zstd",
	".7z":          "application/x-7z-compressed",
	".rar":         "application/vnd.rar",
	".deb":         "application/vnd.debian.binary-package",
	".rpm":         "application/x-rpm",
	".jar":         "application/java-archive",
	".bin":         "application/octet-stream",
	".exe":         "application/octet-stream",
	".iso":         "application/octet-stream",
	".dmg":         "application/octet-stream",
	".doc":         "application/msword",
	".docx":        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls":         "application/vnd.ms-excel",
	".xlsx":        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt":         "application/vnd.ms-powerpoint",
	".pptx":        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":         "application/vnd.oasis.opendocument.text",
	".epub":        "application/epub+zip",
}

// ContentType returns the Content-Type for a file name from its
// extension: the built-in table first, then mime.TypeByExtension, else
// "application/octet-stream". Text types (text/*, JavaScript, JSON, XML,
// SVG) carry "; charset=utf-8".
func ContentType(name string) string {
	ext := path.Ext(name)
	if ext == "" {
		return "application/octet-stream"
	}
	if t, ok := types[ext]; ok {
		return t
	}
	lower := strings.ToLower(ext)
	if t, ok := types[lower]; ok {
		return t
	}
	t := mime.TypeByExtension(lower)
	if t == "" {
		return "application/octet-stream"
	}
	if isText(t) && !strings.Contains(t, "charset=") {
		t += "; charset=utf-8"
	}
	return t
}

// isText reports whether a media type is text a browser should decode as
// UTF-8.
func isText(t string) bool {
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	t = strings.TrimSpace(t)
	switch {
	case strings.HasPrefix(t, "text/"),
		t == "application/javascript", t == "application/json", t == "application/xml",
		t == "image/svg+xml",
		strings.HasSuffix(t, "+json"), strings.HasSuffix(t, "+xml"):
		return true
	}
	return false
}
