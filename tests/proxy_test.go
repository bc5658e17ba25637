package tests

import (
	_ "httpd/modules/reverseproxy"
)

func init() {
	// TestReadmeExamples decodes modules/reverseproxy/README.md with
	// this module.
	readmeOwner["reverseproxy"] = "reverse_proxy"
}
