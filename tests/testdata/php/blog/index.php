<?php
header('Content-Type: text/plain');
echo "blog index at {$_SERVER['SCRIPT_NAME']}\n";
