<?php
// What the script was told about itself.
header('Content-Type: application/json');
$keys = ['SCRIPT_NAME', 'SCRIPT_FILENAME', 'PATH_INFO', 'PATH_TRANSLATED', 'PHP_SELF',
    'REQUEST_URI', 'QUERY_STRING', 'DOCUMENT_ROOT', 'REDIRECT_STATUS', 'HTTPS',
    'REQUEST_METHOD', 'SERVER_SOFTWARE', 'GATEWAY_INTERFACE', 'APP_ENV', 'HTTP_X_TEST'];
$out = [];
foreach ($keys as $k) {
    $out[$k] = $_SERVER[$k] ?? null;
}
$out['__FILE__'] = __FILE__;
echo json_encode($out);
