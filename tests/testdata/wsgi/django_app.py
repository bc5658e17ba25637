"""A single-file Django application for the end-to-end tests."""
import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY='end-to-end-tests-only',
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=['*'],
    MIDDLEWARE=['django.middleware.common.CommonMiddleware'],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def index(request):
    return HttpResponse('Hello from Django')


def echo(request):
    return JsonResponse({
        'method': request.method,
        'body_length': len(request.body),
        'post': request.POST.dict(),
        'get': request.GET.dict(),
        'path': request.path,
        'path_info': request.path_info,
        'script_name': request.META['SCRIPT_NAME'],
        'absolute': request.build_absolute_uri(),
    })


def stream(request):
    def gen():
        yield b'one\n'
        yield b'two\n'
    return StreamingHttpResponse(gen(), content_type='text/plain')


urlpatterns = [
    path('', index),
    path('echo/', echo),
    path('stream/', stream),
]

application = get_wsgi_application()
