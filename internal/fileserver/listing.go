package fileserver

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"httpd/registry"
)

// entry is one row of a directory listing.
type entry struct {
	Name    string // shown, with "/" after a directory
	Href    string // relative link
	Dir     bool
	Size    int64
	ModTime time.Time
}

// SizeText is the size for people: "-" for a directory, else bytes with a
// binary unit.
func (e entry) SizeText() string {
	if e.Dir {
		return "-"
	}
	return humanSize(e.Size)
}

func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	units := "KMGTPE"
	f := float64(n)
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f < 10 {
		return fmt.Sprintf("%.1f%c", f, units[i])
	}
	return fmt.Sprintf("%.0f%c", f, units[i])
}

// sortKey is a listing order parsed from Apache-style query arguments:
// C (column: N name, S size, M last modified) and O (A ascending,
// D descending), as in "?C=M;O=D".
type sortKey struct {
	Col  byte // 'N', 'S' or 'M'
	Desc bool
}

func parseSort(rawQuery string) sortKey {
	k := sortKey{Col: 'N'}
	for _, f := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == ';' || r == '&' }) {
		name, val, _ := strings.Cut(f, "=")
		switch {
		case name == "C" && (val == "N" || val == "S" || val == "M"):
			k.Col = val[0]
		case name == "O" && (val == "A" || val == "D"):
			k.Desc = val == "D"
		}
	}
	return k
}

// column is a header cell of the listing: a link that sorts by it,
// ascending unless it is the current ascending order.
type column struct {
	Title   string
	Href    string
	Arrow   string // "▲", "▼" or ""
	Numeric bool
}

func columns(k sortKey) []column {
	cols := []column{{Title: "Name"}, {Title: "Size", Numeric: true}, {Title: "Last modified"}}
	for i, c := range []byte{'N', 'S', 'M'} {
		order := "A"
		if k.Col == c {
			cols[i].Arrow = "▲"
			if k.Desc {
				cols[i].Arrow = "▼"
			} else {
				order = "D"
			}
		}
		cols[i].Href = "?C=" + string(c) + ";O=" + order
	}
	return cols
}

func sortEntries(es []entry, k sortKey) {
	slices.SortStableFunc(es, func(a, b entry) int {
		if a.Dir != b.Dir { // directories first, whatever the order
			if a.Dir {
				return -1
			}
			return 1
		}
		var c int
		switch k.Col {
		case 'S':
			c = cmp.Compare(a.Size, b.Size)
		case 'M':
			c = a.ModTime.Compare(b.ModTime)
		}
		if c == 0 {
			c = cmp.Compare(a.Name, b.Name)
		}
		if k.Desc {
			c = -c
		}
		return c
	})
}

var listingTemplate = template.Must(template.New("listing").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of {{.Path}}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
h1{font-size:1.3em;font-weight:600;word-break:break-all}
table{border-collapse:collapse;width:100%}
th,td{padding:.25em .75em;text-align:left;white-space:nowrap}
th{border-bottom:1px solid #ccc}
td:first-child{white-space:normal;word-break:break-all}
.n{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#f4f4f4}
a{color:#0645ad;text-decoration:none}
a:hover{text-decoration:underline}
</style>
</head>
<body>
<h1>Index of {{.Path}}</h1>
<table>
<thead><tr>{{range .Columns}}<th{{if .Numeric}} class="n"{{end}}><a href="{{.Href}}">{{.Title}}</a>{{if .Arrow}} {{.Arrow}}{{end}}</th>{{end}}</tr></thead>
<tbody>
{{if .Parent}}<tr><td><a href="../">../</a></td><td class="n">-</td><td></td></tr>
{{end}}{{range .Entries}}<tr><td><a href="{{.Href}}">{{.Name}}</a></td><td class="n">{{.SizeText}}</td><td><time datetime="{{.ModTime.UTC.Format "2006-01-02T15:04:05Z"}}">{{.ModTime.UTC.Format "2006-01-02 15:04"}}</time></td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))

// list writes the listing of the open directory dir (rel below the
// root). Entries that cannot be read, hidden ones (unless Dotfiles), and
// symlinks that lead out of the root are left out.
func (s *FileServer) list(w http.ResponseWriter, r *http.Request, dir *os.File, rel string) error {
	des, err := dir.ReadDir(-1)
	if err != nil {
		return registry.Error(http.StatusInternalServerError, fmt.Errorf("static %s: list: %w", rel, err))
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if !s.opts.Dotfiles && strings.HasPrefix(name, ".") {
			continue
		}
		var fi fs.FileInfo
		if de.Type()&fs.ModeSymlink != 0 {
			p := name
			if rel != "." {
				p = rel + "/" + name
			}
			fi, err = s.root.Stat(p) // follows the link, inside the root only
		} else {
			fi, err = de.Info()
		}
		if err != nil {
			continue
		}
		e := entry{Name: name, Href: "./" + url.PathEscape(name), Dir: fi.IsDir(), Size: fi.Size(), ModTime: fi.ModTime()}
		if e.Dir {
			e.Name += "/"
			e.Href += "/"
		}
		entries = append(entries, e)
	}
	k := parseSort(r.URL.RawQuery)
	sortEntries(entries, k)

	var buf bytes.Buffer
	err = listingTemplate.Execute(&buf, struct {
		Path    string
		Parent  bool
		Columns []column
		Entries []entry
	}{r.URL.Path, r.URL.Path != "/", columns(k), entries})
	if err != nil {
		return registry.Error(http.StatusInternalServerError, fmt.Errorf("static %s: list: %w", rel, err))
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
	return nil
}
