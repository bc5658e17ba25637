package tests

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The files of a project as django-admin startproject mysite makes it,
// cut to what the recipe needs, with the settings the README asks for.
var djangoProject = map[string]string{
	"manage.py": `#!/usr/bin/env python3
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
`,
	"mysite/__init__.py": "",
	"mysite/settings.py": `from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "recipe-test-only"
DEBUG = False
ALLOWED_HOSTS = ["example.com"]
INSTALLED_APPS = ["django.contrib.staticfiles"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "mysite.urls"
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "assets"]
`,
	"mysite/urls.py": `from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import path, reverse


def index(request):
    return HttpResponse("index %s %s %r" % (reverse("hello"), static("app.css"), request.META["SCRIPT_NAME"]))


def hello(request):
    return HttpResponse("hello from django")


urlpatterns = [path("", index), path("hello/", hello, name="hello")]
`,
	"mysite/wsgi.py": `import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
`,
	"assets/app.css": "body { color: teal }\n",
}

// TestDocsDjangoRecipe runs the README's Django recipe as written: a
// startproject layout, collectstatic with Debian's python3, and the
// recipe's config (its server_root moved to the test's folder, a loopback
// listener added). Django answers every path but /static/, which the
// alias serves from STATIC_ROOT.
func TestDocsDjangoRecipe(t *testing.T) {
	t.Parallel()
	python := wsgiPython(t)
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var recipe string
	for _, ex := range readmeExamples("README.md", src) {
		if strings.Contains(ex.src, `DJANGO_SETTINGS_MODULE = "mysite.settings"`) && strings.Contains(ex.src, "server_root") {
			recipe = ex.src
		}
	}
	if recipe == "" {
		t.Fatal("README.md has no Django recipe with server_root and mysite.settings")
	}
	h := NewHarness(t)
	for name, body := range djangoProject {
		h.Write("mysite/"+name, body, 0o644)
	}
	cmd := exec.Command(python, "manage.py", "collectstatic", "--noinput")
	cmd.Dir = h.Dir + "/mysite"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("manage.py collectstatic (needs python3-django for %s): %v\n%s", python, err, out)
	}
	const root = `server_root = "/srv/mysite"`
	if !strings.Contains(recipe, root) {
		t.Fatalf("the recipe does not start from %s:\n%s", root, recipe)
	}
	config := strings.Replace(recipe, root, "server_root = "+strconv.Quote(h.Dir+"/mysite")+`
server {
  listen = ["127.0.0.1:0"]
}
log {
  access = "off"
}`, 1)
	srv := h.Start(config)

	tests := []struct {
		name, path string
		status     int
		body       string
		header     [2]string
	}{
		{"django at the root", "/", 200, "index /hello/ /static/app.css ''", [2]string{}},
		{"django below", "/hello/", 200, "hello from django", [2]string{}},
		{"static from STATIC_ROOT", "/static/app.css", 200, "body { color: teal }\n", [2]string{"Cache-Control", "public, max-age=3600"}},
		{"missing static file", "/static/nope.css", 404, "", [2]string{}},
		{"django's own 404", "/nope/", 404, "", [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := coreGet(t, nil, srv.Addr, "example.com", tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s: %d, want %d: %q", tt.path, resp.StatusCode, tt.status, body)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("GET %s: %q, want %q", tt.path, body, tt.body)
			}
			if tt.header[0] != "" && resp.Header.Get(tt.header[0]) != tt.header[1] {
				t.Errorf("GET %s: %s %q, want %q", tt.path, tt.header[0], resp.Header.Get(tt.header[0]), tt.header[1])
			}
		})
	}
	srv.Stop()
}
