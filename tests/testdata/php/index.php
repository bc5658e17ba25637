<?php
// The front controller of a small app: every path that is no file under
// the document root comes here, with the path the client asked for in
// REQUEST_URI.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

if (preg_match('#^/post/(\d+)$#', $path, $m)) {
    header('Content-Type: text/plain');
    echo "post {$m[1]} uri={$_SERVER['REQUEST_URI']} script={$_SERVER['SCRIPT_NAME']}\n";
    exit;
}

switch ($path) {
case '/visits':
    session_start();
    $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
    header('Content-Type: text/plain');
    echo "visits {$_SESSION['n']}\n";
    break;

case '/form':
    if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
        http_response_code(405);
        header('Allow: POST');
        exit;
    }
    header('Content-Type: text/plain');
    echo "hello {$_POST['name']}, you are {$_POST['age']}\n";
    break;

case '/upload':
    $f = $_FILES['file'] ?? null;
    header('Content-Type: application/json');
    if ($f === null || $f['error'] !== UPLOAD_ERR_OK) {
        http_response_code(400);
        echo json_encode(['error' => $f['error'] ?? 'no file']);
        exit;
    }
    echo json_encode([
        'name' => $f['name'],
        'size' => filesize($f['tmp_name']),
        'sha256' => hash_file('sha256', $f['tmp_name']),
        'note' => $_POST['note'] ?? '',
    ]);
    break;

case '/go':
    header('Location: /post/7');
    break;

case '/log':
    error_log('hello from error_log ' . ($_GET['tag'] ?? ''));
    header('Content-Type: text/plain');
    echo "logged\n";
    break;

case '/stream':
    // One line, flushed; then wait (at most 10s) until the test says
    // it saw it, and the second line.
    header('Content-Type: text/plain');
    echo "first\n";
    flush();
    $marker = $_GET['marker'] ?? '';
    for ($i = 0; $i < 1000 && $marker !== '' && !file_exists($marker); $i++) {
        usleep(10000);
    }
    echo "second\n";
    break;

case '/ticker':
    // Writes until the client goes away (at most 20s); the shutdown
    // function records how the script ended: 1 is ABORTED.
    $done = $_GET['done'] ?? '';
    register_shutdown_function(function () use ($done) {
        if ($done !== '') {
            file_put_contents($done, (string) connection_status());
        }
    });
    header('Content-Type: text/plain');
    for ($i = 0; $i < 2000; $i++) {
        echo "tick $i " . str_repeat('.', 1000) . "\n";
        flush();
        usleep(10000);
    }
    break;

default:
    http_response_code(404);
    header('Content-Type: text/plain');
    echo "no route for $path\n";
}
